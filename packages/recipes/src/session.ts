import type { EtcdError, KeysAPI } from '@etcdkit/client';
import { SessionLostError } from './errors.js';
import { publishAtRisk, publishLost } from './internal/channels.js';

/** The keys this process keeps alive right now (for the election's `self`: is that leader one of ours?). */
const keptHere = new Set<string>();

/** Whether `key` is kept alive by a session of this process (created by it, not stopped, not lost). */
export function isKeptHere(key: string): boolean {
  return keptHere.has(key);
}

/** Options of {@link Session}. */
export interface SessionOptions {
  /** TTL of the session's keys, in whole seconds. Default 15; at least 2. */
  readonly ttl?: number;
  /** How often each key is refreshed, in ms. Default a third of the TTL. */
  readonly refreshIntervalMs?: number;
  /**
   * The largest clock difference expected between this process and the etcd leader, in ms; it shortens the
   * local validity deadline. Default 0 (TTLs are measured by the server's clock, refresh times by ours).
   */
  readonly maxClockSkewMs?: number;
}

/**
 * Keeps keys alive with TTL refreshes (`refresh=true`, which wakes no watcher) and tells when one can no
 * longer be trusted, **before** the server can expire it: each key has a local validity deadline, the time
 * its last successful refresh was *sent* plus the TTL minus a margin (10% of the TTL, at least 500 ms, plus
 * the clock skew). When the deadline passes without a successful refresh, or the server answers that the key
 * is gone or changed, the key's `signal` aborts with a {@link SessionLostError}. A lost key is never
 * re-created.
 */
export class Session implements AsyncDisposable {
  readonly keys: KeysAPI;
  /** TTL in seconds. */
  readonly ttl: number;
  readonly #refreshMs: number;
  readonly #marginMs: number;
  readonly #kept = new Set<SessionKey>();

  constructor(keys: KeysAPI, options: SessionOptions = {}) {
    const ttl = options.ttl ?? 15;
    if (!Number.isInteger(ttl) || ttl < 2)
      throw new RangeError(`ttl must be a whole number of seconds >= 2, got ${ttl}`);
    this.keys = keys;
    this.ttl = ttl;
    this.#refreshMs = Math.round(options.refreshIntervalMs ?? (ttl * 1000) / 3);
    this.#marginMs = Math.max(500, ttl * 100) + (options.maxClockSkewMs ?? 0);
    if (this.#refreshMs >= ttl * 1000 - this.#marginMs) {
      throw new RangeError(
        `refreshIntervalMs must be well under the TTL (${ttl} s minus a ${this.#marginMs} ms margin)`,
      );
    }
  }

  /**
   * Starts keeping `key` alive. `modifiedIndex` is its current index; `sentAt` is when the request that
   * created or last refreshed it was sent (`performance.now()`), from which its validity is counted.
   */
  keep(key: string, modifiedIndex: number, sentAt: number): SessionKey {
    const kept = SessionKey.create(this, key, modifiedIndex, sentAt, this.#refreshMs, this.#marginMs, () =>
      this.#kept.delete(kept),
    );
    this.#kept.add(kept);
    return kept;
  }

  /** Stops keeping every key (they expire by TTL unless deleted). Idempotent. */
  async close(): Promise<void> {
    await Promise.all([...this.#kept].map((kept) => kept.stop()));
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** One key kept alive by a {@link Session}. */
export class SessionKey {
  readonly key: string;
  readonly #session: Session;
  readonly #controller = new AbortController();
  readonly #refreshMs: number;
  readonly #marginMs: number;
  readonly #onStop: () => void;
  #modifiedIndex: number;
  #validUntil: number;
  #timer: NodeJS.Timeout | undefined;
  #deadline: NodeJS.Timeout | undefined;
  #inFlight: Promise<void> = Promise.resolve();
  #stopped = false;

  /** @internal Use {@link Session.keep}. */
  static create(
    session: Session,
    key: string,
    modifiedIndex: number,
    sentAt: number,
    refreshMs: number,
    marginMs: number,
    onStop: () => void,
  ): SessionKey {
    return new SessionKey(session, key, modifiedIndex, sentAt, refreshMs, marginMs, onStop);
  }

  private constructor(
    session: Session,
    key: string,
    modifiedIndex: number,
    sentAt: number,
    refreshMs: number,
    marginMs: number,
    onStop: () => void,
  ) {
    this.#session = session;
    this.key = key;
    this.#modifiedIndex = modifiedIndex;
    this.#refreshMs = refreshMs;
    this.#marginMs = marginMs;
    this.#onStop = onStop;
    this.#validUntil = sentAt + session.ttl * 1000 - marginMs;
    keptHere.add(key);
    this.#armDeadline();
    this.#schedule(refreshMs);
  }

  /** Aborts (with a {@link SessionLostError}) as soon as the key can no longer be trusted. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** The key's current modifiedIndex (it changes with each refresh). */
  get modifiedIndex(): number {
    return this.#modifiedIndex;
  }

  /** True while the key is within its local validity deadline and not lost. */
  get valid(): boolean {
    return !this.#controller.signal.aborted && performance.now() < this.#validUntil;
  }

  /** Stops refreshing (waiting for a refresh in flight), without deleting the key. Idempotent. */
  async stop(): Promise<void> {
    if (!this.#stopped) {
      this.#stopped = true;
      clearTimeout(this.#timer);
      clearTimeout(this.#deadline);
      keptHere.delete(this.key);
      this.#onStop();
    }
    await this.#inFlight;
  }

  /**
   * Changes the key while no refresh is in flight: `write` gets the current modifiedIndex (to use as
   * `prevIndex`) and returns the new one, which later refreshes then use. A write the server refuses with
   * 100 or 101 loses the key.
   */
  modify(write: (modifiedIndex: number) => Promise<number>): Promise<void> {
    const run = this.#inFlight.then(async () => {
      if (this.#controller.signal.aborted) throw this.#controller.signal.reason;
      try {
        this.#modifiedIndex = await write(this.#modifiedIndex);
      } catch (error) {
        const code = (error as EtcdError).errorCode;
        if (code === 100 || code === 101) this.lose('the key was deleted or changed by someone else', error);
        throw error;
      }
    });
    this.#inFlight = run.catch(() => {});
    return run;
  }

  /**
   * Marks the key lost now (e.g. a watcher saw it deleted). Published as `lost` unless the key was stopped
   * first (released, resigned, closed: its removal is no loss).
   */
  lose(why: string, cause?: unknown): void {
    if (this.#controller.signal.aborted) return;
    const error = new SessionLostError(this.key, why, cause === undefined ? undefined : { cause });
    if (!this.#stopped) publishLost(this.key, why, error);
    this.#controller.abort(error);
    void this.stop();
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#inFlight = this.#inFlight.then(() => this.#refresh());
    }, ms);
    this.#timer.unref();
  }

  #armDeadline(): void {
    clearTimeout(this.#deadline);
    this.#deadline = setTimeout(
      () => this.lose('no successful refresh before its validity deadline'),
      Math.max(0, this.#validUntil - performance.now()),
    );
    this.#deadline.unref();
  }

  async #refresh(): Promise<void> {
    if (this.#stopped) return;
    const sentAt = performance.now();
    try {
      const response = await this.#session.keys.set(this.key, '', {
        ttl: this.#session.ttl,
        refresh: true,
        prevExist: true,
        prevIndex: this.#modifiedIndex,
        signal: AbortSignal.timeout(Math.max(200, Math.round(this.#refreshMs))),
      });
      // Even when stopped meanwhile: the key changed, and a release deletes it with this index.
      this.#modifiedIndex = response.node?.modifiedIndex ?? this.#modifiedIndex;
      if (this.#stopped) return;
      this.#validUntil = sentAt + this.#session.ttl * 1000 - this.#marginMs;
      this.#armDeadline();
      this.#schedule(this.#refreshMs);
    } catch (error) {
      if (this.#stopped) return;
      const code = (error as EtcdError).errorCode;
      if (code === 100 || code === 101) {
        this.lose(code === 100 ? 'the key is gone' : 'the key was changed by someone else', error);
        return;
      }
      // At risk: try again soon; the deadline decides when it is lost.
      publishAtRisk(this.key, error, this.#validUntil);
      this.#schedule(Math.min(250, this.#refreshMs / 2));
    }
  }
}
