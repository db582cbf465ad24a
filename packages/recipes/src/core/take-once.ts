/**
 * Taking a key exactly once when replies can be lost: a claim, then a compare-and-delete that is sent again
 * until its outcome is known. A plain compare-and-delete whose reply is lost leaves its sender not knowing
 * whether it took the key; if it did and moves on, the key is gone and nobody has it.
 */
import { randomUUID } from 'node:crypto';
import { isKeyNotFound, isNodeExist, isTestFailed, type Response } from '@etcdkit/client';
import type { RecipeKeys } from '../keys.js';
import { isPermanent, RetryPacing } from './retry.js';
import { sleep } from './wait.js';

/**
 * How long a claim lasts, in seconds: a taker that dies between its claim and its delete holds the key from
 * other takers this long (then it is theirs again).
 */
export const CLAIM_TTL_S = 30;

/**
 * How long after its claim was sent a taker may still accept a reply to its delete, in ms: half the claim's
 * TTL (each attempt is aborted then). Every reply it accepts was thus made while its claim held, so by its
 * holder alone, with half a TTL to spare.
 */
export const CLAIM_USE_MS = (CLAIM_TTL_S * 1000) / 2;

/**
 * Within how long of the listing it came from a claim must be confirmed for a 100 after a lost reply to count
 * as this taker's own delete, in ms: the claim's TTL less {@link CLAIM_USE_MS}. Another taker that deleted the
 * key after the listing did so within {@link CLAIM_USE_MS} of its claim, which holds for {@link CLAIM_TTL_S}
 * (a claim is never deleted once its key may be gone): so the key could not be claimed again this soon. This
 * assumes the members' clocks agree to well within this (etcd v2 stamps a TTL with the clock of the member the
 * create went to).
 */
export const CLAIM_TRUSTED_MS = CLAIM_TTL_S * 1000 - CLAIM_USE_MS;

/**
 * How old a listing may be when a key of it is claimed, in ms: a quarter of the claim's TTL, so that the claim
 * is most often confirmed within {@link CLAIM_TRUSTED_MS} of it. An older listing is read again (see
 * `Queue.take`).
 */
export const LISTING_FRESH_MS = (CLAIM_TTL_S * 1000) / 4;

/**
 * The claim key of `key` in its directory: hidden (`_`), so a listing of the directory, and a live recursive
 * watch of it, skip claims (a watch from a past index can still be woken by one, from etcd's event history).
 */
export function claimKeyOf(key: string): string {
  const slash = key.lastIndexOf('/');
  return `${key.slice(0, slash)}/_claims/${key.slice(slash + 1)}`;
}

/**
 * What {@link takeOnce} did: `taken` by this call; `claimed` by another taker (whose claim holds for up to
 * {@link CLAIM_TTL_S} more); `gone` (deleted or changed by someone, or, rarely, left in doubt: see
 * {@link takeOnce}).
 */
export type TakeOutcome = 'taken' | 'claimed' | 'gone';

/**
 * Takes `key`, seen at `modifiedIndex` in a listing asked for at `listedAt` (`performance.now()`; sent then or
 * later), for this caller alone. First a claim (`claimKeyOf(key)`, created with a token of this call's own and
 * {@link CLAIM_TTL_S}; one that exists is another taker's); a claim whose reply was lost is read back. Then the
 * compare-and-delete on `modifiedIndex` (one-shot: a client-side repeat's 100 would hide the first attempt's
 * success), sent again after each transient failure, its replies accepted for {@link CLAIM_USE_MS} after the
 * claim was sent. A 100 after a lost reply means that an earlier attempt of this call took it, when the claim
 * was confirmed within {@link CLAIM_TRUSTED_MS} of the listing (no other taker could have taken it since; a key
 * deleted by expiry or by hand just then counts as taken). A 101 means it changed: not taken, and the claim is
 * deleted at once (not awaited); after a take or a 100 it is left to lapse, so that nobody claims a key that may
 * be gone. Transient failures of the claim pass on to the caller (nothing is taken yet); so do etcd's other
 * refusals and a closed client. An abort rejects with `signal.reason`. Left in doubt (`gone`, and the key may
 * have been deleted by this call): a delete whose reply was lost, followed by an abort, by failures until
 * {@link CLAIM_USE_MS} passed, or by a 100 on a claim confirmed late.
 */
export async function takeOnce(
  keys: RecipeKeys,
  key: string,
  modifiedIndex: number,
  listedAt: number,
  signal?: AbortSignal,
): Promise<TakeOutcome> {
  const claim = claimKeyOf(key);
  const token = randomUUID();
  const withSignal = signal ? { signal } : {};
  // the claim holds at least CLAIM_TTL_S from now (from when etcd applies it); replies after this are refused
  const useBy = AbortSignal.timeout(CLAIM_USE_MS);
  if (!(await claimIt(keys, claim, token, withSignal))) return 'claimed';
  const trusted = performance.now() - listedAt < CLAIM_TRUSTED_MS;
  const attempt = { signal: signal ? AbortSignal.any([signal, useBy]) : useBy };
  /** Deletes the claim (if it is still this call's), without waiting: only while the key is surely there. */
  const unclaim = (): void => {
    keys.delete(claim, { prevValue: token }).catch(() => {});
  };
  let lostReply = false;
  for (;;) {
    try {
      await keys.delete(key, { prevIndex: modifiedIndex, ...attempt });
      return 'taken';
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      if (useBy.aborted) return 'gone'; // in doubt if a reply was lost: see above
      if (isKeyNotFound(error)) return lostReply && trusted ? 'taken' : 'gone';
      if (isTestFailed(error)) {
        unclaim();
        return 'gone';
      }
      if (isPermanent(error)) {
        if (!lostReply) unclaim();
        throw error;
      }
      lostReply = true;
      await sleep(RetryPacing.transientPauseMs, attempt.signal).catch(() => {});
    }
  }
}

/**
 * Creates the claim; false when another taker has it. A lost reply is settled by reading the claim back (not
 * there: the create's failure is thrown).
 */
async function claimIt(
  keys: RecipeKeys,
  claim: string,
  token: string,
  withSignal: { signal?: AbortSignal },
): Promise<boolean> {
  try {
    await keys.create(claim, token, { ttl: CLAIM_TTL_S, ...withSignal });
    return true;
  } catch (error) {
    if (withSignal.signal?.aborted) throw withSignal.signal.reason;
    if (isNodeExist(error)) return false;
    if (isPermanent(error)) throw error;
    // the create may have been applied: then the claim is this call's. Not there: a transient failure (if the
    // create is still in flight and applies later, the claim is nobody's and lapses after its TTL)
    let response: Response;
    try {
      response = await keys.get(claim, { quorum: true, ...withSignal });
    } catch (readError) {
      throw isKeyNotFound(readError) ? error : readError;
    }
    return response.node?.value === token;
  }
}
