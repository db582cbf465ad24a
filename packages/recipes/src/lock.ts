import { Mutex } from 'async-mutex';
import { heldLock, orRemove } from './core/held.js';
import { predecessor, QueueTicket } from './core/queue-driver.js';
import { listQueue } from './core/queue-listing.js';
import { Session, type SessionOptions } from './core/session.js';
import { onAbort } from './core/wait.js';
import { ReleasedError } from './errors.js';
import type { AcquireOptions, HeldLock } from './held-lock.js';
import type { RecipeKeys } from './keys.js';

/** Options of {@link Lock}. */
export interface LockOptions extends SessionOptions {
  /** A session to keep the lock's key alive; by default the lock makes its own with `ttl`. */
  readonly session?: Session;
}

/** One in-process queue per (keys object, lock directory): concurrent acquires in a process wait here, not in etcd. */
const localQueues = new WeakMap<RecipeKeys, Map<string, Mutex>>();

function localMutex(keys: RecipeKeys, dir: string): Mutex {
  let byDir = localQueues.get(keys);
  if (!byDir) {
    byDir = new Map();
    localQueues.set(keys, byDir);
  }
  let mutex = byDir.get(dir);
  if (!mutex) {
    mutex = new Mutex();
    byDir.set(dir, mutex);
  }
  return mutex;
}

/**
 * A distributed mutex on the etcd v2 API: FIFO and herd-free (each waiter watches only its predecessor's key),
 * with fencing tokens, a TTL keepalive that reports loss early, and no duplicate keys after lost replies.
 *
 * ```ts
 * const lock = new Lock(keys, '/locks/report', { ttl: 10 });
 * await using held = await lock.acquire({ signal });
 * await writeReport({ fencingToken: held.fencingToken, signal: held.signal });
 * ```
 */
export class Lock implements AsyncDisposable {
  readonly #keys: RecipeKeys;
  readonly #dir: string;
  readonly #options: LockOptions;
  #session: Session | undefined;

  constructor(keys: RecipeKeys, name: string, options: LockOptions = {}) {
    this.#keys = keys;
    this.#dir = name.replace(/\/+$/, '');
    this.#options = options;
    this.#session = options.session;
    if (!this.#session) this.#session = new Session(keys, options);
  }

  /**
   * Waits until the lock is held. Waiters are served in arrival order.
   *
   * @throws {SessionExpiredError} when the waiter's own key expired while waiting.
   * @throws {SessionLostError} when the waiter's key could not be kept alive.
   * @throws the reason of `signal` when it aborts (the waiter's key is removed first).
   * @throws {ReleasedError} (`closed`) when the lock (its session) is closed, or closes while waiting.
   */
  async acquire(options: AcquireOptions = {}): Promise<HeldLock> {
    const startedAt = performance.now();
    const { signal } = options;
    this.#throwIfClosed();
    const unlockLocal = await this.#acquireLocal(signal);
    try {
      const ticket = await QueueTicket.enqueue(this.#session!, this.#dir, {}, 'lock', signal);
      await orRemove(ticket, () => ticket.waitUntil(predecessor, signal));
      ticket.markHeld();
      return heldLock(ticket, startedAt, unlockLocal);
    } catch (error) {
      unlockLocal();
      throw error;
    }
  }

  /** Takes the lock if it is free right now, else resolves to `null` (leaving no key behind). */
  async tryAcquire(): Promise<HeldLock | null> {
    const startedAt = performance.now();
    this.#throwIfClosed();
    const mutex = localMutex(this.#keys, this.#dir);
    if (mutex.isLocked()) return null;
    const unlockLocal = await mutex.acquire();
    try {
      const ticket = await QueueTicket.enqueue(this.#session!, this.#dir, {}, 'lock');
      const { entries } = await listQueue(this.#keys, this.#dir).catch(async (error: unknown) => {
        await ticket.remove();
        throw error;
      });
      if (entries[0]?.key === ticket.key && ticket.kept.valid) {
        ticket.markHeld();
        return heldLock(ticket, startedAt, unlockLocal);
      }
      await ticket.remove();
      unlockLocal();
      return null;
    } catch (error) {
      unlockLocal();
      throw error;
    }
  }

  /**
   * A closed lock queues nothing more: refused before the in-process queue, where a lock still held here when
   * it was closed would keep the call waiting.
   */
  #throwIfClosed(): void {
    if (this.#session!.closed) throw new ReleasedError(this.#dir, 'closed');
  }

  /** Waits in the in-process queue; a close ends the wait as it ends one in etcd. */
  async #acquireLocal(signal: AbortSignal | undefined): Promise<() => void> {
    const closing = this.#session!.closing;
    try {
      return await acquireLocal(
        localMutex(this.#keys, this.#dir),
        signal ? AbortSignal.any([signal, closing]) : closing,
      );
    } catch (error) {
      this.#throwIfClosed();
      throw error;
    }
  }

  /** Stops the lock's own session (keys still held expire by TTL). */
  async close(): Promise<void> {
    if (!this.#options.session) await this.#session?.close();
  }

  /** Same as {@link Lock.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** async-mutex cannot cancel one waiter: race it with the signal, and hand back a late grant at once. */
async function acquireLocal(mutex: Mutex, signal: AbortSignal | undefined): Promise<() => void> {
  if (!signal) return mutex.acquire();
  signal.throwIfAborted();
  const granted = mutex.acquire();
  let unlisten: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    unlisten = onAbort(signal, () => reject(signal.reason));
  });
  try {
    return await Promise.race([granted, aborted]);
  } catch (error) {
    void granted.then((unlock) => unlock());
    throw error;
  } finally {
    unlisten?.();
  }
}
