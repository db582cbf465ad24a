/**
 * When a kept key's refreshes go out. Keys made together (a burst of lock contenders, the instances of a registry
 * started at once) would otherwise refresh together for as long as they live: every refresh interval a burst of
 * as many concurrent writes, each on a connection of its own, which keeps that many sockets open. So:
 * - the first refresh goes out at a random point of the second half of the interval;
 * - each later one an interval after the previous one was *due*. Counted from its reply instead, keys whose
 *   replies arrive together (etcd commits concurrent writes in one batch) would be pulled back into step, batch
 *   by batch; counted from when its timer fired, keys whose timers fired together after a busy moment of the
 *   process (a thousand waiters joining) would stay together. (The key counts from a slot after the send
 *   instead when that was earlier: a timer can fire early.)
 * - refreshes go out on a grid of {@link REFRESH_SLOT_MS}: the keys of a slot go together, a small burst, and
 *   the process wakes once per slot, not once per key, which costs less CPU than an instant of its own per key.
 *   Only the sends are rounded, not the due times: rounded due times would make every interval up to a slot
 *   shorter (at TTL 2, 660 ms for 667: 1% more refreshes than the interval asks).
 * Refreshing early is always safe (the validity deadline counts from each refresh's send; slots round down), and
 * a key released within half an interval is never refreshed at all.
 */

/** The grid refreshes are sent on, in ms of `performance.now()`. */
export const REFRESH_SLOT_MS = 20;

/** Rounds `at` (a `performance.now()` time) down to its slot; the delay from `now` to it, at least 0. */
function slotDelay(at: number, now: number): number {
  return Math.max(0, Math.floor(at / REFRESH_SLOT_MS) * REFRESH_SLOT_MS - now);
}

/** When a refresh is due (`performance.now()`), and the delay from now to the slot it goes out on, in ms. */
export interface RefreshTime {
  readonly dueAt: number;
  readonly delayMs: number;
}

/**
 * A kept key's first refresh when it is kept from `now`: due at a random point in [refreshMs / 2, refreshMs),
 * sent on its slot.
 */
export function firstRefresh(
  refreshMs: number,
  now: number = performance.now(),
  random: () => number = Math.random,
): RefreshTime {
  const dueAt = now + refreshMs * (0.5 + random() / 2);
  return { dueAt, delayMs: slotDelay(dueAt, now) };
}

/**
 * The refresh after one that was due at `dueAt` and sent at `sentAt`, whose reply came at `now`, the key now
 * being valid until `validUntil` (all `performance.now()`): due an interval after `dueAt` (after a slot past
 * `sentAt` when that is earlier), sent on its slot. When that has passed already (an overloaded process or
 * member), soon but spread again: at a random point of the next quarter interval, as long as more than an
 * interval of validity is left after it (the spread shrinks to that; none is left: at once). Going at once
 * every time would put every key whose late reply came in one batch into one slot, for good.
 */
export function nextRefresh(
  dueAt: number,
  sentAt: number,
  refreshMs: number,
  now: number,
  validUntil: number = Number.POSITIVE_INFINITY,
  random: () => number = Math.random,
): RefreshTime {
  const next = Math.min(dueAt, sentAt + REFRESH_SLOT_MS) + refreshMs;
  if (next > now) return { dueAt: next, delayMs: slotDelay(next, now) };
  const spread = Math.max(0, Math.min(refreshMs / 4, validUntil - now - refreshMs));
  const late = now + spread * random();
  return { dueAt: late, delayMs: slotDelay(late, now) };
}
