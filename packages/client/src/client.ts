import { Agent, type Dispatcher } from 'undici';
import type { CallInfo } from './diagnostics.js';
import {
  ClientClosedError,
  ClusterError,
  EndpointError,
  HeaderTimeoutError,
  NoEndpointsError,
  NoLeaderEndpointError,
  RedirectError,
  type ResponseTooLargeError,
} from './errors.js';
import { AbortHook } from './internal/abort-hook.js';
import type { Action } from './internal/action.js';
import { getAction } from './internal/action.js';
import { attemptEndpoint, type RawResponse } from './internal/attempt.js';
import { type CallTrace, channels, newCall, traceCall, tracingCalls } from './internal/channels.js';
import { type Endpoint, parseEndpoint, shuffle } from './internal/endpoints.js';
import { AllAttemptsFailed, attemptsWithin, hedge } from './internal/hedge.js';
import { MemberHealth } from './internal/member-health.js';
import { decodeLeader, decodeMemberList, membersAction } from './internal/members-actions.js';
import { ResponseTime } from './internal/response-time.js';
import { kDo, kSharedWatchThreshold, kWaitsOnTwo } from './internal/symbols.js';
import { decodeVersion } from './internal/version.js';
import { waitTwice } from './internal/wait-twice.js';

/** How the client picks the endpoint it prefers (Go's `EndpointSelectionMode`). */
export const EndpointSelectionMode = {
  /** Endpoints are shuffled; the one that last answered is preferred. */
  Random: 0,
  /** After `sync()`, the leader's client URL is preferred. */
  PrioritizeLeader: 1,
} as const;
export type EndpointSelectionMode = (typeof EndpointSelectionMode)[keyof typeof EndpointSelectionMode];

/**
 * Go's `DefaultRequestTimeout` (5 s), in ms. Go exports it but never uses it; here it is also the default
 * header timeout per request, so that a SIGSTOPed member cannot hang a call forever (Go's caveat 3).
 */
export const DEFAULT_REQUEST_TIMEOUT = 5000;

/**
 * The longest {@link ClientConfig.retrySafeTimeout} the client picks by itself: 1000 ms, etcd's default election
 * timeout (and the timeout before its first answer). A healthy member answers a write in a few ms; a stuck
 * proposal waits 5 s + 2 x election timeout in etcd 3.4.
 */
export const DEFAULT_RETRY_SAFE_TIMEOUT = 1000;

/**
 * The shortest {@link ClientConfig.retrySafeTimeout} the client picks by itself: 150 ms. Well above a healthy
 * write on a LAN (a few ms, a slow fsync tens of ms), so a hedge is rare while the cluster is healthy, and
 * short beside an election (a few times etcd's heartbeat), so a write stuck on a member that lost its leader
 * is sent again soon after a new one exists.
 */
export const MIN_RETRY_SAFE_TIMEOUT = 150;

/**
 * The shortest timeout of a `/health` probe, 500 ms: a probe waits twice the {@link ClientConfig.retrySafeTimeout}
 * (measured or fixed), at least this, at most the probe interval. etcd answers `/health` after a quorum read,
 * as slow as a write; a frozen member never answers.
 */
const MIN_PROBE_TIMEOUT = 500;

/**
 * After a round of the members hedged every `retrySafeTimeout`, each hedge of a retry-safe call waits this
 * many times longer than the one before (3 members, 150 ms: hedges at 150, 300, 450, then 675, 1012, 1518 ms...):
 * an election is crossed soon, and a call stuck in a long outage sends a handful of attempts, not one every
 * `retrySafeTimeout`.
 */
const HEDGE_BACKOFF = 1.5;

/** Between `/health` probes of a suspect member, in ms (or `watchLivenessInterval` when shorter). */
const SUSPECT_PROBE_INTERVAL = 1000;

/**
 * The default {@link ClientConfig.maxResponseSize}: 64 MiB. etcd's largest replies are recursive reads of a
 * big tree (one value is at most about 1.5 MiB, etcd's default `--max-request-bytes`); 64 MiB holds a recursive
 * read of a v2 store with hundreds of thousands of small keys, while a reply stays well below what V8 can hold
 * as one string (about 512 MiB) and what parsing it costs in memory (several times its size).
 */
export const DEFAULT_MAX_RESPONSE_SIZE = 64 * 1024 * 1024;

/** Go's `CheckRedirectFunc`: called with the number of redirects so far; throw to stop following. */
export type CheckRedirect = (via: number) => void;

/** Go's `DefaultCheckRedirect`: at most 10 redirects. */
export const defaultCheckRedirect: CheckRedirect = (via) => {
  if (via > 10) throw new RedirectError('client: too many redirects');
};

/** Server and cluster versions (Go's `version.Versions`). */
export interface Versions {
  /** The member's version, e.g. `3.4.23`. */
  readonly server: string;
  /** The cluster's version, e.g. `3.4.0`. */
  readonly cluster: string;
}

/** TLS settings for https endpoints, passed to undici's connector. */
export interface ClientTLSOptions {
  /** CA certificates (PEM) to trust instead of the system's. */
  readonly ca?: string | Buffer | readonly (string | Buffer)[];
  /** Client certificate (PEM) for mutual TLS. */
  readonly cert?: string | Buffer;
  /** Client private key (PEM) for mutual TLS. */
  readonly key?: string | Buffer;
  /** Server name for SNI and certificate checks. */
  readonly servername?: string;
  /** Verify the server's certificate. Default `true`. */
  readonly rejectUnauthorized?: boolean;
}

/** Options of {@link Client} (Go's `Config`). */
export interface ClientConfig {
  /** Client URLs of the members, e.g. `['http://127.0.0.1:2379']`. Absolute http(s) URLs only. */
  readonly endpoints: readonly string[];
  /**
   * HTTP dispatcher (Go's `Transport`). Default: an undici Agent of the client's own, closed by `close()`, that
   * keeps a connection per request in flight and closes one after 10 s idle (a burst's extra connections go
   * away; Go keeps two idle per host instead).
   */
  readonly dispatcher?: Dispatcher;
  /** Called before each redirect with the count so far; throw to stop. Default: at most 10 redirects. */
  readonly checkRedirect?: CheckRedirect;
  /** Basic auth user. Credentials are sent only when this is non-empty (as in Go). */
  readonly username?: string;
  /** Basic auth password. Never logged, printed or put into an error. */
  readonly password?: string;
  /**
   * Time allowed for the response headers of each request to one endpoint, in ms, after which the next
   * endpoint is tried. It bounds the connection attempt (for the client's own dispatcher) and, once sent, the
   * wait for headers; it never applies to watches, nor to reading a body. Default
   * {@link DEFAULT_REQUEST_TIMEOUT} (Go: 0); 0 disables it.
   */
  readonly headerTimeoutPerRequest?: number;
  /** Endpoint preference. Default {@link EndpointSelectionMode.Random}. */
  readonly selectionMode?: EndpointSelectionMode;
  /** TLS for https endpoints (used only for the client's own dispatcher). */
  readonly tls?: ClientTLSOptions;
  /**
   * How often a waiting watch checks its member's `/health`, in ms; a failed check (no answer in time, or
   * `{"health":"false"}`) moves the watch to another member with the same index (Go's caveats 3 and 4: nothing
   * is lost or repeated) and makes the member suspect for every request. A probe waits twice
   * {@link retrySafeTimeout}, at least 500 ms, at most the interval.
   * One probe loop runs per member, however many watches wait on it. Default 2000; 0 disables it. Suspect
   * members are probed every `min(watchLivenessInterval, 1000)` ms (1000 when this is 0) until they answer.
   */
  readonly watchLivenessInterval?: number;
  /**
   * Where the credentials go when a reply redirects (any 3xx with a Location). `'endpoints'`: only to a
   * Location whose origin (scheme, host and port) is one of the client's endpoints; a redirect elsewhere is
   * still followed, without the Authorization header, except for a request whose body carries a password (the
   * auth API's user create and password change), whose redirect elsewhere is refused with a `RedirectError`.
   * `'any'`: wherever the redirect points, as Go does. Default `'endpoints'`. The endpoints are those in use
   * when the reply comes: after {@link Client.sync}, the client URLs of the cluster's member list, which the
   * client then sends every request (and its credentials) to anyway.
   */
  readonly redirectCredentials?: 'endpoints' | 'any';
  /**
   * The largest reply body accepted, in bytes (Go: no limit). A reply that announces more (Content-Length) or
   * sends more is aborted at once with a {@link ResponseTooLargeError}, and the next endpoint is tried, as for
   * any endpoint failure. Default {@link DEFAULT_MAX_RESPONSE_SIZE} (64 MiB); 0 disables it. Raise it for
   * recursive reads of a larger tree.
   */
  readonly maxResponseSize?: number;
  /**
   * How long a {@link CallOptions.retrySafe} call waits for its member's response headers, in ms, before it
   * also sends the request to the next member (a hedge: the slow attempt keeps waiting, up to
   * {@link headerTimeoutPerRequest}, and the first reply wins). A healthy member answers a write in a few ms,
   * while a proposal stuck on a member that forwarded it to a dead leader (or dropped it as a candidate) waits
   * etcd 3.4's own request timeout, 5 s + 2 x election timeout.
   *
   * Default: adaptive. The client measures how long the raft rounds it asked for took (the keys writes and
   * quorum reads that succeeded, and the `/health` probes that passed: etcd answers those after a quorum read),
   * with RFC 6298's smoothed time plus four deviations (as TCP times its retransmissions), and waits that long, at least
   * {@link MIN_RETRY_SAFE_TIMEOUT} (150 ms) and at most {@link DEFAULT_RETRY_SAFE_TIMEOUT} (1000 ms, also its
   * value before the first answer): on a LAN a hedge comes 150 ms into an election, on a slow cluster later.
   * After a round of the members, each hedge of a call waits 1.5 times longer than the one before.
   *
   * A number fixes it (each hedge is one more request while the cluster is slow): about the cluster's
   * election timeout, or more for a slow disk. 0 uses {@link headerTimeoutPerRequest}; it is never longer
   * than `headerTimeoutPerRequest` when that is set.
   */
  readonly retrySafeTimeout?: number;
  /**
   * Shared watchers (`WatcherOptions.shared`) of one directory wait in one long-poll of the directory once this
   * many of them wait at once; fewer wait alone. Default {@link DEFAULT_SHARED_WATCH_THRESHOLD} (4): a watcher
   * alone costs a request per event of its own key, the shared long-poll one per event of the whole directory
   * (in every process that shares it), so a few watchers of a busy directory are cheaper alone, and many are
   * far cheaper together (one socket instead of one each). 1: always share.
   */
  readonly sharedWatchThreshold?: number;
  /**
   * Whether the calls and watches that ask for it go to two members at once (not in Go): a call's
   * {@link CallOptions.fanOut} and a watcher's `WatcherOptions.redundant`, which the recipes use for their
   * releases and their waits. Default `true`. `false`: every call and wait goes to one member at a time,
   * whatever its options say (half the watch requests per event, one request per release; a wait on a
   * member that freezes then lasts until its health check, and a release until its hedge).
   */
  readonly redundancy?: boolean;
}

/** The default {@link ClientConfig.sharedWatchThreshold}. */
export const DEFAULT_SHARED_WATCH_THRESHOLD = 4;

/** Options every call takes. */
export interface CallOptions {
  /** Aborts the call; it then rejects with `signal.reason` unchanged, at once, even when `retrySafe`. */
  readonly signal?: AbortSignal;
  /**
   * The call is safe to repeat: a CAS write with `prevIndex`/`prevValue`, or a write whose late success is
   * harmless. It then fails over like a read even when it is one-shot (create, delete), and is hedged: when its
   * member has not sent headers within {@link ClientConfig.retrySafeTimeout}, the request also goes to another
   * member (the one with the fewest attempts of the call, members not suspect first), the first reply wins and
   * the other attempts are aborted. Any attempt may still be applied by etcd after another's reply: a repeated attempt can meet the
   * effect of an earlier one (error 100 key not found, 101 compare failed, 105 node exists); the caller must
   * treat that as such. Default `false` (Go's rules).
   */
  readonly retrySafe?: boolean;
  /**
   * How many members a {@link retrySafe} call goes to at once (not in Go; default 1, at most the number of
   * endpoints): the first reply wins, and the other copies are let finish for a moment, then aborted. For a
   * write whose delay matters more than one more request, such as a lock's release: a member that froze just
   * before it then costs nothing, where one copy would wait a `retrySafeTimeout` for its hedge. Each copy may
   * be applied, so it is for writes whose repeat is harmless (see {@link retrySafe}). Ignored unless
   * `retrySafe`, and when the client's {@link ClientConfig.redundancy} is `false`; a call with a value that
   * is not a whole number >= 1 rejects with a `RangeError`. Such a call is no sample of the measured
   * `retrySafeTimeout` (the faster of two copies would pull it down).
   */
  readonly fanOut?: number;
}

/**
 * A client of an etcd cluster's v2 API (Go's `client.New`). It prefers one endpoint while it works and fails
 * over to the others on transport errors and 5xx replies; see the package README for the exact rules.
 * Safe for concurrent use.
 */
export class Client implements AsyncDisposable {
  readonly #dispatcher: Dispatcher;
  readonly #ownsDispatcher: boolean;
  readonly #checkRedirect: CheckRedirect;
  readonly #authorization: string | undefined;
  readonly #headerTimeout: number;
  /** {@link ClientConfig.redundancy}. */
  readonly #redundancy: boolean;
  /** {@link ClientConfig.retrySafeTimeout} when the user fixed it; `undefined`: {@link #responseTime}'s. */
  readonly #retrySafeTimeout: number | undefined;
  /** How long the raft rounds this client asked for took: the adaptive {@link ClientConfig.retrySafeTimeout}. */
  readonly #responseTime: ResponseTime;
  readonly #health: MemberHealth;
  readonly #selectionMode: EndpointSelectionMode;
  readonly #redirectCredentials: 'endpoints' | 'any';
  readonly #maxResponseSize: number;
  /** @internal {@link ClientConfig.sharedWatchThreshold}, for the watch hubs. */
  readonly [kSharedWatchThreshold]: number;
  #endpoints: Endpoint[] = [];
  #pinned = 0;
  /** Aborted by {@link close} with a {@link ClientClosedError}: ends every call in flight and refuses later ones. */
  readonly #closing = new AbortHook();
  #closed: Promise<void> | undefined;

  /**
   * @throws {NoEndpointsError} when `endpoints` is empty.
   * @throws {TypeError} when an endpoint is not an absolute http(s) URL, or an option has the wrong type.
   * @throws {RangeError} when a timeout or `maxResponseSize` is negative or `redirectCredentials` is unknown.
   */
  constructor(config: ClientConfig) {
    const {
      headerTimeoutPerRequest = DEFAULT_REQUEST_TIMEOUT,
      watchLivenessInterval = 2000,
      selectionMode = EndpointSelectionMode.Random,
      redirectCredentials = 'endpoints',
      maxResponseSize = DEFAULT_MAX_RESPONSE_SIZE,
      retrySafeTimeout,
      sharedWatchThreshold = DEFAULT_SHARED_WATCH_THRESHOLD,
      redundancy = true,
    } = config;
    for (const [name, value] of [
      ['headerTimeoutPerRequest', headerTimeoutPerRequest],
      ['watchLivenessInterval', watchLivenessInterval],
      ['retrySafeTimeout', retrySafeTimeout ?? 0],
    ] as const) {
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
        throw new RangeError(`${name} must be a finite number of ms >= 0, got ${String(value)}`);
      }
    }
    if (
      selectionMode !== EndpointSelectionMode.Random &&
      selectionMode !== EndpointSelectionMode.PrioritizeLeader
    ) {
      throw new RangeError(`invalid endpoint selection mode: ${String(selectionMode)}`);
    }
    if (redirectCredentials !== 'endpoints' && redirectCredentials !== 'any') {
      throw new RangeError(
        `redirectCredentials must be 'endpoints' or 'any', got ${String(redirectCredentials)}`,
      );
    }
    if (
      typeof maxResponseSize !== 'number' ||
      !Number.isSafeInteger(maxResponseSize) ||
      maxResponseSize < 0
    ) {
      throw new RangeError(
        `maxResponseSize must be a whole number of bytes >= 0, got ${String(maxResponseSize)}`,
      );
    }
    if (!Number.isSafeInteger(sharedWatchThreshold) || sharedWatchThreshold < 1) {
      throw new RangeError(
        `sharedWatchThreshold must be a whole number >= 1, got ${String(sharedWatchThreshold)}`,
      );
    }
    if (typeof redundancy !== 'boolean')
      throw new RangeError(`redundancy must be true or false, got ${String(redundancy)}`);
    this.#redundancy = redundancy;
    this[kSharedWatchThreshold] = sharedWatchThreshold;
    this.#redirectCredentials = redirectCredentials;
    this.#maxResponseSize = maxResponseSize;
    this.#headerTimeout = headerTimeoutPerRequest;
    const ceiling = (timeout: number): number =>
      timeout > 0 && headerTimeoutPerRequest > 0
        ? Math.min(timeout, headerTimeoutPerRequest)
        : timeout || headerTimeoutPerRequest;
    this.#retrySafeTimeout = retrySafeTimeout === undefined ? undefined : ceiling(retrySafeTimeout);
    this.#responseTime = new ResponseTime(MIN_RETRY_SAFE_TIMEOUT, ceiling(DEFAULT_RETRY_SAFE_TIMEOUT));
    this.#selectionMode = selectionMode;
    this.#checkRedirect = config.checkRedirect ?? defaultCheckRedirect;
    if (config.username) {
      const token = Buffer.from(`${config.username}:${config.password ?? ''}`).toString('base64');
      this.#authorization = `Basic ${token}`;
    }
    this.#ownsDispatcher = config.dispatcher === undefined;
    this.#dispatcher =
      config.dispatcher ??
      new Agent({
        connect: { timeout: headerTimeoutPerRequest || 30_000, ...tlsConnectOptions(config.tls) },
        keepAliveTimeout: 10_000,
      });
    this.#health = new MemberHealth(
      this.#dispatcher,
      watchLivenessInterval,
      watchLivenessInterval > 0
        ? Math.min(watchLivenessInterval, SUSPECT_PROBE_INTERVAL)
        : SUSPECT_PROBE_INTERVAL,
      () => {
        const slow = this.#slowAfter();
        // 0: no deadline of the client's own (Go's behaviour): a probe waits the whole interval
        return slow > 0 ? Math.max(MIN_PROBE_TIMEOUT, 2 * slow) : Number.POSITIVE_INFINITY;
      },
      // etcd answers /health after a quorum read, a raft round as a write is: a sample of the same time
      (ms) => this.#responseTime.sample(ms),
    );
    this.setEndpoints(config.endpoints);
  }

  /** @internal Whether a redundant wait goes to two members now, for the watch hubs. */
  get [kWaitsOnTwo](): boolean {
    return this.#redundancy && this.#endpoints.length > 1;
  }

  /** The endpoints in the current order (shuffled in Random mode), as given. */
  endpoints(): string[] {
    return this.#endpoints.map((endpoint) => endpoint.text);
  }

  /**
   * Replaces the endpoints (shuffled, pin reset to the first). On error the previous endpoints are kept.
   *
   * @throws {NoEndpointsError} when `endpoints` is empty.
   * @throws {TypeError} when an endpoint is not an absolute http(s) URL.
   */
  setEndpoints(endpoints: readonly string[]): void {
    if (!Array.isArray(endpoints) || endpoints.length === 0) throw new NoEndpointsError();
    const parsed = endpoints.map((text) => parseEndpoint(String(text)));
    this.#endpoints = shuffle(parsed);
    this.#pinned = 0;
    this.#health.retain(this.#endpoints);
  }

  /**
   * Sends an action to the cluster (Go's `httpClusterClient.Do`): the pinned endpoint first, then each other
   * once, members not suspect before suspect ones. Transport errors, header timeouts and 5xx replies move on
   * to the next endpoint (and make the member suspect); any other reply is returned and its endpoint pinned.
   * One-shot actions (create, delete) never move on unless `retrySafe`: the first failure is thrown as is and
   * the pin advances to the next member not suspect. When all fail, a {@link ClusterError} lists each
   * endpoint's error. An abort rejects with `signal.reason` at once; a closed client with a
   * {@link ClientClosedError}.
   *
   * @internal Keyed by a symbol of this package's own: the APIs of this package call it, users cannot.
   */
  async [kDo](action: Action, options: CallOptions = {}): Promise<RawResponse> {
    return this.#doOn(this.#endpoints, this.#pinned, action, options, (index) => {
      if (this.#endpoints[index] !== undefined) this.#pinned = index;
    });
  }

  #doOn(
    endpoints: readonly Endpoint[],
    pinned: number,
    action: Action,
    options: CallOptions,
    pin: (index: number) => void,
  ): Promise<RawResponse> {
    if (!tracingCalls()) return this.#attempts(endpoints, pinned, action, options, pin, undefined);
    const call = newCall(
      action.operation ?? 'request',
      action.key,
      action.oneShot === true,
      options.retrySafe === true,
      action.watch,
    );
    const trace: CallTrace = { call, attempt: 0 };
    return traceCall(trace, () => this.#attempts(endpoints, pinned, action, options, pin, trace));
  }

  async #attempts(
    endpoints: readonly Endpoint[],
    pinned: number,
    action: Action,
    options: CallOptions,
    pin: (index: number) => void,
    trace: CallTrace | undefined,
  ): Promise<RawResponse> {
    const { signal } = options;
    signal?.throwIfAborted();
    if (action.closer?.aborted) throw action.closer.reason;
    if (this.#closing.aborted) throw new ClientClosedError();
    if (endpoints.length === 0) throw new NoEndpointsError();
    // A request already sent when the client closes is let finish (closing the client's own dispatcher waits
    // for it); a watch's wait is not, since it may never end.
    if (!action.wait) return this.#tryEach(endpoints, pinned, action, options, pin, trace, action.closer);
    if (action.redundant && this.#redundancy && endpoints.length > 1) {
      const twice = this.#waitTwice(endpoints, pinned, action, options, pin, trace);
      if (twice) return twice;
    }
    // A watcher's wait ends on the watcher's close and on the client's (each attempt of a wait hears both).
    return this.#tryEach(endpoints, pinned, action, options, pin, trace, action.closer);
  }

  /**
   * A redundant watch (see {@link waitTwice}): the wait from the pinned member as any, and a second one from
   * the next member not suspect, whose health is not checked (the first one's is: a member behind the other is
   * found by the race itself, and made suspect). `undefined` when every other member is suspect: the watch then
   * waits once.
   */
  #waitTwice(
    endpoints: readonly Endpoint[],
    pinned: number,
    action: Action,
    options: CallOptions,
    pin: (index: number) => void,
    trace: CallTrace | undefined,
  ): Promise<RawResponse> | undefined {
    const health = this.#health;
    const first = health.order(endpoints, pinned)?.[0] ?? pinned;
    const second = health.next(endpoints, first);
    if (second === first || health.isSuspect(endpoints[second]!)) return undefined;
    return waitTwice({
      closers: action.closer ? [this.#closing, action.closer] : [this.#closing],
      // at least 1 s (2 s with no timeouts of the client's own): a follower loaded enough to tell an event
      // late is not made suspect for it
      graceMs: 2 * Math.max(this.#slowAfter() || DEFAULT_RETRY_SAFE_TIMEOUT, DEFAULT_RETRY_SAFE_TIMEOUT / 2),
      run: (side, closer, at) => {
        const sideAction: Action = {
          ...action,
          unchecked: side === 1,
          httpRequest: (endpoint) => {
            at(endpoint);
            return action.httpRequest(endpoint);
          },
        };
        return side === 0
          ? this.#tryEach(endpoints, pinned, sideAction, options, pin, trace, closer)
          : this.#tryEach(endpoints, second, sideAction, options, () => {}, undefined, closer);
      },
      behind: (endpoint) =>
        health.failed(
          endpoint,
          new EndpointError(
            endpoint.text,
            `client: endpoint ${endpoint.text} did not tell a watch event in time`,
          ),
        ),
    });
  }

  /**
   * The loop of {@link #attempts}; `closer` ends it (a watcher's close, or a side's of a redundant wait; a
   * wait's attempts hear the client's close too). Once the client is closed, no further endpoint is tried.
   */
  async #tryEach(
    endpoints: readonly Endpoint[],
    pinned: number,
    action: Action,
    options: CallOptions,
    pin: (index: number) => void,
    trace: CallTrace | undefined,
    closer: AbortHook | undefined,
  ): Promise<RawResponse> {
    if (options.retrySafe === true && !action.wait)
      return this.#hedged(endpoints, pinned, action, options, pin, trace, closer);
    const { signal } = options;
    const health = this.#health;
    const errors: Error[] = [];
    const order = health.order(endpoints, pinned);
    for (let i = 0; i < endpoints.length; i++) {
      const index = order ? order[i]! : (pinned + i) % endpoints.length;
      const endpoint = endpoints[index]!;
      const liveness = action.wait && !action.unchecked ? health.watch(endpoint) : undefined;
      if (trace) trace.attempt = i + 1;
      const started = action.raft ? performance.now() : 0;
      try {
        const response = await this.#attempt(
          endpoint,
          action,
          endpoints,
          signal,
          closer,
          trace,
          liveness?.hook,
        );
        this.#timed(action, response, started);
        health.answered(endpoint);
        if (index !== pinned) pin(index);
        return response;
      } catch (error) {
        this.#throwIfEnded(error, signal, closer);
        health.failed(endpoint, error);
        if (action.oneShot) {
          const next = health.next(endpoints, index);
          if (trace && next !== index)
            publishFailover(trace.call, action, endpoint, endpoints[next]!, 'pin', error);
          pin(next);
          throw error;
        }
        if (trace && i + 1 < endpoints.length) {
          const next = endpoints[order ? order[i + 1]! : (pinned + i + 1) % endpoints.length]!;
          publishFailover(trace.call, action, endpoint, next, 'retry', error);
        }
        errors.push(asError(error, endpoint));
      } finally {
        liveness?.release();
      }
    }
    throw new ClusterError(errors);
  }

  /** One attempt of a call at `endpoint` (see {@link attemptEndpoint}), with the client's settings. */
  #attempt(
    endpoint: Endpoint,
    action: Action,
    endpoints: readonly Endpoint[],
    signal: AbortSignal | undefined,
    closer: AbortHook | undefined,
    trace: CallTrace | undefined,
    liveness?: AbortHook,
  ): Promise<RawResponse> {
    return attemptEndpoint(endpoint, action, {
      dispatcher: this.#dispatcher,
      headerTimeoutMs: this.#headerTimeout,
      checkRedirect: this.#checkRedirect,
      authorization: this.#authorization,
      redirectCredentials: this.#redirectCredentials,
      endpoints,
      maxResponseSize: this.#maxResponseSize,
      signal,
      closer,
      // a close lets a request already sent finish, but not a wait, which may never end
      closing: action.wait ? this.#closing : undefined,
      liveness,
      trace,
    });
  }

  /**
   * A sample of the adaptive `retrySafeTimeout`: the time since `started` of a raft round that succeeded (an
   * error reply can come before any raft round; a read of the member alone is none).
   */
  #timed(action: Action, response: RawResponse, started: number): void {
    if (action.raft && response.status < 300) this.#responseTime.sample(performance.now() - started);
  }

  /** How long an attempt of a retry-safe call may take before the call is hedged, in ms. */
  #slowAfter(): number {
    return this.#retrySafeTimeout ?? this.#responseTime.timeout();
  }

  /**
   * After an attempt or call failed with `error`: when the call itself ended (its signal, its watcher's close,
   * the client's close), throws what the call rejects with; otherwise returns and the call goes on.
   */
  #throwIfEnded(error: unknown, signal: AbortSignal | undefined, closer: AbortHook | undefined): void {
    if (signal?.aborted) throw signal.reason;
    const closing = this.#closing;
    // a wait hears the client's close itself: when that came first, it rejects with the close's reason
    if (closing.aborted && error === closing.reason) throw error;
    if (closer?.aborted) throw closer.reason;
    if (closing.aborted) throw new ClientClosedError({ cause: error });
  }

  /**
   * The attempts of a {@link CallOptions.retrySafe} call, hedged: the next attempt starts whenever one fails or
   * none has answered within `retrySafeTimeout` (after a round of the members, each gap 1.5x the one before),
   * while the slow ones keep waiting (up to `headerTimeoutPerRequest` each): the first reply wins, the others
   * are aborted. Each attempt goes to the member with the fewest attempts of this call (members not suspect
   * first, ties in order from the pin). A slow member is not made suspect (a survivor waiting for a new leader
   * is as silent as a frozen member), a failed attempt's member is. Attempts go on round the members (a
   * proposal a member dropped while the cluster had no leader goes through once a leader is elected) for as
   * long as `headerTimeoutPerRequest`, at least two rounds; when every attempt failed, a {@link ClusterError}
   * lists their errors.
   */
  async #hedged(
    endpoints: readonly Endpoint[],
    pinned: number,
    action: Action,
    options: CallOptions,
    pin: (index: number) => void,
    trace: CallTrace | undefined,
    closer: AbortHook | undefined,
  ): Promise<RawResponse> {
    const { signal } = options;
    const health = this.#health;
    const hedgeMs = this.#slowAfter();
    const asked = options.fanOut ?? 1;
    if (!Number.isSafeInteger(asked) || asked < 1)
      throw new RangeError(`fanOut must be a whole number >= 1, got ${String(asked)}`);
    const fanOut = this.#redundancy ? Math.min(asked, endpoints.length) : 1;
    /** Attempts sent to each endpoint so far, and the endpoint of each attempt. */
    const sent = endpoints.map(() => 0);
    const targets: number[] = [];
    /** An attempt has answered (a fanned-out one may answer after it). */
    let answered = false;
    /** Why the next attempt starts: the attempt before it was slow, or failed. */
    let why:
      | { readonly kind: 'hedge' | 'retry'; readonly from: Endpoint; readonly error: unknown }
      | undefined;
    try {
      return await hedge(
        async (n, own) => {
          if (this.#closing.aborted) throw new ClientClosedError();
          const index = nextTarget(endpoints, pinned, sent, health);
          sent[index]!++;
          targets[n] = index;
          const endpoint = endpoints[index]!;
          if (trace) {
            trace.attempt = n + 1;
            if (why) publishFailover(trace.call, action, why.from, endpoint, why.kind, why.error);
          }
          // `own` aborts when another attempt won or the call ended (with the caller's reason, then)
          const started = performance.now();
          const response = await this.#attempt(endpoint, action, endpoints, own, closer, trace);
          health.answered(endpoint);
          // an attempt overtaken by one that answered first (aborted, or still let run) is no sample, nor pinned
          if (own.aborted || answered) return response;
          answered = true;
          // the faster of copies sent at once would pull the measure down
          if (fanOut === 1) this.#timed(action, response, started);
          if (index !== pinned) pin(index);
          return response;
        },
        {
          maxAttempts: hedgedAttempts(endpoints.length, this.#headerTimeout, hedgeMs),
          hedgeMs,
          initialAttempts: fanOut,
          // the copies of a fanned-out call all answer within a few ms on a healthy cluster: the slower one is
          // let finish, not aborted (which would close its connection)
          lingerMs: fanOut > 1 ? MIN_RETRY_SAFE_TIMEOUT : 0,
          backoff: HEDGE_BACKOFF,
          steadyHedges: endpoints.length,
          signal,
          // A slow member is not made suspect: a survivor waiting for a new leader is as silent as a frozen
          // member, and its attempt may still answer.
          onSlow: (n) => {
            const from = endpoints[targets[n]!]!;
            why = { kind: 'hedge', from, error: new HeaderTimeoutError(from.text) };
          },
          onFailed: (n, error) => {
            const from = endpoints[targets[n]!]!;
            health.failed(from, error);
            why = { kind: 'retry', from, error };
          },
        },
      );
    } catch (error) {
      this.#throwIfEnded(error, signal, closer);
      if (!(error instanceof AllAttemptsFailed)) throw error;
      // every attempt started failed, so the errors are in the order of `targets`
      throw new ClusterError(error.errors.map((e, n) => asError(e, endpoints[targets[n]!]!)));
    }
  }

  /**
   * Replaces the endpoints with the client URLs of the cluster's members (Go's `Sync`). In Random mode an
   * unchanged set changes nothing (the pin is kept); a new set is shuffled and the pin reset. In
   * PrioritizeLeader mode the endpoints are kept in member order and the leader's URL is pinned.
   *
   * @throws {ClusterError} and other call errors when the member list cannot be read (endpoints unchanged).
   * @throws {NoEndpointsError} when no member has a client URL.
   * @throws {NoLeaderEndpointError} in PrioritizeLeader mode when the leader cannot be found.
   */
  async sync(options: CallOptions = {}): Promise<void> {
    const members = decodeMemberList(await this[kDo](membersAction('GET'), options));
    const urls = members.flatMap((member) => member.clientURLs);
    if (urls.length === 0) throw new NoEndpointsError();
    const endpoints = urls.map(parseEndpoint);
    if (this.#selectionMode === EndpointSelectionMode.Random) {
      const sorted = (list: readonly Endpoint[]): string => JSON.stringify(list.map((e) => e.text).sort());
      if (sorted(endpoints) === sorted(this.#endpoints)) return;
      this.#endpoints = shuffle(endpoints);
      this.#pinned = 0;
      this.#health.retain(this.#endpoints);
      return;
    }
    let leaderURL: string | undefined;
    try {
      const leader = decodeLeader(
        await this.#doOn(endpoints, 0, membersAction('GET', 'leader'), options, () => {}),
      );
      leaderURL = leader.clientURLs[0];
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason;
      throw new NoLeaderEndpointError({ cause: error });
    }
    if (leaderURL === undefined) throw new NoLeaderEndpointError();
    this.#endpoints = endpoints;
    this.#health.retain(endpoints);
    this.#pinned = Math.max(
      0,
      endpoints.findIndex((endpoint) => endpoint.text === leaderURL),
    );
  }

  /**
   * Calls {@link sync} at once and then every `intervalMs` until aborted (Go's `AutoSync`). Resolves never;
   * rejects with the first sync error, or with `signal.reason` once aborted.
   *
   * @throws {RangeError} when `intervalMs` is not a positive number.
   */
  async autoSync(intervalMs: number, options: CallOptions = {}): Promise<never> {
    if (typeof intervalMs !== 'number' || !(intervalMs > 0)) {
      throw new RangeError(`autoSync interval must be a positive number of ms, got ${String(intervalMs)}`);
    }
    const { signal } = options;
    for (;;) {
      await this.sync(options);
      signal?.throwIfAborted();
      const closing = this.#closing;
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(done, intervalMs);
        function done(): void {
          signal?.removeEventListener('abort', onAbort);
          closing.unlisten(onClose);
          resolve();
        }
        function onAbort(): void {
          clearTimeout(timer);
          closing.unlisten(onClose);
          reject(signal!.reason);
        }
        function onClose(): void {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          reject(new ClientClosedError());
        }
        signal?.addEventListener('abort', onAbort, { once: true });
        closing.listen(onClose);
      });
    }
  }

  /**
   * The server and cluster versions (`GET /version`, Go's `GetVersion`).
   *
   * @throws {EmptyBodyError | InvalidResponseError} when the endpoint is not etcd.
   */
  async getVersion(options: CallOptions = {}): Promise<Versions> {
    return decodeVersion(await this[kDo](getAction('/version', {}, 'version'), options));
  }

  /**
   * Closes the client. At once: every later call (`Watcher.next()` and `sync()` included) rejects with a
   * {@link ClientClosedError}, and so do watches waiting in `next()` and an `autoSync` between rounds. A
   * request already sent is let finish: its reply is returned, but if it fails the call rejects with a
   * `ClientClosedError` (whose `cause` is the failure) instead of trying another endpoint. The returned
   * promise settles once the client's own dispatcher is closed (not one passed in), which waits for those
   * requests. Idempotent: every call returns the same promise.
   */
  close(): Promise<void> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  async #close(): Promise<void> {
    this.#closing.abort(new ClientClosedError());
    this.#health.close();
    if (this.#ownsDispatcher) await this.#dispatcher.close();
  }

  /** {@link close}, for `await using client = new Client(...)`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** An attempt's error as an `Error` for a {@link ClusterError} (anything else thrown is wrapped). */
function asError(error: unknown, endpoint: Endpoint): Error {
  return error instanceof Error ? error : new EndpointError(endpoint.text, String(error));
}

/**
 * Where a hedged call's next attempt goes: the member with the fewest attempts of this call so far, members
 * not suspect before suspects, ties in Go's order from the pin.
 */
function nextTarget(
  endpoints: readonly Endpoint[],
  pinned: number,
  sent: readonly number[],
  health: MemberHealth,
): number {
  let best = pinned;
  let bestSuspect = health.isSuspect(endpoints[pinned]!);
  for (let i = 1; i < endpoints.length; i++) {
    const index = (pinned + i) % endpoints.length;
    const suspect = health.isSuspect(endpoints[index]!);
    if (suspect === bestSuspect ? sent[index]! < sent[best]! : bestSuspect) {
      best = index;
      bestSuspect = suspect;
    }
  }
  return best;
}

/**
 * How many attempts a hedged call makes at most: the first and the hedges that start within `headerTimeoutMs`
 * (a round of the members every `hedgeMs`, then each gap {@link HEDGE_BACKOFF} times the one before, as
 * {@link hedge} paces them), plus a round of the members; at least two rounds, at most 32.
 */
function hedgedAttempts(members: number, headerTimeoutMs: number, hedgeMs: number): number {
  const paced =
    headerTimeoutMs > 0 && hedgeMs > 0
      ? attemptsWithin(headerTimeoutMs, { hedgeMs, backoff: HEDGE_BACKOFF, steadyHedges: members }) + members
      : 0;
  return Math.min(32, Math.max(2 * members, paced));
}

/** Publishes a failover (and a watch:move for a watch's wait). */
function publishFailover(
  call: CallInfo,
  action: Action,
  from: Endpoint,
  to: Endpoint,
  kind: 'retry' | 'pin' | 'hedge',
  error: unknown,
): void {
  if (channels.failover.hasSubscribers)
    channels.failover.publish({ call, from: from.text, to: to.text, kind, error });
  if (action.watch && kind === 'retry' && channels.watchMove.hasSubscribers) {
    channels.watchMove.publish({
      watch: action.watch,
      from: from.text,
      to: to.text,
      waitIndex: action.waitIndex ?? 0,
      error,
    });
  }
}

function tlsConnectOptions(tls: ClientTLSOptions | undefined): Record<string, unknown> {
  if (!tls) return {};
  const out: Record<string, unknown> = {};
  for (const key of ['ca', 'cert', 'key', 'servername', 'rejectUnauthorized'] as const) {
    if (tls[key] !== undefined) out[key] = tls[key];
  }
  return out;
}
