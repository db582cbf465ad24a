/**
 * The core's record of the keys this process has deleted (its own kept keys, released or given up, each delete
 * confirmed by etcd), so that a queue waiter can tell that an entry of its last read is gone without reading the
 * queue again: when the entry just ahead is removed before its holder marked it, the waiter's read may still list
 * older entries ahead, and those this process removed itself are gone for good (in-order keys are never made
 * again). Per cluster (etcd's cluster id: two clusters can have keys of the same name), for a few minutes, and
 * bounded in size: a fact that has dropped out only costs the read it would have saved.
 */

/** How long a removal is remembered: far longer than a waiter's read stays its latest. */
const REMEMBER_MS = 5 * 60_000;
/** At most this many removals are remembered (the oldest go first). */
const MAX_REMEMBERED = 10_000;

/** `<cluster id> <key>` -> when its removal was confirmed (`performance.now()`), oldest first. */
const removedHere = new Map<string, number>();

/** This process's delete of `key` in the cluster `clusterId` was confirmed: the key is gone for good. */
export function markRemovedHere(clusterId: string, key: string): void {
  const id = `${clusterId} ${key}`;
  removedHere.delete(id);
  removedHere.set(id, performance.now());
  const tooOld = performance.now() - REMEMBER_MS;
  for (const [oldest, at] of removedHere) {
    if (removedHere.size <= MAX_REMEMBERED && at >= tooOld) break;
    removedHere.delete(oldest);
  }
}

/** Whether this process deleted `key` in the cluster `clusterId` (and still remembers it). */
export function isRemovedHere(clusterId: string, key: string): boolean {
  const at = removedHere.get(`${clusterId} ${key}`);
  return at !== undefined && performance.now() - at < REMEMBER_MS;
}
