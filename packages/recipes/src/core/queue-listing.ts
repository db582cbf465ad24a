/**
 * The core's queue reads: a queue directory read into its entries (in creation order, with each contender's
 * parsed value) and the index to watch from, by a quorum read or, after a removal seen ahead, a local read
 * that has reached that removal.
 */
import type { Node } from '@etcdkit/client';
import type { RecipeKeys } from '../keys.js';
import { keysInCreationOrder, readDirOnce } from './read-dir.js';
import { sharedRead } from './shared-read.js';

/** One key of a queue directory. */
export interface QueueEntry {
  readonly key: string;
  readonly createdIndex: number;
  readonly modifiedIndex: number;
  /** The parsed value; `{}` when it is not ours. */
  readonly data: QueueValue;
}

/**
 * What a contender stores in its key (one JSON object): who it is and whether it holds, the core's fields;
 * beside them, a recipe's own fields (its payload: the election's `value`, the RW lock's `mode`), which the
 * core carries and never reads.
 */
export interface QueueValue {
  readonly owner?: string;
  readonly host?: string;
  readonly pid?: number;
  /** Set once the contender holds (see `QueueTicket.markHeld` in `queue-driver.ts`). */
  readonly held?: boolean;
  /** A recipe's own fields, unknown to the core. */
  readonly [field: string]: unknown;
}

/** A queue read: the entries in creation order, and the index of the read. */
export interface QueueListing {
  readonly entries: QueueEntry[];
  readonly index: number;
}

/**
 * Reads a queue directory where a waiter stands after seeing the event at `index` (a removal ahead of it):
 * a local read (no raft round), good when it reflects the store at `index` or later, as the member that
 * delivered the event does. No entry can appear ahead of a waiter's key, so an entry missing from such a read
 * is gone for good, and one it lists is at worst gone since (the waiter then waits on it and hears of its
 * removal): a grant decided on it is as safe as on a quorum read. A read from before `index` (another member,
 * lagging) is not used: a quorum read is made instead.
 */
export async function listQueueAfter(
  keys: RecipeKeys,
  dir: string,
  index: number,
  signal?: AbortSignal,
): Promise<QueueListing> {
  try {
    const response = await keys.get(dir, { sort: true, ...(signal ? { signal } : {}) });
    if (response.index >= index)
      return { entries: keysInCreationOrder(response.node?.nodes).map(toEntry), index: response.index };
  } catch {
    if (signal?.aborted) throw signal.reason;
    // a missing directory, or a failure: the quorum read decides
  }
  return listQueue(keys, dir, signal);
}

/**
 * Reads a queue directory with a quorum read; a missing directory is an empty queue. Callers of one process
 * that ask at once share the read and its decoding (see `shared-read.ts`); each gets its own entries array.
 */
export async function listQueue(keys: RecipeKeys, dir: string, signal?: AbortSignal): Promise<QueueListing> {
  const { entries, index } = await sharedRead(
    keys,
    `queue ${dir}`,
    async (own) => {
      const read = await readDirOnce(keys, dir, own);
      return { entries: read.nodes.map(toEntry), index: read.index };
    },
    signal,
  );
  return { entries: entries.slice(), index };
}

function toEntry(node: Node): QueueEntry {
  let data: QueueValue = {};
  try {
    const parsed: unknown = JSON.parse(node.value);
    if (parsed && typeof parsed === 'object') data = parsed as QueueValue;
  } catch {
    // a foreign key: no owner
  }
  return { key: node.key, createdIndex: node.createdIndex, modifiedIndex: node.modifiedIndex, data };
}
