import { STATUS_CODES } from 'node:http';
import type { Dispatcher } from 'undici';
import { EndpointError, HeaderTimeoutError, RedirectError } from '../errors.js';
import type { Action, HttpRequestSpec } from './action.js';
import { printCurl } from './curl.js';
import type { Endpoint } from './endpoints.js';

/** A reply from one endpoint: status, headers (lower-case names) and the whole body. */
export interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
  /** The endpoint that answered. */
  readonly endpoint: Endpoint;
}

/** Go's `CheckRedirectFunc`: called with the number of redirects so far; throw to stop following. */
export type CheckRedirect = (via: number) => void;

/** Go's `DefaultCheckRedirect`: at most 10 redirects. */
export const defaultCheckRedirect: CheckRedirect = (via) => {
  if (via > 10) throw new RedirectError('client: too many redirects');
};

/** What one attempt needs besides the action. */
export interface AttemptOptions {
  readonly dispatcher: Dispatcher;
  readonly headerTimeoutMs: number;
  readonly checkRedirect: CheckRedirect;
  readonly authorization: string | undefined;
  readonly signal: AbortSignal | undefined;
  /** Aborts the attempt (not the call) when the endpoint is found dead mid-request. */
  readonly liveness?: AbortSignal | undefined;
}

/** A single value of a header, as Go's `Header.Get` gives it. */
export function header(response: Pick<RawResponse, 'headers'>, name: string): string {
  const value = response.headers[name.toLowerCase()];
  return (Array.isArray(value) ? value[0] : value) ?? '';
}

/**
 * One endpoint, following redirects (Go's `redirectFollowingHTTPClient`): any 3xx is a redirect to its
 * Location; the action is rebuilt for each hop with its URL replaced wholesale. 5xx replies become errors
 * (so that the cluster client fails over), as in Go's `httpClusterClient`.
 */
export async function attemptEndpoint(
  endpoint: Endpoint,
  action: Action,
  options: AttemptOptions,
): Promise<RawResponse> {
  let location: string | undefined;
  for (let hop = 0; hop < 100; hop++) {
    if (hop > 0) options.checkRedirect(hop);
    const spec = action.httpRequest(endpoint);
    if (location !== undefined) spec.url = location;
    const response = await exchange(endpoint, spec, action.wait === true, options);
    if (Math.floor(response.status / 100) === 3) {
      const target = header(response, 'location');
      if (!target) throw new RedirectError('location header not set');
      try {
        location = new URL(target).href;
      } catch {
        throw new RedirectError(`location header not valid URL: ${target}`);
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

/**
 * One HTTP exchange (Go's `simpleHTTPClient`). The header timeout covers connect, send and the wait for the
 * response headers, never a watch, and never the body. The caller's abort always wins: it rejects with
 * `signal.reason` unchanged.
 */
async function exchange(
  endpoint: Endpoint,
  spec: HttpRequestSpec,
  wait: boolean,
  options: AttemptOptions,
): Promise<RawResponse> {
  const { signal } = options;
  signal?.throwIfAborted();
  const controller = new AbortController();
  const abort = (): void => controller.abort();
  signal?.addEventListener('abort', abort, { once: true });
  options.liveness?.addEventListener('abort', abort, { once: true });
  let timedOut = false;
  const timer =
    options.headerTimeoutMs > 0 && !wait
      ? setTimeout(() => {
          timedOut = true;
          controller.abort();
        }, options.headerTimeoutMs)
      : undefined;
  const url = new URL(spec.url);
  printCurl(spec.method, spec.url, spec.body);
  const headers = { ...spec.headers };
  if (options.authorization) headers.authorization = options.authorization;
  try {
    let reply: Dispatcher.ResponseData;
    try {
      reply = await options.dispatcher.request({
        origin: url.origin,
        path: url.pathname + url.search,
        method: spec.method,
        headers,
        body: spec.body ?? null,
        signal: controller.signal,
        headersTimeout: 0,
        bodyTimeout: 0,
      });
    } finally {
      clearTimeout(timer);
    }
    let body: Buffer;
    try {
      body = Buffer.from(await reply.body.arrayBuffer());
    } catch (error) {
      throw failure(endpoint, error, signal, options.liveness, false);
    }
    return { status: reply.statusCode, headers: reply.headers, body, endpoint };
  } catch (error) {
    if (error instanceof EndpointError) throw error;
    throw failure(endpoint, error, signal, options.liveness, timedOut);
  } finally {
    signal?.removeEventListener('abort', abort);
    options.liveness?.removeEventListener('abort', abort);
  }
}

function failure(
  endpoint: Endpoint,
  error: unknown,
  signal: AbortSignal | undefined,
  liveness: AbortSignal | undefined,
  timedOut: boolean,
): unknown {
  if (signal?.aborted) return signal.reason;
  if (timedOut) return new HeaderTimeoutError(endpoint.text);
  if (liveness?.aborted) return liveness.reason;
  const message = error instanceof Error ? error.message : String(error);
  return new EndpointError(endpoint.text, `client: endpoint ${endpoint.text}: ${message}`, { cause: error });
}
