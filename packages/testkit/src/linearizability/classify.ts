/**
 * What an error of a KV call says about its outcome. The rules are conservative: an error counts as a
 * definite outcome only when it cannot hide a write that took effect; anything else leaves the write
 * pending (it may or may not have taken effect).
 *
 * - A server error (an error with a numeric `errorCode`, as `@etcdkit/client`'s `EtcdError`) that the
 *   operation can answer (100 key not found for a get, update, compare-and-swap or delete; 101 compare
 *   failed for a compare-and-swap or compare-and-delete; 105 already exists for a create) is that outcome,
 *   when the call sent one request. When the client sent it more than once (a failover retry, a hedge), an
 *   earlier attempt may have taken effect and caused the error: pending. Any other server error (300 raft
 *   internal, 301 leader elect, ...) is pending too.
 * - A refused connection (`ECONNREFUSED`, also as every error of a `ClusterError` or `AggregateError`, or
 *   in a `cause` chain): nothing was sent, so the write did not take effect (`failed`).
 * - Anything else (timeouts, aborts, resets, 5xx replies, a `ClusterError` with any other error, unknown
 *   errors): pending.
 *
 * A read has no effect: a read that failed other than with 100 is recorded as `failed` (it tells nothing).
 *
 * @packageDocumentation
 */
import type { KvInput, KvOutput } from './kv-ops.js';

/** How a failed call is recorded: a definite output, not applied, or pending. */
export type KvErrorVerdict =
  | { readonly kind: 'output'; readonly output: KvOutput }
  | { readonly kind: 'failed' }
  | { readonly kind: 'pending' };

/** True when `error` is, or consists only of, refused connections (see the module doc). */
export function isConnectionRefused(error: unknown, depth = 0): boolean {
  if (depth > 8 || typeof error !== 'object' || error === null) return false;
  const { code, cause, errors } = error as { code?: unknown; cause?: unknown; errors?: unknown };
  if (code === 'ECONNREFUSED') return true;
  if (Array.isArray(errors) && errors.length > 0) {
    return errors.every((inner) => isConnectionRefused(inner, depth + 1));
  }
  return isConnectionRefused(cause, depth + 1);
}

/** The output a server error code gives `input`, when it is one the operation can answer. */
function serverOutput(input: KvInput, code: number, index: unknown): KvOutput | undefined {
  const conditional =
    input.type === 'cas' || (input.type === 'delete' && (input.prevValue ?? input.prevIndex));
  if (code === 100 && input.type !== 'set' && input.type !== 'create' && input.type !== 'createInOrder') {
    return typeof index === 'number' && input.type === 'get'
      ? { status: 'not-found', storeIndex: index }
      : { status: 'not-found' };
  }
  if (code === 101 && conditional) return { status: 'compare-failed' };
  if (code === 105 && input.type === 'create') return { status: 'exists' };
  return undefined;
}

/**
 * How to record `input`'s call that failed with `error`. `requests` is how many requests the client sent
 * that may have reached a member (`undefined`: not known, taken as one).
 */
export function classifyKvError(
  input: KvInput,
  error: unknown,
  requests: number | undefined,
): KvErrorVerdict {
  const { errorCode, index } = (typeof error === 'object' && error !== null ? error : {}) as {
    errorCode?: unknown;
    index?: unknown;
  };
  if (typeof errorCode === 'number') {
    const output = serverOutput(input, errorCode, index);
    if (output && (input.type === 'get' || requests === undefined || requests <= 1)) {
      return { kind: 'output', output };
    }
  }
  if (input.type === 'get') return { kind: 'failed' };
  if (typeof errorCode !== 'number' && (isConnectionRefused(error) || requests === 0))
    return { kind: 'failed' };
  return { kind: 'pending' };
}
