/**
 * Errors of the etcd v2 client. Each class has a literal `name` and a stable `code`; messages keep the Go
 * client's wording so that what users search for still matches.
 */

/** The server's error codes (Go's `ErrorCode*` constants). */
export const ErrorCode = {
  KeyNotFound: 100,
  TestFailed: 101,
  NotFile: 102,
  NotDir: 104,
  NodeExist: 105,
  RootROnly: 107,
  DirNotEmpty: 108,
  Unauthorized: 110,
  PrevValueRequired: 201,
  TTLNaN: 202,
  IndexNaN: 203,
  InvalidField: 209,
  InvalidForm: 210,
  RaftInternal: 300,
  LeaderElect: 301,
  WatcherCleared: 400,
  EventIndexCleared: 401,
} as const;

/** Base class of every error this client creates itself. */
export class EtcdClientError extends Error {
  override name = 'EtcdClientError';
  readonly code: string = 'ETCDKIT_CLIENT';
}

/**
 * An error answered by the server for a keys request (Go's `client.Error`): `errorCode` is one of
 * {@link ErrorCode}, `message` the server's message, `etcdCause` its cause (usually the key) and `index` the
 * store index. `toString()` gives Go's form, `100: Key not found (/foo) [18]`.
 */
export class EtcdError extends EtcdClientError {
  override name = 'EtcdError';
  override readonly code = 'ETCDKIT_SERVER_ERROR';
  readonly errorCode: number;
  readonly etcdCause: string;
  readonly index: number;

  constructor(errorCode: number, message: string, etcdCause: string, index: number) {
    super(message);
    this.errorCode = errorCode;
    this.etcdCause = etcdCause;
    this.index = index;
  }

  override toString(): string {
    return `${this.errorCode}: ${this.message} (${this.etcdCause}) [${this.index}]`;
  }
}

/**
 * Every endpoint failed (Go's `*ClusterError`). `errors` holds one error per endpoint tried, in the order
 * tried, starting at the pinned endpoint.
 */
export class ClusterError extends EtcdClientError {
  override name = 'ClusterError';
  override readonly code = 'ETCDKIT_CLUSTER_UNAVAILABLE';
  readonly errors: readonly Error[];

  constructor(errors: readonly Error[]) {
    super(
      `client: etcd cluster is unavailable or misconfigured${errors.map((e, i) => `; error #${i}: ${e.message}\n`).join('')}`,
    );
    this.errors = errors;
  }

  /** One line per endpoint error: `error #0: ...\n` (Go's `Detail()`). */
  detail(): string {
    return this.errors.map((e, i) => `error #${i}: ${e.message}\n`).join('');
  }
}

/** `client: no endpoints available` (Go's `ErrNoEndpoints`). */
export class NoEndpointsError extends EtcdClientError {
  override name = 'NoEndpointsError';
  override readonly code = 'ETCDKIT_NO_ENDPOINTS';
  constructor() {
    super('client: no endpoints available');
  }
}

/** `client: too many redirects` (Go's `ErrTooManyRedirects`), and the other redirect failures. */
export class RedirectError extends EtcdClientError {
  override name = 'RedirectError';
  override readonly code = 'ETCDKIT_REDIRECT';
}

/** `client: no leader endpoint available` (Go's `ErrNoLeaderEndpoint`). */
export class NoLeaderEndpointError extends EtcdClientError {
  override name = 'NoLeaderEndpointError';
  override readonly code = 'ETCDKIT_NO_LEADER_ENDPOINT';
  constructor(options?: ErrorOptions) {
    super('client: no leader endpoint available', options);
  }
}

/** The endpoint answered something that is not an etcd reply (Go's `ErrInvalidJSON` and kin). */
export class InvalidResponseError extends EtcdClientError {
  override name = 'InvalidResponseError';
  override readonly code: string = 'ETCDKIT_INVALID_RESPONSE';
}

/** `client: response body is empty` (Go's `ErrEmptyBody`). */
export class EmptyBodyError extends InvalidResponseError {
  override name = 'EmptyBodyError';
  override readonly code = 'ETCDKIT_EMPTY_BODY';
  constructor() {
    super('client: response body is empty');
  }
}

/**
 * A reply holds a value that no etcd server sends and that cannot be used as it is: an index
 * (`createdIndex`, `modifiedIndex`, `X-Etcd-Index`, an error's `index`) that is negative, fractional or above
 * 2^53 - 1, a `ttl` or `errorCode` that is not a whole number, an `expiration` that is not an RFC 3339 time.
 * Go's decoding into `uint64`, `int64` or `time.Time` fails on these too (Go accepts indexes up to 2^64 - 1;
 * above 2^53 - 1 a JavaScript number is no longer exact, so a watcher would skip or repeat events).
 * `field` names the field, e.g. `node.createdIndex` or `X-Etcd-Index`.
 */
export class InvalidValueError extends InvalidResponseError {
  override name = 'InvalidValueError';
  override readonly code = 'ETCDKIT_INVALID_VALUE';
  /** The field or header that holds the value, e.g. `node.modifiedIndex`. */
  readonly field: string;
  constructor(field: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.field = field;
  }
}

/** The message of Go's `ErrInvalidJSON`. */
export const INVALID_JSON_MESSAGE =
  'client: response is invalid json. The endpoint is probably not valid etcd cluster endpoint';

/** One endpoint failed: a transport error, a 5xx, or the header timeout. `cause` keeps the original error. */
export class EndpointError extends EtcdClientError {
  override name = 'EndpointError';
  override readonly code: string = 'ETCDKIT_ENDPOINT';
  /** The endpoint, without credentials. */
  readonly endpoint: string;
  constructor(endpoint: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.endpoint = endpoint;
  }
}

/** `client: endpoint <ep> exceeded header timeout`. */
export class HeaderTimeoutError extends EndpointError {
  override name = 'HeaderTimeoutError';
  override readonly code = 'ETCDKIT_HEADER_TIMEOUT';
  constructor(endpoint: string) {
    super(endpoint, `client: endpoint ${endpoint} exceeded header timeout`);
  }
}

/**
 * `client: endpoint <ep> sent a reply larger than <n> bytes (maxResponseSize)`: the reply's Content-Length, or
 * the body received so far, went past `ClientConfig.maxResponseSize`. The request is aborted at once and,
 * like any endpoint failure, the next endpoint is tried (one-shot requests throw it as is).
 */
export class ResponseTooLargeError extends EndpointError {
  override name = 'ResponseTooLargeError';
  override readonly code = 'ETCDKIT_RESPONSE_TOO_LARGE';
  /** The limit that was exceeded, in bytes. */
  readonly limit: number;
  constructor(endpoint: string, limit: number, options?: ErrorOptions) {
    super(
      endpoint,
      `client: endpoint ${endpoint} sent a reply larger than ${limit} bytes (maxResponseSize)`,
      options,
    );
    this.limit = limit;
  }
}

/** A members API error: the server's message (Go's `membersError`) or `unexpected status code <n>`. */
export class MembersError extends EtcdClientError {
  override name = 'MembersError';
  override readonly code = 'ETCDKIT_MEMBERS';
  /** HTTP status of the reply. */
  readonly status: number;
  constructor(message: string, status: number) {
    super(message);
    this.status = status;
  }
}

/** An auth API error with the server's message (Go's `authError`). */
export class AuthError extends EtcdClientError {
  override name = 'AuthError';
  override readonly code = 'ETCDKIT_AUTH';
  /** HTTP status of the reply. */
  readonly status: number;
  constructor(message: string, status: number) {
    super(message);
    this.status = status;
  }
}

/** `unexpected status code <n>` from the members and roles APIs. */
export class UnexpectedStatusError extends EtcdClientError {
  override name = 'UnexpectedStatusError';
  override readonly code = 'ETCDKIT_UNEXPECTED_STATUS';
  readonly status: number;
  constructor(status: number) {
    super(`unexpected status code ${status}`);
    this.status = status;
  }
}

/** A key whose cleaned path leaves the keys prefix (Go lets `/../auth/enable` reach the auth API). */
export class KeyOutsidePrefixError extends RangeError {
  override name = 'KeyOutsidePrefixError';
  readonly code = 'ETCDKIT_KEY_OUTSIDE_PREFIX';
}

/** DNS discovery found nothing: both SRV look-ups failed. */
export class DiscoveryError extends EtcdClientError {
  override name = 'DiscoveryError';
  override readonly code = 'ETCDKIT_DISCOVERY';
}

/** True for a server error with code 100, Key not found (Go's `IsKeyNotFound`). */
export function isKeyNotFound(error: unknown): boolean {
  return error instanceof EtcdError && error.errorCode === ErrorCode.KeyNotFound;
}

/**
 * True for the auth error "user not found". Go matches `auth: User .* does not exist.`, which misses the
 * DELETE wording (`... does not exist`, no final dot); this recognises both.
 */
export function isUserNotFound(error: unknown): boolean {
  return error instanceof AuthError && /auth: User .* does not exist/.test(error.message);
}

/**
 * True for the auth error "role not found", in the GET (`does not exist.`) and DELETE (`doesn't exist.`)
 * wordings of the server.
 */
export function isRoleNotFound(error: unknown): boolean {
  return error instanceof AuthError && /auth: Role .* (does not|doesn't) exist/.test(error.message);
}
