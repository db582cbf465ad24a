/**
 * The core's retry pacing, in one place: how long the recipes pause after a transient failure (no member
 * answered, a connection reset) before they try again, how that pause grows, and how many attempts a retried
 * operation makes. Every number a recipe retries by is here, so that a change of policy is one edit. Pure: no
 * timers; a loop sleeps for the pause it is given (see `sleep` in `wait.ts`).
 */

import { isClientClosed, isEtcdError } from '@etcdkit/client';

/**
 * Whether trying again cannot change `error`: etcd's own answer (an {@link isEtcdError}), or a closed client
 * (`ClientClosedError`). Every other failure (no member answered, a reset, a timeout) is transient: the
 * recipes pause and try again.
 */
export function isPermanent(error: unknown): boolean {
  return isEtcdError(error) || isClientClosed(error);
}

/** How a retried operation paces itself: the pause after each failure, and (when bounded) its attempts. */
export interface Backoff {
  /** The pause after the first failure, in ms. */
  readonly firstMs: number;
  /** How the pause grows with each further failure: by `firstMs` (`linear`), or twice as long (`double`). */
  readonly growth: 'linear' | 'double';
  /** The longest pause, in ms. */
  readonly maxMs: number;
  /** Attempts in all, the first one included; absent: until it succeeds or is stopped. */
  readonly attempts?: number;
}

/** The recipes' retry pacing (see the file's header). */
export const RetryPacing = {
  /**
   * After a read, a watch or a take that failed for a transient reason, before the next try: every wait's
   * read (`readUntilAnswered`: the waits of `watchUntil`, the queue driver's among them, and `followChanges`),
   * a failed watch (`waitForEvent`), a claim of `Queue.take`.
   */
  transientPauseMs: 100,
  /** A kept key's failed refresh is sent again after this, or half the refresh interval when that is shorter. */
  refreshRetryMaxMs: 250,
  /**
   * Attempts of a kept key's write (`SessionKey.modify`) that met a 101 a quorum read showed to be the late
   * effect of a refresh of ours (the write is then sent again with the new index).
   */
  ambiguousWriteAttempts: 3,
  /** The in-order create of a queue key whose reply was lost (and not found by its owner id): 100, 200 ms. */
  enqueue: { firstMs: 100, growth: 'linear', maxMs: Number.POSITIVE_INFINITY, attempts: 3 },
  /** The release's delete of a kept key after a transient failure: 100, 200, 300, 400 ms. */
  removeKey: { firstMs: 100, growth: 'linear', maxMs: Number.POSITIVE_INFINITY, attempts: 5 },
  /** The loss watch's read of its key after a failed watch, when the read failed too (reset by a good read). */
  lossRecheck: { firstMs: 100, growth: 'double', maxMs: 2000 },
  /** A registry cache's watch of its service, after etcd refused a read of it (until it reads again). */
  followAgain: { firstMs: 100, growth: 'double', maxMs: 5000 },
  /** The registry's re-registration of an instance whose key was lost, until it succeeds or is closed. */
  reRegister: { firstMs: 100, growth: 'double', maxMs: 5000 },
} as const satisfies Record<string, number | Backoff>;

/** The pause, in ms, after failure number `failure` (1: the first) of an operation paced by `backoff`. */
export function pauseAfter(backoff: Backoff, failure: number): number {
  const grown =
    backoff.growth === 'linear' ? backoff.firstMs * failure : backoff.firstMs * 2 ** (failure - 1);
  return Math.min(grown, backoff.maxMs);
}

/**
 * The consecutive failures of a loop that retries until it succeeds: {@link Pacer.next} counts one more and
 * gives its pause (see {@link pauseAfter}); {@link Pacer.reset} after a success starts again from the first.
 */
export class Pacer {
  readonly #backoff: Backoff;
  #failures = 0;

  constructor(backoff: Backoff) {
    this.#backoff = backoff;
  }

  /** One more failure: the pause to sleep before the next try, in ms. */
  next(): number {
    this.#failures++;
    return pauseAfter(this.#backoff, this.#failures);
  }

  /** A success: the next failure pauses as the first one. */
  reset(): void {
    this.#failures = 0;
  }
}
