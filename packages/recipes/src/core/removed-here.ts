/**
 * The core's record of the keys this process has deleted (its own kept keys, released or given up, each delete
 * confirmed by etcd), so that a queue waiter can tell that an entry of its last read is gone without reading the
 * queue again: when the entry just ahead is removed before its holder marked it, the waiter's read may still list
 * older entries ahead, and those this process removed itself are gone for good (a key of that createdIndex is
 * never made again in the cluster). A fact counts only through the same client (see `RecipeKeys.client`) and in
 * the same cluster (etcd's cluster id: two clusters set up alike have the same id), for a few minutes, at most
 * {@link MAX_REMEMBERED} of them: a fact that has dropped out only costs the read it would have saved.
 */

/** How long a removal is remembered (a waiter whose read is older reads again, as it would without this). */
const REMEMBER_MS = 5 * 60_000;
/** At most this many removals are remembered per client (the oldest go first). */
const MAX_REMEMBERED = 10_000;

/** Per client (or keys object): `<cluster id> <createdIndex> <key>` -> when its removal was confirmed. */
const removedHere = new WeakMap<object, Map<string, number>>();

function idOf(clusterId: string, key: string, createdIndex: number): string {
  return `${clusterId} ${createdIndex} ${key}`;
}

/**
 * This process's delete of `key` (of `createdIndex`) in the cluster `clusterId`, through `client`, was confirmed:
 * the key is gone for good. A reply without a cluster id records nothing.
 */
export function markRemovedHere(client: object, clusterId: string, key: string, createdIndex: number): void {
  if (!clusterId) return;
  let removed = removedHere.get(client);
  if (!removed) {
    removed = new Map();
    removedHere.set(client, removed);
  }
  const id = idOf(clusterId, key, createdIndex);
  const at = performance.now();
  removed.delete(id);
  removed.set(id, at);
  const tooOld = at - REMEMBER_MS;
  for (const [oldest, when] of removed) {
    if (removed.size <= MAX_REMEMBERED && when >= tooOld) break;
    removed.delete(oldest);
  }
}

/** Whether this process deleted `key` (of `createdIndex`) in `clusterId` through `client`, as far as it recalls. */
export function isRemovedHere(client: object, clusterId: string, key: string, createdIndex: number): boolean {
  if (!clusterId) return false;
  const at = removedHere.get(client)?.get(idOf(clusterId, key, createdIndex));
  return at !== undefined && performance.now() - at < REMEMBER_MS;
}
