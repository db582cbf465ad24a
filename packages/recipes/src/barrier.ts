import { isKeyNotFound, isNodeExist } from '@etcdkit/client';
import type { SessionKey } from './core/kept-key.js';
import { Session } from './core/session.js';
import { GONE_ACTIONS } from './core/wait.js';
import { watchUntil } from './core/watch-until.js';
import { RecipeError } from './errors.js';
import type { RecipeKeys } from './keys.js';

/** Options of {@link Barrier}. */
export interface BarrierOptions {
  /**
   * Keep the barrier key alive with this TTL (whole seconds), so that a holder that crashes cannot block the
   * waiters forever. Default: no TTL (the barrier stays until released).
   */
  readonly ttl?: number;
}

/** The barrier is already held by someone. */
export class BarrierHeldError extends RecipeError {
  override name = 'BarrierHeldError';
  override readonly code = 'ETCDKIT_BARRIER_HELD';
}

/**
 * A barrier: while one process holds it, everyone who waits blocks; releasing it wakes them all at once
 * (a broadcast, on purpose). Waits survive error 401 and failed watches (they re-read); a member that stops
 * answering is left by the client's liveness check, so no timer re-reads while nothing happens.
 */
export class Barrier implements AsyncDisposable {
  readonly #keys: RecipeKeys;
  readonly #key: string;
  readonly #ttl: number | undefined;
  #session: Session | undefined;
  #kept: SessionKey | undefined;
  /** Set by {@link Barrier.close}: what is held is no longer kept alive; a new hold clears it. */
  #closed = false;

  constructor(keys: RecipeKeys, key: string, options: BarrierOptions = {}) {
    this.#keys = keys;
    this.#key = key;
    this.#ttl = options.ttl;
  }

  /**
   * Puts the barrier up.
   *
   * @throws {BarrierHeldError} when it is up already.
   */
  async hold(options: { signal?: AbortSignal } = {}): Promise<void> {
    const value = JSON.stringify({ pid: process.pid });
    try {
      if (this.#ttl) {
        this.#closed = false;
        // a session closed by close() keeps nothing more: a hold after it has a session of its own
        if (!this.#session || this.#session.closed)
          this.#session = new Session(this.#keys, { ttl: this.#ttl });
        this.#kept = await this.#session.create(this.#key, value, options);
      } else await this.#keys.create(this.#key, value, options.signal ? { signal: options.signal } : {});
    } catch (error) {
      if (isNodeExist(error)) {
        throw new BarrierHeldError(`barrier ${this.#key} is already held`, { cause: error });
      }
      throw error;
    }
  }

  /**
   * While this barrier is held with a TTL: aborts, with a `SessionLostError`, as soon as its key is lost
   * (deleted by someone else, expired, or no longer kept alive), as a held lock's signal does; not on a
   * release. `undefined` when it is not held here (released, too), held without a TTL (nothing keeps it
   * alive), or after {@link Barrier.close} (the key is then left to expire).
   */
  get signal(): AbortSignal | undefined {
    return this.#closed ? undefined : this.#kept?.signal;
  }

  /** Takes the barrier down, waking every waiter. Releasing a barrier that is down does nothing. */
  async release(options: { signal?: AbortSignal } = {}): Promise<void> {
    const kept = this.#kept;
    this.#kept = undefined;
    if (kept) {
      await kept.remove(options);
      return;
    }
    try {
      await this.#keys.delete(this.#key, options.signal ? { signal: options.signal } : {});
    } catch (error) {
      if (!isKeyNotFound(error)) throw error;
    }
  }

  /**
   * Stops keeping a barrier this one holds with a TTL alive (it then comes down when the TTL runs out, unless
   * released first: a release after the close deletes it only if it is still this holder's); a barrier without
   * a TTL stays up. Idempotent.
   */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#session?.close();
  }

  /** {@link Barrier.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * Resolves when the barrier is down (at once if it is not up). A transient failure (no member answered) is
   * retried; an abort rejects with `signal.reason`, a closed client with its `ClientClosedError`.
   */
  async wait(options: { signal?: AbortSignal } = {}): Promise<void> {
    const key = this.#key;
    const keys = this.#keys;
    await watchUntil<{ up: boolean; index: number }, void>(keys, {
      signal: options.signal,
      read: async (signal) => {
        try {
          return {
            up: true,
            index: (await keys.get(key, { quorum: true, ...(signal ? { signal } : {}) })).index,
          };
        } catch (error) {
          if (isKeyNotFound(error)) return { up: false, index: error.index };
          throw error;
        }
      },
      // no watchdog: the client moves a watch off a member that stops answering (its liveness check)
      decide: ({ up }) => (up ? { done: false, watch: { key } } : { done: true, value: undefined }),
      learn: (state, event) =>
        event && GONE_ACTIONS.has(event.action) ? { up: false, index: state.index } : undefined,
    });
  }
}
