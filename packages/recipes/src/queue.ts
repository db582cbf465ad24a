import { isEtcdError } from '@etcdkit/client';
import { readDir } from './core/read-dir.js';
import { RetryPacing } from './core/retry.js';
import { sleep, waitForEvent } from './core/wait.js';
import type { RecipeKeys } from './keys.js';

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
 * A FIFO work queue: `put` appends an in-order key; `take` removes the oldest item with a compare-and-delete,
 * so that each item goes to exactly one taker, and blocks (abortably) while the queue is empty.
 */
export class Queue {
  readonly #keys: RecipeKeys;
  readonly #dir: string;
  readonly #watchdogMs: number | undefined;

  constructor(keys: RecipeKeys, name: string, options: QueueOptions = {}) {
    this.#keys = keys;
    this.#dir = name.replace(/\/+$/, '');
    this.#watchdogMs = options.watchdogMs;
  }

  /** Appends an item; `ttl` (whole seconds) makes it expire if nobody takes it in time. */
  async put(value: string, options: { ttl?: number; signal?: AbortSignal } = {}): Promise<QueueItem> {
    const response = await this.#keys.createInOrder(this.#dir, value, options);
    return { value, key: response.node!.key, createdIndex: response.node!.createdIndex };
  }

  /** Removes and returns the oldest item, waiting while the queue is empty. Rejects with `signal.reason` on abort. */
  async take(options: { signal?: AbortSignal } = {}): Promise<QueueItem> {
    const { signal } = options;
    for (;;) {
      signal?.throwIfAborted();
      const { items, index } = await this.#list(signal);
      for (const item of items) {
        try {
          const response = await this.#keys.delete(item.key, {
            prevIndex: item.modifiedIndex,
            ...(signal ? { signal } : {}),
          });
          return {
            value: response.prevNode?.value ?? item.value,
            key: item.key,
            createdIndex: item.createdIndex,
          };
        } catch (error) {
          if (signal?.aborted) throw signal.reason;
          // taken by someone else (100) or changed (101): try the next one
          if (!isEtcdError(error)) await sleep(RetryPacing.transientPauseMs, signal);
        }
      }
      if (items.length === 0) {
        await waitForEvent(this.#keys, this.#dir, {
          afterIndex: index,
          recursive: true,
          signal,
          watchdogMs: this.#watchdogMs,
        });
      }
    }
  }

  /** The number of items waiting (a quorum read). */
  async size(options: { signal?: AbortSignal } = {}): Promise<number> {
    return (await this.#list(options.signal)).items.length;
  }

  async #list(
    signal: AbortSignal | undefined,
  ): Promise<{ items: (QueueItem & { modifiedIndex: number })[]; index: number }> {
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
