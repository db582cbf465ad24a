/** Errors the CLI reports itself (exit 1), and the words for the client's transport errors. */
import {
  ClusterError,
  EndpointError,
  EtcdError,
  HeaderTimeoutError,
  type KeysAPI,
  NoLeaderEndpointError,
} from '@etcdkit/client';

/** A failure the CLI has already put in words (exit code 1); `cause` is printed with --debug. */
export class CliError extends Error {
  override name = 'CliError';
}

const CHECK =
  'check that etcd runs there and that --endpoints (or ETCDCTL_ENDPOINTS) names its client URLs; for https, ' +
  '--cacert, --cert and --key';

function endpointReason(error: Error, timeoutS: number): string {
  if (error instanceof HeaderTimeoutError) return `${error.endpoint} did not answer within ${timeoutS} s`;
  if (error instanceof EndpointError) {
    const cause = error.cause as NodeJS.ErrnoException | undefined;
    const code = cause?.code ?? (cause?.cause as NodeJS.ErrnoException | undefined)?.code;
    return `${error.endpoint}: ${code ? `${code} (${cause?.message ?? error.message})` : error.message}`;
  }
  return error.message;
}

/**
 * The message for a failure talking to etcd: which endpoints failed and how, and what to check. Other errors
 * keep their own message.
 */
export function explain(error: unknown, endpoints: readonly string[], timeoutS: number): string {
  if (error instanceof CliError) return error.message;
  if (error instanceof EtcdError) return `etcd error ${error.errorCode}: ${error.message}`;
  if (error instanceof ClusterError) {
    const reasons = error.errors.map((e) => endpointReason(e, timeoutS));
    return `cannot reach etcd at ${endpoints.join(', ')}: ${reasons.join('; ')}\n${CHECK}`;
  }
  if (error instanceof EndpointError || error instanceof NoLeaderEndpointError)
    return `cannot reach etcd at ${endpoints.join(', ')}: ${endpointReason(error, timeoutS)}\n${CHECK}`;
  return (error as Error)?.message ?? String(error);
}

/** The error for endpoints that let a bounded wait pass without any reply. */
export function noAnswer(endpoints: readonly string[], seconds: number, what: string): CliError {
  return new CliError(`${what}: no reply from ${endpoints.join(', ')} within ${seconds} s\n${CHECK}`);
}

/**
 * Proves the cluster answers before waiting on it: one quorum read of `key` (any reply from etcd will do, a
 * missing key included), within `requestTimeout` per endpoint plus a second. Recipes retry transport failures
 * for a while on their own; this turns a dead or hung cluster into an error that names the endpoints at once.
 */
export async function ensureAnswers(
  keys: KeysAPI,
  key: string,
  endpoints: readonly string[],
  requestS: number,
  signal: AbortSignal,
): Promise<void> {
  const boundS = requestS * endpoints.length + 1;
  const bound = AbortSignal.timeout(boundS * 1000);
  try {
    await keys.get(key, { quorum: true, signal: AbortSignal.any([signal, bound]) });
  } catch (error) {
    if (error instanceof EtcdError) return;
    if (bound.aborted && !signal.aborted) throw noAnswer(endpoints, boundS, `cannot read ${key}`);
    throw error;
  }
}
