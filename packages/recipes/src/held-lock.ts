/**
 * What acquiring a lock takes and gives, for every recipe that hands out a lock: {@link Lock}, `RWLock` and
 * `Semaphore` (and the core's `heldLock`, which makes one).
 */
import type { Lock } from './lock.js';

/** Options of an acquire: {@link Lock.acquire}, `RWLock.readLock` / `writeLock`, `Semaphore.acquire`. */
export interface AcquireOptions {
  /** Aborts the wait; the waiter's key is removed and the call rejects with `signal.reason`. */
  readonly signal?: AbortSignal;
}

/**
 * A held lock (or read / write lock, or semaphore permit). Release it with {@link release}, or with
 * `await using`.
 */
export interface HeldLock extends AsyncDisposable {
  /** The holder's queue key. */
  readonly key: string;
  /**
   * Strictly rising across holders of this lock (the key's createdIndex): pass it to the resource you
   * protect and have it refuse older tokens (see `FencedKey`).
   */
  readonly fencingToken: number;
  /**
   * Aborts, with a `SessionLostError`, as soon as the lock can no longer be trusted (before its key expires),
   * or with a `ReleasedError` when its holder releases it or its recipe is closed (`how`: `released` or
   * `closed`; whichever comes first stays the reason).
   */
  readonly signal: AbortSignal;
  /**
   * True while the lock can be trusted, judged on this process's monotonic clock when it is read: false once
   * {@link signal} has aborted, and also as soon as the key's validity deadline has passed, before the timer
   * that aborts `signal` has had its turn (a process that was starved or paused, by a long GC or a stopped
   * VM, resumes its own callbacks first). Once false, it stays false. Check it right before acting on the
   * lock; fencing (see {@link fencingToken}) covers what happens after the check.
   */
  readonly valid: boolean;
  /** Frees the lock at once: the next waiter is woken by the delete. Idempotent. */
  release(): Promise<void>;
  /** The same as {@link release}: every long-lived object of the recipes closes with `close()`. */
  close(): Promise<void>;
}
