import { isKeyNotFound, isNodeExist, isTestFailed } from '@etcdkit/client';
import { StaleTokenError } from './errors.js';
import type { RecipeKeys } from './keys.js';

/** What a {@link FencedKey} stores: the data and the token of the holder that wrote it. */
export interface FencedValue {
  readonly fence: number;
  readonly data: string;
}

/**
 * A key that only accepts writes from the newest lock holder: each write carries the holder's fencing token,
 * and a write with a token older than the stored one is refused with a {@link StaleTokenError}. This is what
 * makes a lock safe against a holder that paused past its TTL (Kleppmann's fencing argument): its late write
 * is refused instead of overwriting a newer holder's.
 */
export class FencedKey {
  readonly #keys: RecipeKeys;
  readonly #key: string;

  constructor(keys: RecipeKeys, key: string) {
    this.#keys = keys;
    this.#key = key;
  }

  /** Reads the stored value (quorum), or `undefined` when nothing was written yet. */
  async read(
    options: { signal?: AbortSignal } = {},
  ): Promise<(FencedValue & { modifiedIndex: number }) | undefined> {
    try {
      const response = await this.#keys.get(this.#key, { quorum: true, ...options });
      const value = JSON.parse(response.node!.value) as FencedValue;
      return { ...value, modifiedIndex: response.node!.modifiedIndex };
    } catch (error) {
      if (isKeyNotFound(error)) return undefined;
      throw error;
    }
  }

  /**
   * Writes `data` under fencing `token`, with compare-and-swap so that no concurrent write slips in between
   * the check and the write.
   *
   * @throws {StaleTokenError} when a newer token is stored.
   */
  async write(token: number, data: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    for (;;) {
      const current = await this.read(options);
      if (current && current.fence > token) throw new StaleTokenError(token, current.fence);
      const value = JSON.stringify({ fence: token, data } satisfies FencedValue);
      try {
        if (current) await this.#keys.set(this.#key, value, { prevIndex: current.modifiedIndex, ...options });
        else await this.#keys.create(this.#key, value, options);
        return;
      } catch (error) {
        // someone wrote in between: check the token again
        if (isTestFailed(error) || isNodeExist(error)) continue;
        throw error;
      }
    }
  }
}
