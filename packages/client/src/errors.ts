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

/**
 * The brand of each error class: `Symbol.for('etcdkit.client.<name>')`, set (non-enumerable, `true`) on the
 * class's prototype. `Symbol.for` gives the same symbol in every copy of this package loaded in a process, so
 * an error made by one copy is an `instanceof` the class of another (see `EtcdClientError[Symbol.hasInstance]`).
 */
const brands = new WeakMap<abstract new (...args: never[]) => unknown, symbol>();

/** Gives `cls` its brand: the registered symbol `etcdkit.client.<name>`, set on its prototype. */
function brand(cls: abstract new (...args: never[]) => unknown, name: string): void {
  const symbol = Symbol.for(`etcdkit.client.${name}`);
  brands.set(cls, symbol);
  Object.defineProperty(cls.prototype, symbol, { value: true });
}

/**
 * `value instanceof cls` by brand when `cls` has one (a class of this module, in any copy of the package),
 * by prototype chain otherwise (a user's subclass of one of them).
 */
function hasBrand(cls: abstract new (...args: never[]) => unknown, value: unknown): boolean {
  const symbol = brands.get(cls);
  if (symbol === undefined) return Function.prototype[Symbol.hasInstance].call(cls, value);
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    (value as Record<symbol, unknown>)[symbol] === true
  );
}

/**
 * Base class of every error this client creates itself.
 *
 * Every error class here carries a brand, `Symbol.for('etcdkit.client.<name>')` (for this class
 * `etcdkit.client.EtcdClientError`), and `instanceof` checks the brand instead of the prototype chain: when
 * two copies of `@etcdkit/client` are installed (a library pins one version, the application another), an
 * error thrown by one copy is still an `instanceof` the classes of the other, and the `is...` predicates
 * (e.g. {@link isKeyNotFound}) recognise it. Subclasses keep their place in the hierarchy: an
 * {@link EtcdError} is an `EtcdClientError`, a {@link ClusterError} is not an `EtcdError`. A class that
 * extends one of these in user code is checked by its prototype chain, as usual.
 */
export class EtcdClientError extends Error {
  static {
    brand(EtcdClientError, 'EtcdClientError');
  }

  /**
   * True when `value` carries the brand of the class `instanceof` asks about (inherited: `this` is that
   * subclass), from any copy of the package.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the subclass on the right of `instanceof`
    return hasBrand(this, value);
  }

  override name = 'EtcdClientError';
  readonly code: string = 'ETCDKIT_CLIENT';
}

/**
 * An error answered by the server for a keys request (Go's `client.Error`): `errorCode` is one of
 * {@link ErrorCode}, `message` the server's message, `etcdCause` its cause (usually the key) and `index` the
 * store index. `toString()` gives Go's form, `100: Key not found (/foo) [18]`.
 */
export class EtcdError extends EtcdClientError {
  static {
    brand(EtcdError, 'EtcdError');
  }

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
  static {
    brand(ClusterError, 'ClusterError');
  }

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
  static {
    brand(NoEndpointsError, 'NoEndpointsError');
  }

  override name = 'NoEndpointsError';
  override readonly code = 'ETCDKIT_NO_ENDPOINTS';
  constructor() {
    super('client: no endpoints available');
  }
}

/** `client: too many redirects` (Go's `ErrTooManyRedirects`), and the other redirect failures. */
export class RedirectError extends EtcdClientError {
  static {
    brand(RedirectError, 'RedirectError');
  }

  override name = 'RedirectError';
  override readonly code = 'ETCDKIT_REDIRECT';
}

/** `client: no leader endpoint available` (Go's `ErrNoLeaderEndpoint`). */
export class NoLeaderEndpointError extends EtcdClientError {
  static {
    brand(NoLeaderEndpointError, 'NoLeaderEndpointError');
  }

  override name = 'NoLeaderEndpointError';
  override readonly code = 'ETCDKIT_NO_LEADER_ENDPOINT';
  constructor(options?: ErrorOptions) {
    super('client: no leader endpoint available', options);
  }
}

/** The endpoint answered something that is not an etcd reply (Go's `ErrInvalidJSON` and kin). */
export class InvalidResponseError extends EtcdClientError {
  static {
    brand(InvalidResponseError, 'InvalidResponseError');
  }

  override name = 'InvalidResponseError';
  override readonly code: string = 'ETCDKIT_INVALID_RESPONSE';
}

/** `client: response body is empty` (Go's `ErrEmptyBody`). */
export class EmptyBodyError extends InvalidResponseError {
  static {
    brand(EmptyBodyError, 'EmptyBodyError');
  }

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
  static {
    brand(InvalidValueError, 'InvalidValueError');
  }

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
  static {
    brand(EndpointError, 'EndpointError');
  }

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
  static {
    brand(HeaderTimeoutError, 'HeaderTimeoutError');
  }

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
  static {
    brand(ResponseTooLargeError, 'ResponseTooLargeError');
  }

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
  static {
    brand(MembersError, 'MembersError');
  }

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
  static {
    brand(AuthError, 'AuthError');
  }

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
  static {
    brand(UnexpectedStatusError, 'UnexpectedStatusError');
  }

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
  static {
    brand(KeyOutsidePrefixError, 'KeyOutsidePrefixError');
  }

  /** True when `value` carries this class's brand, from any copy of the package (see {@link EtcdClientError}). */
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class on the right of `instanceof`
    return hasBrand(this, value);
  }

  override name = 'KeyOutsidePrefixError';
  readonly code = 'ETCDKIT_KEY_OUTSIDE_PREFIX';
}

/**
 * `client: the client is closed`: the call was made after `Client.close()`, or a watch was waiting when the
 * client closed, or a request sent before the close failed (`cause` is its failure) and no other endpoint was
 * tried. {@link isClientClosed} recognises it.
 */
export class ClientClosedError extends EtcdClientError {
  static {
    brand(ClientClosedError, 'ClientClosedError');
  }

  override name = 'ClientClosedError';
  override readonly code = 'ETCDKIT_CLIENT_CLOSED';
  constructor(options?: ErrorOptions) {
    super('client: the client is closed', options);
  }
}

/** DNS discovery found nothing: both SRV look-ups failed. */
export class DiscoveryError extends EtcdClientError {
  static {
    brand(DiscoveryError, 'DiscoveryError');
  }

  override name = 'DiscoveryError';
  override readonly code = 'ETCDKIT_DISCOVERY';
}

/**
 * True for any error of this client ({@link EtcdClientError} or a subclass), from any installed copy of the
 * package (the check is by brand, see {@link EtcdClientError}).
 */
export function isEtcdClientError(error: unknown): error is EtcdClientError {
  return error instanceof EtcdClientError;
}

/**
 * True for an error answered by the server ({@link EtcdError}), whatever its `errorCode`, from any installed
 * copy of the package. A transport failure, a {@link ClusterError} or an abort is not one.
 */
export function isEtcdError(error: unknown): error is EtcdError {
  return error instanceof EtcdError;
}

/** An {@link EtcdError} with one `errorCode`. */
function hasCode(error: unknown, code: number): boolean {
  return error instanceof EtcdError && error.errorCode === code;
}

/**
 * True for server error 100, Key not found (Go's `IsKeyNotFound`): the key (or, for a compare, the key to
 * compare with) does not exist. `error.index` is the store index at the time.
 */
export function isKeyNotFound(
  error: unknown,
): error is EtcdError & { readonly errorCode: typeof ErrorCode.KeyNotFound } {
  return hasCode(error, ErrorCode.KeyNotFound);
}

/**
 * True for server error 101, Compare failed: a `prevValue` or `prevIndex` condition did not hold (a lost
 * compare-and-swap or compare-and-delete).
 */
export function isTestFailed(
  error: unknown,
): error is EtcdError & { readonly errorCode: typeof ErrorCode.TestFailed } {
  return hasCode(error, ErrorCode.TestFailed);
}

/** True for server error 102, Not a file: a value operation on a directory. */
export function isNotFile(
  error: unknown,
): error is EtcdError & { readonly errorCode: typeof ErrorCode.NotFile } {
  return hasCode(error, ErrorCode.NotFile);
}

/** True for server error 104, Not a directory: a directory operation on a key, or a key below a key. */
export function isNotDir(
  error: unknown,
): error is EtcdError & { readonly errorCode: typeof ErrorCode.NotDir } {
  return hasCode(error, ErrorCode.NotDir);
}

/**
 * True for server error 105, Key already exists: a create (`prevExist: false`) of a key that exists, or a
 * directory where a key or directory is.
 */
export function isNodeExist(
  error: unknown,
): error is EtcdError & { readonly errorCode: typeof ErrorCode.NodeExist } {
  return hasCode(error, ErrorCode.NodeExist);
}

/** True for server error 108, Directory not empty: a delete with `dir` (not `recursive`) of a non-empty one. */
export function isDirNotEmpty(
  error: unknown,
): error is EtcdError & { readonly errorCode: typeof ErrorCode.DirNotEmpty } {
  return hasCode(error, ErrorCode.DirNotEmpty);
}

/**
 * True for server error 401, The event in requested index is outdated and cleared: a watch's index is older
 * than the server's event history (the last 1000 events). `Watcher.resync()` is the way on.
 */
export function isEventIndexCleared(
  error: unknown,
): error is EtcdError & { readonly errorCode: typeof ErrorCode.EventIndexCleared } {
  return hasCode(error, ErrorCode.EventIndexCleared);
}

/** True for a {@link ClusterError}: every endpoint tried failed (from any installed copy of the package). */
export function isClusterError(error: unknown): error is ClusterError {
  return error instanceof ClusterError;
}

/** True for a {@link ClientClosedError}: the call met a closed client (from any installed copy of the package). */
export function isClientClosed(error: unknown): error is ClientClosedError {
  return error instanceof ClientClosedError;
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
