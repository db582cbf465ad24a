import type { HeldLock } from '../lock.js';
import type { QueueTicket } from './queue.js';

/** A {@link HeldLock} over a queue ticket; `after` runs once the key is removed (e.g. a local unlock). */
export function heldLock(ticket: QueueTicket, after: () => void = () => {}): HeldLock {
  let released: Promise<void> | undefined;
  const release = (): Promise<void> => {
    released ??= ticket.remove().finally(after);
    return released;
  };
  return {
    key: ticket.key,
    fencingToken: ticket.createdIndex,
    signal: ticket.kept.signal,
    release,
    [Symbol.asyncDispose]: release,
  };
}

/** Runs `wait`, removing the ticket's key if it fails (abort, lost session), so no waiter key is left behind. */
export async function orRemove<T>(ticket: QueueTicket, wait: () => Promise<T>): Promise<T> {
  try {
    return await wait();
  } catch (error) {
    await ticket.remove();
    throw error;
  }
}
