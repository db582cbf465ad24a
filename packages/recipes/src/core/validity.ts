/**
 * A kept key's local validity deadline: when its last successful refresh (or its creation) was *sent*, plus its
 * lifetime (the TTL minus the session's margin). It is counted on this process's monotonic clock, before the
 * server can expire the key; when it passes without being pushed, `onPassed` runs (the key is then lost).
 *
 * The check runs in the event loop's check phase (`setImmediate`) after the timer's: after the loop was blocked
 * past the deadline (a long synchronous task), timers run before any I/O, and a refresh whose reply arrived in
 * time would otherwise count as lost. Its push, read in the poll phase between, comes first.
 */
export class ValidityDeadline {
  readonly #lifetimeMs: number;
  readonly #onPassed: () => void;
  #until: number;
  #timer: NodeJS.Timeout | undefined;
  #check: NodeJS.Immediate | undefined;

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
    clearImmediate(this.#check);
  }

  #arm(): void {
    this.clear();
    this.#timer = setTimeout(
      () => {
        this.#check = setImmediate(() => {
          if (this.passed) this.#onPassed();
          else this.#arm();
        });
      },
      Math.max(0, this.#until - performance.now()),
    );
    this.#timer.unref();
  }
}
