/**
 * When a kept key's refreshes go out. Keys made together (a burst of lock contenders, the instances of a registry
 * started at once) would otherwise refresh together for as long as they live: every refresh interval a burst of
 * as many concurrent writes, each on a connection of its own, which keeps that many sockets open. So the first
 * refresh goes out at a random point of the second half of the interval, and each later one an interval after
 * the previous one was *sent*: counted from its reply instead, keys whose replies arrive together (etcd commits
 * concurrent writes in one batch) would be pulled back into step, batch by batch. Refreshes are sent on a grid
 * of {@link REFRESH_SLOT_MS} (the keys of a slot go out together, a small burst): a process wakes once per slot,
 * not once per key, which costs less CPU than spreading each key to its own instant. Refreshing early is always
 * safe (the validity deadline counts from each refresh's send; slots round down), and a key released within
 * half an interval is never refreshed at all.
 */

/** The grid refreshes are sent on, in ms of `performance.now()`. */
export const REFRESH_SLOT_MS = 20;

/** Rounds `at` (a `performance.now()` time) down to its slot; the delay from `now` to it, at least 0. */
function slotDelay(at: number, now: number): number {
  return Math.max(0, Math.floor(at / REFRESH_SLOT_MS) * REFRESH_SLOT_MS - now);
}

/**
 * The delay, in ms, of a kept key's first refresh when it is kept from `now`: a random point in
 * [refreshMs / 2, refreshMs), rounded down to its slot.
 */
export function firstRefreshDelay(
  refreshMs: number,
  now: number = performance.now(),
  random: () => number = Math.random,
): number {
  return slotDelay(now + refreshMs * (0.5 + random() / 2), now);
}

/**
 * The delay, in ms, of the refresh after one sent at `sentAt` whose reply came at `now` (both
 * `performance.now()`): an interval after the send rounded down to its slot, or at once when the reply took
 * longer than that.
 */
export function nextRefreshDelay(sentAt: number, refreshMs: number, now: number): number {
  return slotDelay(sentAt + refreshMs, now);
}
