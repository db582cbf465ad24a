import type { EtcdError, KeysAPI, Node } from '@etcdkit/client';
import { SessionLostError } from './errors.js';
import { isOwn } from './internal/identity.js';

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
 *
 * Refreshes are compare-and-swaps on `prevIndex`, sent `retrySafe`: one stuck on a slow or frozen member is
 * abandoned after the client's `retrySafeTimeout` and repeated on another member, and only the deadline
 * decides loss. A key therefore survives one stuck member while `refreshIntervalMs + retrySafeTimeout` (plus
 * a round trip) stays under the TTL minus the margin.
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
   * `identity` (the key's createdIndex and value) lets the session recognise its own key when a reply is
   * ambiguous: a refresh that failed over to another member may meet the late effect of its own first attempt
   * (error 101), and is then re-read instead of counted as lost. Without it, such a key is counted as lost.
   */
  keep(key: string, modifiedIndex: number, sentAt: number, identity: KeyIdentity = {}): SessionKey {
    const kept = SessionKey.create(
      this,
      key,
      modifiedIndex,
      sentAt,
      this.#refreshMs,
      this.#marginMs,
      identity,
      () => this.#kept.delete(kept),
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

/**
 * What tells a session's own key from one written by someone else, after an ambiguous reply: the key's
 * createdIndex (changed by a delete and re-create, or a plain `set`, but not by a refresh or a
 * compare-and-swap) and its value (changed by a compare-and-swap).
 */
export interface KeyIdentity {
  /** The key's createdIndex. */
  readonly createdIndex?: number;
  /** The key's value. */
  readonly value?: string;
}

/** Options of {@link SessionKey.modify}. */
export interface ModifyOptions {
  /**
   * The value the write stores. With it, a write that fails over to another member and meets the late effect
   * of its own first attempt (error 101) re-reads the key and counts as done when the key holds this value
   * (and its createdIndex is unchanged), instead of losing the key.
   */
  readonly value?: string;
}

/** One key kept alive by a {@link Session}. */
export class SessionKey {
  readonly key: string;
  readonly #session: Session;
  readonly #controller = new AbortController();
  /** Aborted by {@link stop}: a refresh or write in flight must not hold up a release. */
  readonly #stopController = new AbortController();
  readonly #refreshMs: number;
  readonly #marginMs: number;
  readonly #onStop: () => void;
  #modifiedIndex: number;
  #createdIndex: number | undefined;
  /** The values the key may hold: the last one confirmed, plus those of writes whose outcome is unknown. */
  #values: string[] | undefined;
  /** When the first write since the last confirmed one was sent: any late effect of ours is younger. */
  #unconfirmedSince: number | undefined;
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
    identity: KeyIdentity,
    onStop: () => void,
  ): SessionKey {
    return new SessionKey(session, key, modifiedIndex, sentAt, refreshMs, marginMs, identity, onStop);
  }

  private constructor(
    session: Session,
    key: string,
    modifiedIndex: number,
    sentAt: number,
    refreshMs: number,
    marginMs: number,
    identity: KeyIdentity,
    onStop: () => void,
  ) {
    this.#session = session;
    this.key = key;
    this.#modifiedIndex = modifiedIndex;
    this.#createdIndex = identity.createdIndex;
    this.#values = identity.value === undefined ? undefined : [identity.value];
    this.#refreshMs = refreshMs;
    this.#marginMs = marginMs;
    this.#onStop = onStop;
    this.#validUntil = sentAt + session.ttl * 1000 - marginMs;
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

  /** The key's createdIndex, when known (given to {@link Session.keep}, or learnt from a refresh). */
  get createdIndex(): number | undefined {
    return this.#createdIndex;
  }

  /** True while the key is within its local validity deadline and not lost. */
  get valid(): boolean {
    return !this.#controller.signal.aborted && performance.now() < this.#validUntil;
  }

  /**
   * Stops refreshing, without deleting the key. A refresh or {@link modify} write in flight is abandoned (its
   * late effect, if any, only changes the key's modifiedIndex, which a delete by createdIndex copes with), so
   * a slow member cannot delay a release. Idempotent.
   */
  async stop(): Promise<void> {
    if (!this.#stopped) {
      this.#stopped = true;
      clearTimeout(this.#timer);
      clearTimeout(this.#deadline);
      this.#stopController.abort();
      this.#onStop();
    }
    await this.#inFlight;
  }

  /**
   * Changes the key while no refresh is in flight: `write` gets the current modifiedIndex (to use as
   * `prevIndex`) and a signal that aborts when the key is stopped, and returns the new modifiedIndex, which
   * later refreshes then use. A write the server refuses with 100, or with 101 when the key is not found
   * holding `options.value` (see {@link ModifyOptions.value}), loses the key.
   */
  modify(
    write: (modifiedIndex: number, signal: AbortSignal) => Promise<number>,
    options: ModifyOptions = {},
  ): Promise<void> {
    const run = this.#inFlight.then(async () => {
      if (this.#controller.signal.aborted) throw this.#controller.signal.reason;
      if (this.#stopped) throw new SessionLostError(this.key, 'the key is no longer kept (stopped)');
      const { value } = options;
      this.#unconfirmedSince ??= performance.now();
      for (let attempt = 1; ; attempt++) {
        if (value !== undefined && this.#values && !this.#values.includes(value)) this.#values.push(value);
        try {
          this.#modifiedIndex = await write(this.#modifiedIndex, this.#stopController.signal);
          if (value !== undefined) this.#values = [value];
          this.#unconfirmedSince = undefined;
          return;
        } catch (error) {
          const code = (error as EtcdError).errorCode;
          if (code === 101 && value !== undefined && attempt < 3) {
            // Maybe the late effect of our own earlier attempt (or of an earlier refresh): the key tells.
            const own = await this.#reread().catch(() => undefined);
            if (own?.value === value) {
              this.#unconfirmedSince = undefined;
              return;
            }
            if (own) continue; // still ours, at a newer index: write again
          }
          if (code === 100 || code === 101)
            this.lose('the key was deleted or changed by someone else', error);
          throw error;
        }
      }
    });
    this.#inFlight = run.catch(() => {});
    return run;
  }

  /** Marks the key lost now (e.g. a watcher saw it deleted). */
  lose(why: string, cause?: unknown): void {
    if (this.#controller.signal.aborted) return;
    this.#controller.abort(new SessionLostError(this.key, why, cause === undefined ? undefined : { cause }));
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

  /** A write sent at `sentAt` (or earlier, unconfirmed) renewed the TTL: push the validity deadline. */
  #renewed(sentAt: number): void {
    const until = sentAt + this.#session.ttl * 1000 - this.#marginMs;
    if (until > this.#validUntil) this.#validUntil = until;
    this.#unconfirmedSince = undefined;
    this.#armDeadline();
  }

  /**
   * After a 101: reads the key (quorum) and, when it is still ours (same createdIndex, a value we wrote or may
   * have written), adopts its modifiedIndex and value: the change was the late effect of one of our own writes.
   * Resolves to the node when ours, `undefined` when not (the key is then gone or someone else's).
   */
  async #reread(): Promise<Node | undefined> {
    let node: Node | undefined;
    try {
      node = (await this.#session.keys.get(this.key, { quorum: true, signal: this.#stopController.signal }))
        .node;
    } catch (error) {
      if ((error as EtcdError).errorCode === 100) return undefined;
      throw error;
    }
    if (!node || !isOwn(node, this.#createdIndex, this.#values)) return undefined;
    this.#modifiedIndex = node.modifiedIndex;
    this.#values = [node.value];
    return node;
  }

  async #refresh(): Promise<void> {
    if (this.#stopped) return;
    const sentAt = performance.now();
    this.#unconfirmedSince ??= sentAt;
    try {
      // retrySafe: a CAS on prevIndex, so an attempt stuck on a slow or frozen member is abandoned and the
      // refresh moves to another member; no deadline of our own cuts it short (the validity deadline decides).
      const response = await this.#session.keys.set(this.key, '', {
        ttl: this.#session.ttl,
        refresh: true,
        prevExist: true,
        prevIndex: this.#modifiedIndex,
        retrySafe: true,
        signal: this.#stopController.signal,
      });
      const node = response.node;
      if (node) {
        this.#modifiedIndex = node.modifiedIndex;
        this.#createdIndex ??= node.createdIndex;
        this.#values = [node.value];
      }
      if (this.#stopped) return;
      this.#renewed(sentAt);
      this.#schedule(this.#refreshMs);
    } catch (error) {
      if (this.#stopped) return;
      const code = (error as EtcdError).errorCode;
      if (code === 100) {
        this.lose('the key is gone', error);
        return;
      }
      if (code === 101) {
        // Maybe our own earlier attempt, applied late by a member we left: the key tells.
        const since = this.#unconfirmedSince ?? sentAt;
        const own = await this.#reread().then(
          (node) => (node ? 'own' : 'foreign'),
          () => 'unknown',
        );
        if (this.#stopped) return;
        if (own === 'foreign') {
          this.lose('the key was changed by someone else', error);
          return;
        }
        if (own === 'own') {
          // Renewed by a write of ours sent no earlier than `since`.
          this.#renewed(since);
          this.#schedule(this.#refreshMs);
          return;
        }
      }
      // At risk: try again soon; the deadline decides when it is lost.
      this.#schedule(Math.min(250, this.#refreshMs / 2));
    }
  }
}
