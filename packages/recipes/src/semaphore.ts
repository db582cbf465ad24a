import { heldLock, orRemove } from './core/held.js';
import { QueueTicket } from './core/queue-driver.js';
import { Session } from './core/session.js';
import { SessionLostError } from './errors.js';
import type { AcquireOptions, HeldLock } from './held-lock.js';
import type { RecipeKeys } from './keys.js';
import type { LockOptions } from './lock.js';

/**
 * A counting semaphore: at most `permits` holders at once, served in arrival order. The first key past the
 * permits watches the whole queue (any release frees a permit for it: work-conserving), and applies each event
 * to its one read (joins behind it and touches ahead of it cost no read); every later waiter watches only its
 * predecessor, which wakes it by touching its own key when it gets a permit (no herd).
 */
export class Semaphore implements AsyncDisposable {
  readonly #dir: string;
  readonly #permits: number;
  readonly #session: Session;
  readonly #ownSession: boolean;

  constructor(keys: RecipeKeys, name: string, permits: number, options: LockOptions = {}) {
    if (!Number.isInteger(permits) || permits < 1)
      throw new RangeError(`permits must be a whole number >= 1, got ${permits}`);
    this.#dir = name.replace(/\/+$/, '');
    this.#permits = permits;
    this.#ownSession = !options.session;
    this.#session = options.session ?? new Session(keys, options);
  }

  /**
   * Waits for a permit. Release it with `release()` (or `await using`). A permit is handed out only while its
   * key is valid: one lost on the way (e.g. while waking the waiter behind) is removed, and the call rejects.
   *
   * @throws {SessionExpiredError} when the waiter's own key expired or was deleted while waiting.
   * @throws {SessionLostError} when the key could not be kept alive, or was lost before the permit was handed out.
   * @throws the reason of `signal` when it aborts (the waiter's key is removed first).
   * @throws {ReleasedError} (`closed`) when the recipe (its session) is closed, or closes while waiting.
   */
  async acquire(options: AcquireOptions = {}): Promise<HeldLock> {
    const startedAt = performance.now();
    const { signal } = options;
    const ticket = await QueueTicket.enqueue(this.#session, this.#dir, {}, 'semaphore', signal);
    let waited = false;
    await orRemove(ticket, async () => {
      await ticket.waitUntil((entries, mine) => {
        if (mine < this.#permits) return undefined;
        waited = true;
        return mine === this.#permits ? { key: this.#dir, recursive: true } : entries[mine - 1];
      }, signal);
      // the waiter behind us watches our key: tell it we moved up
      if (waited) await ticket.touch().catch(() => {});
      // the touch may have taken a whole request timeout, or met the key deleted: hand out only a valid permit
      signal?.throwIfAborted();
      const { kept } = ticket;
      if (kept.signal.aborted) throw kept.signal.reason;
      if (!kept.valid)
        throw new SessionLostError(ticket.key, 'validity deadline passed before the permit was handed out');
    });
    return heldLock(ticket, startedAt);
  }

  /** Stops the semaphore's own session. */
  async close(): Promise<void> {
    if (this.#ownSession) await this.#session.close();
  }

  /** Same as {@link Semaphore.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
