import { heldLock, orRemove } from './core/held.js';
import { predecessor, QueueTicket } from './core/queue-driver.js';
import { Session } from './core/session.js';
import type { AcquireOptions, HeldLock } from './held-lock.js';
import type { RecipeKeys } from './keys.js';
import type { LockOptions } from './lock.js';

/**
 * A readers-writer lock: readers share it, a writer holds it alone. One FIFO queue for both, so a waiting
 * writer is never starved: readers that come after it wait behind it. A writer watches its predecessor; a
 * reader watches the nearest writer before it (herd-free). Each key's createdIndex is its fencing token.
 */
export class RWLock implements AsyncDisposable {
  readonly #dir: string;
  readonly #session: Session;
  readonly #ownSession: boolean;

  constructor(keys: RecipeKeys, name: string, options: LockOptions = {}) {
    this.#dir = name.replace(/\/+$/, '');
    this.#ownSession = !options.session;
    this.#session = options.session ?? new Session(keys, options);
  }

  /** Waits until no writer queued before this reader holds or waits. */
  readLock(options: AcquireOptions = {}): Promise<HeldLock> {
    return this.#acquire('r', options.signal);
  }

  /** Waits until every key queued before this writer is gone. */
  writeLock(options: AcquireOptions = {}): Promise<HeldLock> {
    return this.#acquire('w', options.signal);
  }

  /** Stops the lock's own session. */
  async close(): Promise<void> {
    if (this.#ownSession) await this.#session.close();
  }

  /** Same as {@link RWLock.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #acquire(mode: 'r' | 'w', signal: AbortSignal | undefined): Promise<HeldLock> {
    const startedAt = performance.now();
    const ticket = await QueueTicket.enqueue(this.#session, this.#dir, { mode }, 'rwlock', signal);
    await orRemove(ticket, async () => {
      await ticket.waitUntil((entries, mine) => {
        if (mode === 'w') return predecessor(entries, mine);
        for (let i = mine - 1; i >= 0; i--)
          if (entries[i]!.data.mode !== 'r') return { key: entries[i]!.key, wakesOnRemoval: true };
        return undefined;
      }, signal);
    });
    if (mode === 'w') ticket.markHeld();
    return heldLock(ticket, startedAt);
  }
}
