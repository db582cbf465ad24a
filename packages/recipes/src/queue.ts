import { readDir } from './core/read-dir.js';
import { isPermanent, RetryPacing } from './core/retry.js';
import { CLAIM_TTL_S, LISTING_FRESH_MS, takeOnce } from './core/take-once.js';
import { sleep } from './core/wait.js';
import { watchUntil } from './core/watch-until.js';
import type { RecipeKeys } from './keys.js';

/** A read of the queue: its items (with their modified index, for the compare-and-delete), as of `index`. */
interface Listing {
  readonly items: (QueueItem & { readonly modifiedIndex: number })[];
  readonly index: number;
  /** When the read was asked for (`performance.now()`; it is sent then or later): see `LISTING_FRESH_MS`. */
  readonly listedAt: number;
}

/** Options of {@link Queue}. */
export interface QueueOptions {
  /**
   * How long a `take` waits on a silent watch before it reads again, in ms. Default: no such re-read (the
   * client moves a watch off a member that stops answering, `ClientConfig.watchLivenessInterval`); set it for a
   * client whose liveness check is off.
   */
  readonly watchdogMs?: number;
}

/** An item taken from a {@link Queue}. */
export interface QueueItem {
  readonly value: string;
  /** The item's key (its name is the store index it was put at). */
  readonly key: string;
  readonly createdIndex: number;
}

/**
 * A FIFO work queue: `put` appends an in-order key; `take` claims the oldest item not claimed by another
 * taker (a hidden key beside it, `_claims/<name>`, with a TTL of 30 s) and removes it with a
 * compare-and-delete, sent again until its outcome is known, so that each item goes to exactly one taker even
 * when a reply is lost; it blocks (abortably) while the queue is empty. An item whose taker died between its
 * claim and its delete is skipped by the others until the claim lapses.
 */
export class Queue implements AsyncDisposable {
  readonly #keys: RecipeKeys;
  readonly #dir: string;
  readonly #watchdogMs: number | undefined;
  /** Aborted by {@link close}: ends every `take` waiting, and refuses later calls. */
  readonly #closed = new AbortController();

  constructor(keys: RecipeKeys, name: string, options: QueueOptions = {}) {
    this.#keys = keys;
    this.#dir = name.replace(/\/+$/, '');
    this.#watchdogMs = options.watchdogMs;
  }

  /** Appends an item; `ttl` (whole seconds) makes it expire if nobody takes it in time. */
  async put(value: string, options: { ttl?: number; signal?: AbortSignal } = {}): Promise<QueueItem> {
    this.#closed.signal.throwIfAborted();
    const response = await this.#keys.createInOrder(this.#dir, value, options);
    return { value, key: response.node!.key, createdIndex: response.node!.createdIndex };
  }

  /**
   * Removes and returns the oldest item not claimed by another taker, waiting while there is none. Rejects with
   * `signal.reason` on abort: an abort just after a delete whose reply was lost can leave the item removed and
   * returned to nobody (so can a delete failing for 15 s on end). A closed client rejects with its
   * `ClientClosedError`, etcd's own error with that error; a read that no member answered is tried again after
   * 100 ms, for as long as it takes: pass a `signal` to bound the wait. {@link close} ends it as an abort does,
   * with an `AbortError` (`queue closed`).
   */
  async take(options: { signal?: AbortSignal } = {}): Promise<QueueItem> {
    const closed = this.#closed.signal;
    const signal = options.signal ? AbortSignal.any([options.signal, closed]) : closed;
    signal.throwIfAborted();
    return watchUntil<Listing, QueueItem>(this.#keys, {
      signal,
      read: async (at) => {
        const listedAt = performance.now();
        return { ...(await this.#list(at)), listedAt };
      },
      decide: async ({ items, listedAt }) => {
        let claimed = false;
        for (const item of items) {
          // a listing this old is read again (see LISTING_FRESH_MS)
          if (performance.now() - listedAt > LISTING_FRESH_MS) return { done: false, reread: true };
          try {
            const outcome = await takeOnce(this.#keys, item.key, item.modifiedIndex, listedAt, signal);
            if (outcome === 'taken') {
              const { modifiedIndex: _, ...taken } = item;
              return { done: true, value: taken };
            }
            claimed ||= outcome === 'claimed';
          } catch (error) {
            if (signal?.aborted) throw signal.reason;
            if (isPermanent(error)) throw error;
            // no member answered the claim: try the next one after a pause
            await sleep(RetryPacing.transientPauseMs, signal);
          }
        }
        // every item went to others meanwhile: read again
        if (items.length > 0 && !claimed) return { done: false, reread: true };
        // nothing to take: wait for a change. Items claimed by others are soon deleted by them (an event), or
        // free again when the claim lapses, which no event tells (claims are hidden): wait at most that long
        const lapse = claimed ? CLAIM_TTL_S * 1000 : undefined;
        const watchdogMs =
          lapse === undefined
            ? this.#watchdogMs
            : Math.min(lapse, this.#watchdogMs ?? Number.POSITIVE_INFINITY);
        return { done: false, watch: { key: this.#dir, recursive: true, watchdogMs } };
      },
    });
  }

  /**
   * Ends every {@link take} waiting (each rejects with an `AbortError`, `queue closed`) and refuses later `put`
   * and `take` calls with it. Items already put stay in etcd, except that a take ended in the middle of its
   * claim and delete is as in doubt as an aborted one (see {@link take}). Idempotent.
   */
  async close(): Promise<void> {
    this.#closed.abort(new DOMException('queue closed', 'AbortError'));
  }

  /** {@link close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** The number of items waiting (a quorum read). */
  async size(options: { signal?: AbortSignal } = {}): Promise<number> {
    return (await this.#list(options.signal)).items.length;
  }

  async #list(signal: AbortSignal | undefined): Promise<Omit<Listing, 'listedAt'>> {
    const { nodes, index } = await readDir(this.#keys, this.#dir, signal);
    const items = nodes.map((node) => ({
      value: node.value,
      key: node.key,
      createdIndex: node.createdIndex,
      modifiedIndex: node.modifiedIndex,
    }));
    return { items, index };
  }
}
