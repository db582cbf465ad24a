/**
 * A kept key's local validity deadline: when its last successful refresh (or its creation) was *sent*, plus its
 * lifetime (the TTL minus the session's margin). It is counted on this process's monotonic clock, before the
 * server can expire the key; when it passes without being pushed, `onPassed` runs (the key is then lost).
 */
export class ValidityDeadline {
  readonly #lifetimeMs: number;
  readonly #onPassed: () => void;
  #until: number;
  #timer: NodeJS.Timeout | undefined;

  /** Counts `lifetimeMs` from `sentAt` (`performance.now()`) and arms the deadline. */
  constructor(lifetimeMs: number, sentAt: number, onPassed: () => void) {
    this.#lifetimeMs = lifetimeMs;
    this.#onPassed = onPassed;
    this.#until = sentAt + lifetimeMs;
    this.#arm();
  }

  /** The deadline, in `performance.now()` time. */
  get until(): number {
    return this.#until;
  }

  /** True once the deadline has passed. */
  get passed(): boolean {
    return performance.now() >= this.#until;
  }

  /** A refresh sent at `sentAt` applied: counts the lifetime from then, and arms the deadline again. */
  push(sentAt: number): void {
    this.#until = sentAt + this.#lifetimeMs;
    this.#arm();
  }

  /** Disarms the deadline (the key was stopped or lost); `onPassed` no longer runs. */
  clear(): void {
    clearTimeout(this.#timer);
  }

  #arm(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(this.#onPassed, Math.max(0, this.#until - performance.now()));
    this.#timer.unref();
  }
}
