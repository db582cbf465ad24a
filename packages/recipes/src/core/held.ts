/**
 * The core's holding: what every queue recipe does once its ticket is granted (publish `handoff` and
 * `acquired`), on release (remove the key, publish `released`), and when a wait fails (remove the waiter's key).
 */
import { ReleasedError, SessionLostError } from '../errors.js';
import type { HeldLock } from '../held-lock.js';
import { publishAcquired, publishHandoff, publishReleased } from '../internal/channels.js';
import type { QueueTicket } from './queue-driver.js';

/**
 * The ticket is held now: publishes `handoff` (when the wait ended on the removal of the entry ahead) and
 * `acquired` (`waitMs` from `startedAt`, the start of the recipe call). Returns when it was held.
 */
export function announceHeld(ticket: QueueTicket, startedAt: number): number {
  const heldAt = performance.now();
  const { recipe } = ticket;
  if (recipe !== undefined) {
    const previousKey = ticket.handoffFrom;
    if (previousKey !== undefined)
      publishHandoff(recipe, ticket.dir, ticket.key, previousKey, heldAt - ticket.handoffSeenAt);
    publishAcquired(recipe, ticket.dir, ticket.key, ticket.createdIndex, heldAt - startedAt);
  }
  return heldAt;
}

/**
 * Removes a held ticket's key; publishes `released` (`holdMs` from `heldAt`) once it is removed, unless the key
 * was lost before (a loss is no release: `lost` told it).
 */
export async function releaseHeld(ticket: QueueTicket, heldAt: number): Promise<void> {
  // a key closed before (ReleasedError) is no loss: its release is told
  const lostBefore = ticket.kept.signal.reason instanceof SessionLostError;
  await ticket.remove();
  if (!lostBefore && ticket.recipe !== undefined)
    publishReleased(ticket.recipe, ticket.dir, ticket.key, performance.now() - heldAt);
}

/**
 * A {@link HeldLock} over a queue ticket that has just been granted (see {@link announceHeld}; `startedAt` is
 * when the acquire call began); `after` runs once the key is removed (e.g. a local unlock).
 */
export function heldLock(ticket: QueueTicket, startedAt: number, after: () => void = () => {}): HeldLock {
  const heldAt = announceHeld(ticket, startedAt);
  // The holder's signal: the key's (a loss), or this release (no loss: a ReleasedError; a loss first stays).
  const ended = new AbortController();
  const signal = AbortSignal.any([ticket.kept.signal, ended.signal]);
  let released: Promise<void> | undefined;
  const release = (): Promise<void> => {
    // the delete first (the waiter behind waits for it), then the holder's signal
    released ??= releaseHeld(ticket, heldAt).finally(after);
    if (!ended.signal.aborted) ended.abort(new ReleasedError(ticket.key, 'released'));
    return released;
  };
  return {
    key: ticket.key,
    fencingToken: ticket.createdIndex,
    signal,
    get valid() {
      return validWhile(signal, ticket);
    },
    release,
    close: release,
    [Symbol.asyncDispose]: release,
  };
}

/**
 * A holder's `valid`: its `signal` has not aborted and its ticket's key is within its validity deadline, judged
 * on the clock now (see `HeldLock.valid`).
 */
export function validWhile(signal: AbortSignal, ticket: QueueTicket): boolean {
  return !signal.aborted && ticket.kept.valid;
}

/**
 * Runs `wait`, removing the ticket's key if it fails (abort, lost session), so no waiter key is left behind, or
 * if the key was lost or closed by the time it returns (its signal's reason is thrown).
 */
export async function orRemove<T>(ticket: QueueTicket, wait: () => Promise<T>): Promise<T> {
  let granted: T;
  try {
    granted = await wait();
  } catch (error) {
    await removeFailed(ticket);
    throw error;
  }
  // lost or closed between the grant and now: never handed out
  if (ticket.kept.signal.aborted) {
    await removeFailed(ticket);
    throw ticket.kept.signal.reason;
  }
  return granted;
}

/**
 * Removes the key of a ticket whose wait failed. Waited for, so that the call ends with its key gone, except
 * when the key was lost: then it is gone already or etcd is out of reach (the delete's attempts could take
 * seconds), and the waiter is told at once while the delete goes on.
 */
export function removeFailed(ticket: QueueTicket): Promise<void> {
  const removing = ticket.remove();
  return ticket.kept.signal.reason instanceof SessionLostError ? Promise.resolve() : removing;
}
