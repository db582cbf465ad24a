/**
 * The core's retry pacing, in one place: how long the recipes pause after a transient failure (no member
 * answered, a connection reset) before they try again, how that pause grows, and how many attempts a retried
 * operation makes. Every number a recipe retries by is here, so that a change of policy is one edit; an
 * operation that is tried again runs under {@link retrying} (p-retry paces it). A wait that pauses once between
 * its own reads sleeps `transientPauseMs` itself (see `sleep` in `wait.ts`).
 */

import { isClientClosed, isEtcdError } from '@etcdkit/client';
import pRetry from 'p-retry';

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
  /** Each further pause is this many times the one before (1: always `firstMs`). */
  readonly factor: number;
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
  enqueue: { firstMs: 100, factor: 2, maxMs: 200, attempts: 3 },
  /** The release's delete of a kept key after a transient failure: 100, 200, 400, 400 ms. */
  removeKey: { firstMs: 100, factor: 2, maxMs: 400, attempts: 5 },
  /** The loss watch's re-read of its key after a failed watch, while the re-read fails too. */
  lossRecheck: { firstMs: 100, factor: 2, maxMs: 2000 },
  /** A registry cache's watch of its service, after etcd refused a read of it (until it follows again). */
  followAgain: { firstMs: 100, factor: 2, maxMs: 5000 },
  /** The registry's re-registration of an instance whose key was lost, until it succeeds or is closed. */
  reRegister: { firstMs: 100, factor: 2, maxMs: 5000 },
} as const satisfies Record<string, number | Backoff>;

/** How {@link retrying} tells the failures it meets apart. */
export interface RetryRules {
  /**
   * Ends the retries: a pause ends at once and the call rejects with its reason. An attempt in flight goes on
   * (the operation passes the signal on where it can abort); what it made is returned.
   */
  readonly signal?: AbortSignal | undefined;
  /**
   * Whether another attempt may follow `error`; default: unless it is {@link isPermanent}. An error it refuses
   * rejects the retried operation at once.
   */
  readonly retryable?: (error: unknown) => boolean;
  /**
   * Whether `error` calls for another attempt at once, without a pause and without counting against the
   * attempts (the operation learnt what to do differently, e.g. a newer index to write at).
   */
  readonly atOnce?: (error: unknown) => boolean;
}

/** The p-retry options that pace an operation by `backoff` (no jitter: the pauses are as the table says). */
export function retryOptions(backoff: Backoff): {
  retries: number;
  minTimeout: number;
  factor: number;
  maxTimeout: number;
  randomize: false;
} {
  return {
    retries: backoff.attempts === undefined ? Number.POSITIVE_INFINITY : backoff.attempts - 1,
    minTimeout: backoff.firstMs,
    factor: backoff.factor,
    maxTimeout: backoff.maxMs,
    randomize: false,
  };
}

/**
 * Runs `operation` until it succeeds, pausing between attempts as `backoff` says (p-retry does the pacing):
 * the recipes' one way to try again. It rejects with the last failure once the attempts are spent, at once
 * with a failure `rules.retryable` refuses (by default etcd's own answer or a closed client), and with the
 * signal's reason when `rules.signal` aborts before an attempt succeeds. An attempt that succeeded is never
 * lost to an abort that came meanwhile (p-retry would reject then): what it made (a queue key, a published
 * instance) is returned, and the caller, which sees the abort next, removes it.
 */
export async function retrying<T>(
  operation: (attempt: number) => Promise<T>,
  backoff: Backoff,
  rules: RetryRules = {},
): Promise<T> {
  const { signal } = rules;
  const retryable = rules.retryable ?? ((error: unknown) => !isPermanent(error));
  let succeeded: { readonly value: T } | undefined;
  try {
    return await pRetry(
      async (attempt) => {
        const value = await operation(attempt);
        succeeded = { value };
        return value;
      },
      {
        ...retryOptions(backoff),
        // a signal of its own for p-retry's pauses: many calls sharing the caller's signal add no listener to it
        ...(signal ? { signal: AbortSignal.any([signal]) } : {}),
        shouldConsumeRetry: ({ error }) => !rules.atOnce?.(error),
        shouldRetry: ({ error }) => retryable(error),
      },
    );
  } catch (error) {
    if (succeeded) return succeeded.value;
    // once aborted, the signal's own reason, whatever it is (p-retry wraps a reason that is no Error)
    if (signal?.aborted) throw signal.reason;
    throw error;
  }
}
