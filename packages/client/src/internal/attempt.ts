import { STATUS_CODES } from 'node:http';
import type { Dispatcher } from 'undici';
import type { CheckRedirect } from '../client.js';
import { EndpointError, HeaderTimeoutError, RedirectError, ResponseTooLargeError } from '../errors.js';
import type { AbortHook } from './abort-hook.js';
import type { Action, HttpRequestSpec } from './action.js';
import type { CallTrace } from './channels.js';
import { printCurl } from './curl.js';
import { dispatchRequest, HeadersTimedOut, ReplyTooLarge } from './dispatch.js';
import { type Endpoint, redactUserinfo } from './endpoints.js';
import { RequestTrace } from './request-trace.js';

/** A reply from one endpoint: status, headers (lower-case names) and the whole body. */
export interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  /** The body, decoded as UTF-8. */
  readonly body: string;
  /** The endpoint that answered. */
  readonly endpoint: Endpoint;
}

/** What one attempt needs besides the action. */
export interface AttemptOptions {
  readonly dispatcher: Dispatcher;
  readonly headerTimeoutMs: number;
  readonly checkRedirect: CheckRedirect;
  readonly authorization: string | undefined;
  /**
   * Where a redirect may take the credentials: `'endpoints'` only to an origin in `endpoints` (the
   * endpoint itself included), `'any'` anywhere (Go).
   */
  readonly redirectCredentials: 'endpoints' | 'any';
  /** The cluster's endpoints, for `redirectCredentials: 'endpoints'`. */
  readonly endpoints: readonly Endpoint[];
  /** Largest reply body accepted, in bytes; 0: no limit. */
  readonly maxResponseSize: number;
  readonly signal: AbortSignal | undefined;
  /** Aborts the attempt (not the call) when the endpoint is found dead mid-request. */
  readonly liveness?: AbortHook | undefined;
  /** Aborts the call's attempt when the watcher waiting is closed (its reason is then the call's error). */
  readonly closer?: AbortHook | undefined;
  /** Aborts it when the client closes (a wait's attempt only: a close lets other requests finish). */
  readonly closing?: AbortHook | undefined;
  /** The call being traced (diagnostics channels), when anyone listens. */
  readonly trace?: CallTrace | undefined;
}

/** A single value of a header, as Go's `Header.Get` gives it. */
export function header(response: Pick<RawResponse, 'headers'>, name: string): string {
  const value = response.headers[name.toLowerCase()];
  return (Array.isArray(value) ? value[0] : value) ?? '';
}

/**
 * One endpoint, following redirects (Go's `redirectFollowingHTTPClient`): any 3xx is a redirect to its
 * Location; the action is rebuilt for each hop with its URL replaced wholesale. Unlike Go, a hop to an origin
 * that is not one of the cluster's endpoints goes without the credentials, and one of a request whose body
 * carries a password is refused (unless `redirectCredentials` is `'any'`). 5xx replies become errors (so that
 * the cluster client fails over), as in Go's `httpClusterClient`.
 */
export async function attemptEndpoint(
  endpoint: Endpoint,
  action: Action,
  options: AttemptOptions,
): Promise<RawResponse> {
  let location: string | undefined;
  let authorization = options.authorization;
  for (let hop = 0; hop < 100; hop++) {
    if (hop > 0) options.checkRedirect(hop);
    const spec = action.httpRequest(endpoint);
    if (location !== undefined) {
      const target = new URL(location);
      spec.origin = target.origin;
      spec.path = target.pathname + target.search;
      if (options.redirectCredentials !== 'any') {
        const ours = options.endpoints.some((e) => e.url.origin === target.origin);
        if (!ours && action.secretBody) {
          throw new RedirectError(
            `client: redirect to ${target.origin} refused: not one of the cluster's endpoints, and the request carries a password`,
          );
        }
        authorization = ours ? options.authorization : undefined;
      }
    }
    const response = await exchange(endpoint, spec, action.wait === true, authorization, options, hop);
    if (Math.floor(response.status / 100) === 3) {
      const target = header(response, 'location');
      if (!target) throw new RedirectError('location header not set');
      try {
        location = new URL(target).href;
      } catch {
        throw new RedirectError(`location header not valid URL: ${redactUserinfo(target)}`);
      }
      continue;
    }
    if (response.status >= 500) {
      const text =
        response.status === 500 || response.status === 503
          ? `client: etcd member ${endpoint.text} has no leader`
          : `client: etcd member ${endpoint.text} returns server error [${STATUS_CODES[response.status] ?? ''}]`;
      throw new EndpointError(endpoint.text, text);
    }
    return response;
  }
  throw new RedirectError('client: too many redirect checks');
}

/** undici's code for a connect timeout (the header timeout is `dispatchRequest`'s own: undici's is off). */
const CONNECT_TIMEOUT = 'UND_ERR_CONNECT_TIMEOUT';

/**
 * One HTTP exchange (Go's `simpleHTTPClient`). The header timeout bounds the connection attempt (undici's
 * connect timer) and the wait for the response headers: a precise timer of `dispatchRequest`'s own, one per
 * request and cheaper than an AbortSignal, since undici's `headersTimeout` fires up to 500 ms late. It never
 * applies to a watch, nor to reading a body. The caller's abort always wins: it
 * rejects with `signal.reason` unchanged.
 */
async function exchange(
  endpoint: Endpoint,
  spec: HttpRequestSpec,
  wait: boolean,
  authorization: string | undefined,
  options: AttemptOptions,
  hop: number,
): Promise<RawResponse> {
  const { signal, closer, closing, liveness, trace } = options;
  signal?.throwIfAborted();
  if (closer?.aborted) throw closer.reason;
  if (closing?.aborted) throw closing.reason;
  printCurl(spec.method, spec.origin + spec.path, spec.body);
  const request = trace
    ? new RequestTrace(trace, endpoint.text, hop, spec.method, spec.origin, spec.path)
    : undefined;
  const headers = authorization ? { ...spec.headers, authorization } : spec.headers;
  try {
    const reply = await dispatchRequest(
      options.dispatcher,
      {
        origin: spec.origin,
        path: spec.path,
        method: spec.method,
        headers,
        body: spec.body ?? null,
        headersTimeout: 0,
        bodyTimeout: 0,
      },
      {
        signal,
        closer,
        closing,
        liveness,
        maxBytes: options.maxResponseSize,
        headersTimeoutMs: wait ? 0 : options.headerTimeoutMs,
        onHeaders: request?.onHeaders,
      },
    );
    request?.end(reply.status, reply.bytes);
    return { status: reply.status, headers: reply.headers, body: reply.body, endpoint };
  } catch (error) {
    const failure = attemptError(endpoint, error, options);
    request?.error(failure);
    throw failure;
  }
}

/** The error an exchange rejects with: the caller's abort reason as is, or the client's own error. */
function attemptError(endpoint: Endpoint, error: unknown, options: AttemptOptions): unknown {
  const { signal, closer, closing, liveness } = options;
  if (signal?.aborted) return signal.reason;
  // the watcher's close and the client's: whichever came first (the request was stopped with its reason)
  if (closing?.aborted && error === closing.reason) return error;
  if (closer?.aborted) return closer.reason;
  if (closing?.aborted) return closing.reason;
  if (liveness?.aborted) return liveness.reason;
  if (error instanceof ReplyTooLarge)
    return new ResponseTooLargeError(endpoint.text, options.maxResponseSize);
  if (error instanceof HeadersTimedOut || (error as { code?: string }).code === CONNECT_TIMEOUT)
    return new HeaderTimeoutError(endpoint.text);
  const message = error instanceof Error ? error.message : String(error);
  return new EndpointError(endpoint.text, `client: endpoint ${endpoint.text}: ${message}`, { cause: error });
}
