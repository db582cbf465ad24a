/**
 * The core's session: the TTL and refresh interval every kept key of a recipe shares, the validity margin, and
 * the set of keys it keeps (each a {@link SessionKey}, see `kept-key.ts`), stopped together by `close()`.
 */
import { ReleasedError } from '../errors.js';
import type { RecipeKeys } from '../keys.js';
import { type KeptKeyTiming, SessionKey } from './kept-key.js';
import type { KeptNode } from './own-writes.js';

/** Options of {@link Session}. */
export interface SessionOptions {
  /** TTL of the session's keys, in whole seconds. Default 15; at least 2. */
  readonly ttl?: number;
  /** How often each key is refreshed, in ms. Default a third of the TTL. */
  readonly refreshIntervalMs?: number;
  /**
   * The largest wall-clock difference expected between the etcd members this process writes through and the
   * etcd leader (or between any two members, when writes may reach any), in ms; it is added to the validity
   * margin, so loss is reported that much earlier. Default 0.
   *
   * This process's own clock plays no part: validity is counted with `performance.now()` (monotonic) from when
   * each refresh was sent. But etcd v2 stamps a key's expiration with the wall clock of the member that
   * received the write (`now + ttl`), and the leader expires keys by its own wall clock: a key refreshed
   * through a member whose clock is X ms behind the leader's expires X ms early (a leader whose clock is
   * ahead expires every key early). A skew larger than the margin lets another contender take the key while
   * this one still believes it holds it: fencing tokens (`FencedKey`) keep that harmless.
   */
  readonly maxClockSkewMs?: number;
}

/**
 * Keeps keys alive with TTL refreshes (`refresh=true`, which wakes no watcher) and tells when one can no
 * longer be trusted, **before** the server can expire it: each key has a local validity deadline, the time
 * its last successful refresh was *sent* plus the TTL minus a margin (10% of the TTL, at least 500 ms, plus
 * the clock skew). When the deadline passes without a successful refresh, or the server answers that the key
 * is gone or changed, the key's `signal` aborts with a {@link SessionLostError}. Each kept key is also
 * watched (one long-poll, idle while nothing happens): a delete, an expiry or a change that is not one of
 * the key's own writes loses it at once, not at the next refresh. A lost key is never re-created.
 *
 * Every write of a kept key (refresh, {@link SessionKey.modify}, {@link SessionKey.remove}) is a
 * compare-and-swap on its modifiedIndex sent `retrySafe`: when an attempt is stuck on a slow, frozen or
 * leaderless member, the client also sends it to another member after its `retrySafeTimeout` (hedged: the
 * first reply wins), and no timeout of the session's own cuts a refresh short (the validity deadline alone decides loss). A repeat may meet the late
 * effect of its own first attempt (error 101): the key is then read again and adopted when it still has its
 * createdIndex and a value of ours, which only a write of ours can have given it. The validity deadline is only
 * ever pushed by a refresh whose own reply says it applied. A key kept this way survives one stuck member while
 * `refreshIntervalMs + retrySafeTimeout` (plus a round trip) stays under the TTL minus the margin.
 */
export class Session implements AsyncDisposable {
  readonly keys: RecipeKeys;
  /** TTL in seconds. */
  readonly ttl: number;
  readonly #timing: KeptKeyTiming;
  readonly #kept = new Set<SessionKey>();
  readonly #closing = new AbortController();

  constructor(keys: RecipeKeys, options: SessionOptions = {}) {
    const ttl = options.ttl ?? 15;
    if (!Number.isInteger(ttl) || ttl < 2)
      throw new RangeError(`ttl must be a whole number of seconds >= 2, got ${ttl}`);
    this.keys = keys;
    this.ttl = ttl;
    const refreshMs = Math.round(options.refreshIntervalMs ?? (ttl * 1000) / 3);
    const marginMs = Math.max(500, ttl * 100) + (options.maxClockSkewMs ?? 0);
    if (refreshMs >= ttl * 1000 - marginMs) {
      throw new RangeError(
        `refreshIntervalMs must be well under the TTL (${ttl} s minus a ${marginMs} ms margin)`,
      );
    }
    this.#timing = { refreshMs, marginMs };
  }

  /**
   * Starts keeping `key` alive and watching it. `node` is the key as the write that created it (or a read)
   * returned it; `sentAt` is when the request that created or last refreshed it was sent
   * (`performance.now()`), from which its validity is counted. Its createdIndex tells the key from one created
   * again at the same path, and its value (when given) lets the session recognise the late effect of one of
   * its own writes after an ambiguous reply (see {@link Session}); without the value such a reply loses the key.
   */
  keep(key: string, node: KeptNode, sentAt: number): SessionKey;
  /**
   * Starts keeping `key` alive and watching it, knowing only its indexes (`createdIndex` defaults to
   * `modifiedIndex`: a key just created). Prefer the form that takes the node with its value.
   */
  keep(key: string, modifiedIndex: number, sentAt: number, createdIndex?: number): SessionKey;
  keep(key: string, node: KeptNode | number, sentAt: number, createdIndex?: number): SessionKey {
    const identity: KeptNode =
      typeof node === 'number' ? { modifiedIndex: node, createdIndex: createdIndex ?? node } : node;
    const kept = SessionKey.create(this, key, identity, sentAt, this.#timing, () => this.#kept.delete(kept));
    this.#kept.add(kept);
    // a key made while the session closed (its create was in flight): not kept, and its holder told so
    if (this.closed) void kept.stop();
    return kept;
  }

  /**
   * Creates `key` with `value` and the session's TTL (it must not exist yet: error 105 otherwise, passed on)
   * and keeps it alive, its validity counted from when the create was sent. A create is one-shot: a lost reply
   * passes on (the key, if it was made, expires by its TTL).
   *
   * @throws {ReleasedError} (`closed`) once the session is closed: nothing is sent.
   */
  async create(
    key: string,
    value: string,
    options: { readonly signal?: AbortSignal } = {},
  ): Promise<SessionKey> {
    if (this.closed) throw new ReleasedError(key, 'closed');
    const sentAt = performance.now();
    const response = await this.keys.create(key, value, {
      ttl: this.ttl,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    return this.keep(key, response.node!, sentAt);
  }

  /** True once {@link close} was called. */
  get closed(): boolean {
    return this.#closing.signal.aborted;
  }

  /** Aborts when {@link close} is called (for a wait outside etcd that the close must end). */
  get closing(): AbortSignal {
    return this.#closing.signal;
  }

  /**
   * Stops keeping every key (they expire by TTL unless deleted; see {@link SessionKey.stop}). For good: a key
   * kept later is stopped at once, and {@link create} refuses. Idempotent.
   */
  async close(): Promise<void> {
    this.#closing.abort();
    await Promise.all([...this.#kept].map((kept) => kept.stop()));
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
