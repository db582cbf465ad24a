/**
 * The core's directory read: a quorum read of a directory's keys in creation order, with the index to watch
 * from; a missing directory is an empty one.
 */
import { isKeyNotFound, type Node } from '@etcdkit/client';
import type { RecipeKeys } from '../keys.js';
import { sharedRead } from './shared-read.js';

/** A directory read: its keys in creation order, and the index to watch from. */
export interface DirRead {
  readonly nodes: Node[];
  readonly index: number;
}

/**
 * Reads the keys (not sub-directories) of a directory with a quorum read, in creation order, with the index of
 * the read to watch from. A missing directory is an empty one (at the index the error carries). Callers of one
 * process that ask at once share the read (see `shared-read.ts`: a herd of queue takers woken by one item);
 * each gets its own array.
 */
export async function readDir(keys: RecipeKeys, dir: string, signal?: AbortSignal): Promise<DirRead> {
  const { nodes, index } = await sharedRead(keys, `dir ${dir}`, (own) => readDirOnce(keys, dir, own), signal);
  return { nodes: nodes.slice(), index };
}

/** {@link readDir}, not shared: one quorum read of its own. */
export async function readDirOnce(keys: RecipeKeys, dir: string, signal?: AbortSignal): Promise<DirRead> {
  try {
    const response = await keys.get(dir, { quorum: true, sort: true, ...(signal ? { signal } : {}) });
    return { nodes: keysInCreationOrder(response.node?.nodes), index: response.index };
  } catch (error) {
    if (isKeyNotFound(error)) return { nodes: [], index: error.index };
    throw error;
  }
}

/** The keys (not sub-directories) among a directory's `nodes`, in creation order. */
export function keysInCreationOrder(nodes: readonly Node[] | undefined): Node[] {
  return (nodes ?? []).filter((node) => !node.dir).sort((a, b) => a.createdIndex - b.createdIndex);
}
