/**
 * Errors thrown by testkit. Each has a literal `name` and a stable `code`, as undici's errors do.
 */

/** Base class of every testkit error. */
export class TestkitError extends Error {
  override name = 'TestkitError';
  readonly code: string = 'ETCDKIT_TESTKIT';
}

/** No etcd binary was found (neither `ETCD_BIN`, the `etcdBin` option, nor `etcd` on PATH). */
export class EtcdNotFoundError extends TestkitError {
  override name = 'EtcdNotFoundError';
  override readonly code = 'ETCDKIT_ETCD_NOT_FOUND';
}

/** The etcd binary is too old (< 3.4) or too new (>= 3.6, which has no v2 API). */
export class UnsupportedEtcdVersionError extends TestkitError {
  override name = 'UnsupportedEtcdVersionError';
  override readonly code = 'ETCDKIT_UNSUPPORTED_ETCD_VERSION';
  constructor(
    message: string,
    /** The version the binary reported, e.g. `3.6.0`. */
    readonly version: string,
  ) {
    super(message);
  }
}

/** A cluster did not start, or did not become ready in time. Everything it started has been cleaned up. */
export class ClusterStartError extends TestkitError {
  override name = 'ClusterStartError';
  override readonly code = 'ETCDKIT_CLUSTER_START';
}

/** Waiting for a condition of the cluster (a leader, a healthy member) ran out of time. */
export class ClusterTimeoutError extends TestkitError {
  override name = 'ClusterTimeoutError';
  override readonly code = 'ETCDKIT_CLUSTER_TIMEOUT';
}

/** A fault or operation was asked of a member in a state that does not allow it. */
export class MemberStateError extends TestkitError {
  override name = 'MemberStateError';
  override readonly code = 'ETCDKIT_MEMBER_STATE';
}

/** The fault cannot be injected on this member or backend (e.g. a peer-link delay on a Docker bridge network). */
export class UnsupportedFaultError extends TestkitError {
  override name = 'UnsupportedFaultError';
  override readonly code = 'ETCDKIT_UNSUPPORTED_FAULT';
}

/** The Docker backend was asked for, and the optional peer dependency testcontainers is not installed. */
export class TestcontainersMissingError extends TestkitError {
  override name = 'TestcontainersMissingError';
  override readonly code = 'ETCDKIT_TESTCONTAINERS_MISSING';
}

/**
 * testcontainers is installed but importing it failed (e.g. a version that does not support this Node.js, or a
 * broken install). `cause` is the import's error, whose message this error's message quotes.
 */
export class TestcontainersLoadError extends TestkitError {
  override name = 'TestcontainersLoadError';
  override readonly code = 'ETCDKIT_TESTCONTAINERS_LOAD';
}

/**
 * The network-namespace backend cannot run here: it needs root (`CAP_NET_ADMIN`), iproute2 (`ip`, `tc`) and
 * iptables, and `ip netns add` must work. `cause` is the failed command's error when there is one.
 */
export class NetnsUnavailableError extends TestkitError {
  override name = 'NetnsUnavailableError';
  override readonly code = 'ETCDKIT_NETNS_UNAVAILABLE';
}
