import { EtcdError, type KeysAPI } from '@etcdkit/client';
import { sleep } from './wait.js';

/** What {@link deleteOwn} does after a failed attempt. */
export type DeleteStep = 'done' | 'reread' | 'retry';

/**
 * What a failed delete of our own key (`prevIndex`, sent `retrySafe`) means. It may have been repeated on
 * another member after a first attempt that a slow member applied late, so:
 * - 100 (key not found): the key is gone, expired or deleted by that first attempt: done;
 * - 101 (compare failed): the key changed since we knew it (a refresh of ours applied late, or someone else's
 *   key under the same name): read it again and decide by its createdIndex;
 * - anything else: try again after a pause (the key expires by its TTL otherwise).
 */
export function afterDeleteError(error: unknown): DeleteStep {
  if (error instanceof EtcdError && error.errorCode === 100) return 'done';
  if (error instanceof EtcdError && error.errorCode === 101) return 'reread';
  return 'retry';
}

/**
 * Deletes a key of ours with `prevIndex`, so that it can never delete someone else's key. The delete is safe
 * to repeat (`retrySafe`): an attempt stuck on a slow or frozen member is abandoned after the client's
 * `retrySafeTimeout` and the delete goes to another member, so one member cannot hold up the next holder. A
 * key that changed since is deleted by its current index when it is still ours (same `createdIndex`), and
 * left alone otherwise. Transient failures are retried a few times, then the last one is thrown (the key
 * then expires by its TTL). An abort of `signal` rejects with its reason.
 */
export async function deleteOwn(
  keys: KeysAPI,
  key: string,
  createdIndex: number | undefined,
  prevIndex: number,
  signal?: AbortSignal,
): Promise<void> {
  let index = prevIndex;
  const withSignal = signal ? { signal } : {};
  for (let attempt = 1; ; attempt++) {
    try {
      await keys.delete(key, { prevIndex: index, retrySafe: true, ...withSignal });
      return;
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      const step = afterDeleteError(error);
      if (step === 'done') return;
      if (attempt >= 5) throw error;
      if (step === 'reread') {
        let node: { createdIndex: number; modifiedIndex: number } | undefined;
        try {
          node = (await keys.get(key, { quorum: true, ...withSignal })).node;
        } catch (readError) {
          if (signal?.aborted) throw signal.reason;
          if (afterDeleteError(readError) === 'done') return; // gone meanwhile
          await sleep(100 * attempt, signal);
          continue;
        }
        if (!node || createdIndex === undefined || node.createdIndex !== createdIndex) return; // not ours
        index = node.modifiedIndex;
        continue;
      }
      await sleep(100 * attempt, signal);
    }
  }
}
