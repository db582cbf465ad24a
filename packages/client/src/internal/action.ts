import type { WatchInfo } from '../diagnostics.js';
import type { AbortHook } from './abort-hook.js';
import type { Endpoint } from './endpoints.js';
import { canonicalURLPath, encodeValues, escapePath, parseQuery } from './path.js';

/** Where a request goes: origin, and escaped path with query. */
export interface Target {
  /** Scheme, host and port, e.g. `http://127.0.0.1:2379`. */
  origin: string;
  /** Escaped path and query. */
  path: string;
}

/** One HTTP request, built for one endpoint. `body` undefined means no body (Go's nil body). */
export interface HttpRequestSpec extends Target {
  readonly method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  readonly headers: Record<string, string>;
  readonly body?: string;
}

/** Something the cluster client can send: Go's `httpAction`. */
export interface Action {
  httpRequest(endpoint: Endpoint): HttpRequestSpec;
  /** Go's one-shot requests (create, delete): never failed over; the pin moves on after a failure. */
  readonly oneShot?: boolean;
  /**
   * The request is a raft round on the member (a keys write, a quorum read): the time of its success is a
   * sample of the adaptive `retrySafeTimeout`.
   */
  readonly raft?: boolean;
  /** A watch (`wait=true`): no header timeout; the liveness check applies instead. */
  readonly wait?: boolean;
  /** A watch sent to two members at once (`WatcherOptions.redundant`): the first reply wins. */
  readonly redundant?: boolean;
  /** A watch whose member's health is not checked (the second of a redundant wait). */
  readonly unchecked?: boolean;
  /** What the call does, for diagnostics (`CallInfo.operation`); default `request`. */
  readonly operation?: string;
  /** The key as the caller named it, for diagnostics (`CallInfo.key`). */
  readonly key?: string | undefined;
  /** The watcher waiting, for diagnostics (`CallInfo.watch`). */
  readonly watch?: WatchInfo | undefined;
  /** Aborts the call when its watcher is closed (cheaper than a signal per watcher). */
  readonly closer?: AbortHook | undefined;
  /**
   * The body carries a password (an auth user's): a redirect to an origin that is not one of the cluster's
   * endpoints is refused rather than followed, unless `redirectCredentials` is `'any'`.
   */
  readonly secretBody?: boolean;
  /** The index a watch waits for, for diagnostics (`WatchMoveMessage.waitIndex`). */
  readonly waitIndex?: number;
}

/**
 * Where `path` (unescaped) goes on `endpoint`, with the endpoint's own query merged into `params` and all
 * sorted, as the Go client builds it. `canonical` applies etcd's CanonicalURLPath (keys) instead of a plain
 * path already cleaned (members, auth). No `?` when there are no params.
 */
export function buildURL(
  endpoint: Endpoint,
  path: string,
  params: [string, string][] = [],
  canonical = true,
): Target {
  const all = endpoint.url.search ? [...parseQuery(endpoint.url.search.slice(1)), ...params] : params;
  const query = all.length ? `?${encodeValues(all)}` : '';
  return {
    origin: endpoint.url.origin,
    path: `${escapePath(canonical ? canonicalURLPath(path) : path)}${query}`,
  };
}

/**
 * Go's `getAction`: `GET <endpoint path><path>?quorum=&recursive=&sorted=`, all three always present. The keys
 * API, the watcher's resync and `getVersion` (on `/version`, as in Go) all read with it.
 */
export function getAction(
  path: string,
  options: { quorum?: boolean; recursive?: boolean; sort?: boolean },
  operation = 'get',
  key?: string,
): Action {
  const params: [string, string][] = [
    ['quorum', String(options.quorum === true)],
    ['recursive', String(options.recursive === true)],
    ['sorted', String(options.sort === true)],
  ];
  return {
    operation,
    key,
    raft: options.quorum === true,
    httpRequest: (endpoint) => ({
      method: 'GET',
      ...buildURL(endpoint, `${endpoint.path}${path}`, params),
      headers: {},
    }),
  };
}

/** The form content type the keys API sends. */
export const FORM_CONTENT_TYPE = 'application/x-www-form-urlencoded';
/** The JSON content type the members and auth APIs send. */
export const JSON_CONTENT_TYPE = 'application/json';
