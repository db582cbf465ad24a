/**
 * The client's `node:diagnostics_channel` events: a stable, documented contract (undici's `undici:request:*`
 * channels are the model). Subscribe with `diagnostics_channel.subscribe(ClientChannels.callEnd, fn)`.
 *
 * - Messages are published synchronously, in the caller's async context (so a tracer sees its parent span);
 *   a `member:health` change found by a background probe has no caller and comes in the probe's context.
 * - The same {@link CallInfo} object travels with every event of one call, and the same {@link WatchInfo}
 *   with every event of one watcher: use them as keys (e.g. in a WeakMap) to correlate.
 * - Endpoints are the client URLs as configured, without userinfo. No message ever carries credentials: no
 *   headers, no request body, and errors are the client's own (their messages carry none).
 * - Nothing is built or published while a channel has no subscriber: the cost is a property read.
 *
 * @packageDocumentation
 */
/** The names of the client's channels. Part of the public API: they do not change within a major version. */
export const ClientChannels = {
  /**
   * A call begins: one `KeysAPI`/`MembersAPI`/... method, or one wait of a watcher (a wait re-polled after an
   * empty reply is a call of its own, under the same `watch:start`). {@link CallStartMessage}
   */
  callStart: 'etcdkit:client:call:start',
  /** A call got its reply (any status the API then decodes, errors like 404 included). {@link CallEndMessage} */
  callEnd: 'etcdkit:client:call:end',
  /** A call failed: every endpoint failed, a one-shot attempt failed, or it was aborted. {@link CallErrorMessage} */
  callError: 'etcdkit:client:call:error',
  /** One HTTP request to one endpoint is sent (each redirect hop is a request). {@link RequestStartMessage} */
  requestStart: 'etcdkit:client:request:start',
  /** A request's response headers arrived. {@link RequestHeadersMessage} */
  requestHeaders: 'etcdkit:client:request:headers',
  /** A request's whole reply was read. {@link RequestEndMessage} */
  requestEnd: 'etcdkit:client:request:end',
  /** A request failed (transport error, timeout, reply too large, abort). {@link RequestErrorMessage} */
  requestError: 'etcdkit:client:request:error',
  /** The client moves from one member to another, and why. {@link FailoverMessage} */
  failover: 'etcdkit:client:failover',
  /** A member became suspect, or answered again. {@link MemberHealthMessage} */
  memberHealth: 'etcdkit:client:member:health',
  /** A watcher starts waiting for its next event. {@link WatchStartMessage} */
  watchStart: 'etcdkit:client:watch:start',
  /** A watcher got an event. {@link WatchEventMessage} */
  watchEvent: 'etcdkit:client:watch:event',
  /** A watcher re-read its key and moved past the read (after error 401). {@link WatchResyncMessage} */
  watchResync: 'etcdkit:client:watch:resync',
  /** A waiting watch moved to another member with the same index. {@link WatchMoveMessage} */
  watchMove: 'etcdkit:client:watch:move',
} as const;

/** What one call is; the same object for every event of the call. */
export interface CallInfo {
  /** Unique per process, rising. */
  readonly id: number;
  /**
   * What the call does: `get`, `set`, `create`, `update`, `delete`, `createInOrder`, `watch`, `resync`,
   * `members.list`, `members.leader`, `members.add`, `members.remove`, `members.update`, `version`, `auth`
   * (`request` for anything else).
   */
  readonly operation: string;
  /** The key as the caller named it (without the keys prefix), for keys calls. */
  readonly key: string | undefined;
  /** One-shot (Go's create and delete: never failed over). */
  readonly oneShot: boolean;
  /** The caller said it is safe to repeat (`CallOptions.retrySafe`). */
  readonly retrySafe: boolean;
  /** The watcher waiting, for a watch's wait. */
  readonly watch: WatchInfo | undefined;
}

/** What one watcher is; the same object for every event of the watcher. */
export interface WatchInfo {
  /** Unique per process, rising. */
  readonly id: number;
  /** The watched key as the caller named it (without the keys prefix). */
  readonly key: string;
  readonly recursive: boolean;
  /**
   * True for the long-poll of a watch hub (one recursive watch of a directory that serves every shared watcher
   * below it, see `WatcherOptions.shared`); absent for a watcher's own watch.
   */
  readonly hub?: true;
}

/** `etcdkit:client:call:start` */
export interface CallStartMessage {
  readonly call: CallInfo;
}

/** `etcdkit:client:call:end` */
export interface CallEndMessage {
  readonly call: CallInfo;
  /** The endpoint that answered. */
  readonly endpoint: string;
  /** HTTP status of the reply (etcd errors such as 404 key not found are replies). */
  readonly status: number;
  /** The reply's `X-Etcd-Index`, when it has one. */
  readonly etcdIndex: number | undefined;
  /** Attempts made, 1 when the first endpoint answered (`attempts - 1` retries). */
  readonly attempts: number;
  /** From call start, in ms. */
  readonly durationMs: number;
}

/** `etcdkit:client:call:error` */
export interface CallErrorMessage {
  readonly call: CallInfo;
  /** What the call rejects with (a `ClusterError`, the one-shot attempt's error, or the abort reason). */
  readonly error: unknown;
  /** Attempts made (0 when it failed before any). */
  readonly attempts: number;
  readonly durationMs: number;
}

/** `etcdkit:client:request:start` */
export interface RequestStartMessage {
  readonly call: CallInfo;
  /** The endpoint this attempt is for (a redirect hop keeps it). */
  readonly endpoint: string;
  /** 1 for the call's first endpoint, 2 for the next, ... */
  readonly attempt: number;
  /** 0 for the request to the endpoint, 1 and up for redirect hops. */
  readonly hop: number;
  readonly method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  /** Origin of the request (scheme, host and port; the redirect target's for a hop). */
  readonly origin: string;
  /**
   * Escaped path and query (no credentials: they only ever travel in a header). The query holds the call's
   * conditions, a compare-and-swap's `prevValue` among them.
   */
  readonly path: string;
}

/** `etcdkit:client:request:headers` */
export interface RequestHeadersMessage extends RequestStartMessage {
  readonly status: number;
  /** From this request's start, in ms. */
  readonly durationMs: number;
}

/** `etcdkit:client:request:end` */
export interface RequestEndMessage extends RequestHeadersMessage {
  /** Bytes of the reply body. */
  readonly bytes: number;
}

/** `etcdkit:client:request:error` */
export interface RequestErrorMessage extends RequestStartMessage {
  /** The client's error for this attempt (`HeaderTimeoutError`, `EndpointError`, ...) or the abort reason. */
  readonly error: unknown;
  readonly durationMs: number;
}

/** `etcdkit:client:failover` */
export interface FailoverMessage {
  readonly call: CallInfo;
  /** The endpoint that failed. */
  readonly from: string;
  /** Where the client goes next. */
  readonly to: string;
  /**
   * `retry`: the call itself goes on at `to`. `pin`: a one-shot call failed and is not repeated; the
   * client's preferred endpoint moves to `to` for the next calls. `hedge`: a retry-safe call's attempt at
   * `from` has not answered within `retrySafeTimeout`; the call also goes to `to`, and the first reply wins.
   */
  readonly kind: 'retry' | 'pin' | 'hedge';
  /** Why: the failed attempt's error. */
  readonly error: unknown;
}

/** `etcdkit:client:member:health` */
export interface MemberHealthMessage {
  readonly endpoint: string;
  /** `suspect`: tried last until it answers again; `healthy`: answered a request or passed a probe. */
  readonly state: 'suspect' | 'healthy';
  /**
   * Why, in words: `failed a request`, `failed its health check` (suspect); `answered a request`, `passed a
   * health check` (healthy). `error` has the details.
   */
  readonly reason: string;
  /** The error that made it suspect, when there is one. */
  readonly error: unknown;
}

/** `etcdkit:client:watch:start` */
export interface WatchStartMessage {
  readonly watch: WatchInfo;
  /** The index waited for (0: from now). */
  readonly waitIndex: number;
}

/** `etcdkit:client:watch:event` */
export interface WatchEventMessage {
  readonly watch: WatchInfo;
  /** The endpoint that delivered it. */
  readonly endpoint: string;
  /** etcd's action (`set`, `delete`, `expire`, `compareAndSwap`, ...). */
  readonly action: string;
  /** The changed node's key. */
  readonly key: string;
  readonly modifiedIndex: number;
  /** The reply's `X-Etcd-Index`. */
  readonly etcdIndex: number;
  /**
   * How many store indexes the watcher was behind when it got the event (`etcdIndex - modifiedIndex`, at
   * least 0): 0 for an event it waited for, more when it caught up from etcd's history.
   */
  readonly lag: number;
}

/** `etcdkit:client:watch:resync` */
export interface WatchResyncMessage {
  readonly watch: WatchInfo;
  /** The index of the quorum read; the watcher waits for `index + 1` next. */
  readonly index: number;
}

/** `etcdkit:client:watch:move` */
export interface WatchMoveMessage {
  readonly watch: WatchInfo;
  readonly from: string;
  readonly to: string;
  /** The index the wait goes on with at `to`. */
  readonly waitIndex: number;
  /** Why `from` was left. */
  readonly error: unknown;
}
