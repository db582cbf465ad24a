/**
 * A kept key's loss watch: one long-poll on the key from its own index (a shared watcher: many keys of one
 * directory share a long-poll), so that its removal, or a change none of its own writes made, is seen at once
 * rather than at the next refresh. Error 401 or a failed watch re-reads the key (a quorum get, tried again
 * after a growing pause while no member answers it) and watches on past the read.
 */
import { isClientClosed, isKeyNotFound, type Node, type Response } from '@etcdkit/client';
import type { RecipeKeys } from '../keys.js';
import { RetryPacing, retrying } from './retry.js';
import { GONE_ACTIONS } from './wait.js';

/** What {@link watchForLoss} needs of the key it watches. */
export interface LossWatchedKey {
  readonly keys: RecipeKeys;
  readonly key: string;
  readonly createdIndex: number;
  /** The index to watch after: the key's modifiedIndex when the watch starts. */
  readonly afterIndex: number;
  /** Ends the watch (the key was stopped or lost). */
  readonly end: AbortSignal;
  /** True once the key was halted: nothing the watch sees from then on counts as a loss. */
  readonly halted: boolean;
  /** How long one read of the key may take (it is tried again after a pause). */
  readonly readTimeoutMs: number;
  /** The key is still there as `node` shows it (`how` says where from, for a loss's message): ours, or a loss. */
  seen(node: Pick<Node, 'createdIndex' | 'modifiedIndex' | 'value'>, how: string): Promise<void>;
  /** The key is gone (deleted, expired, or removed and created again by someone else): lose it. */
  gone(why: string, cause?: unknown): void;
}

/** The watch of a key for its loss; resolves when `key.end` aborts or the key is halted. */
export async function watchForLoss(key: LossWatchedKey): Promise<void> {
  const { end } = key;
  const watcher = key.keys.watcher(key.key, { afterIndex: key.afterIndex, shared: true });
  try {
    while (!end.aborted && !key.halted) {
      let event: Response;
      try {
        event = await watcher.next({ signal: end });
      } catch (error) {
        // a closed client can watch no more: the key's validity deadline decides alone
        if (end.aborted || isClientClosed(error)) return;
        // index cleared (401), or no member could hold the watch: read the key (again, after a pause, until a
        // read is answered), then watch on past the read
        await retrying(() => recheck(key, watcher), RetryPacing.lossRecheck, {
          signal: end,
          // a closed client reads no more: the key's validity deadline decides alone
          retryable: (error) => !key.halted && !isClientClosed(error),
        }).catch(() => {});
        continue;
      }
      await judgeEvent(key, event, watcher);
    }
  } finally {
    watcher.close();
  }
}

/** A watcher's read of its key (which also moves the watch past the read). */
interface Resyncing {
  resync(options: { signal: AbortSignal }): Promise<Response>;
}

/** One event on the key: a removal (final: committed), or the key as it is now. */
async function judgeEvent(key: LossWatchedKey, event: Response, watcher: Resyncing): Promise<void> {
  const node = event.node;
  if (!node || key.halted) return;
  if (!GONE_ACTIONS.has(event.action)) {
    await key.seen(node, `${event.action} at index ${node.modifiedIndex}`);
    return;
  }
  // Committed, so final; read once more for the server's own word (error 100) as the cause.
  let cause: unknown;
  try {
    const read = await watcher.resync({ signal: AbortSignal.timeout(key.readTimeoutMs) });
    if (read.node && read.node.createdIndex !== key.createdIndex) {
      key.gone(`the key was removed (${event.action}) and created again by someone else`);
      return;
    }
  } catch (error) {
    cause = isKeyNotFound(error) ? error : undefined;
  }
  key.gone(cause ? 'the key is gone' : `the key was removed (${event.action})`, cause);
}

/** Re-reads the key after a failed watch; rejects when the read failed for a transient reason. */
async function recheck(key: LossWatchedKey, watcher: Resyncing): Promise<void> {
  try {
    const read = await watcher.resync({
      signal: AbortSignal.any([key.end, AbortSignal.timeout(key.readTimeoutMs)]),
    });
    const node = read.node;
    if (key.halted || !node) return;
    await key.seen(node, `index ${node.modifiedIndex}`);
  } catch (error) {
    if (key.halted) return;
    if (isKeyNotFound(error)) {
      key.gone('the key is gone', error);
      return;
    }
    throw error;
  }
}
