import type { Dispatcher } from 'undici';
import { EndpointError, HeaderTimeoutError, ResponseTooLargeError } from '../errors.js';
import { AbortHook } from './abort-hook.js';
import { channels } from './channels.js';
import type { Endpoint } from './endpoints.js';
import { probeHealth } from './liveness.js';

/** What the view knows of one member, and its one probe loop. */
interface MemberState {
  readonly endpoint: Endpoint;
  /** Timed out, refused, or reported unhealthy, and has not answered since: tried last. */
  suspect: boolean;
  /** Failed probes in a row. */
  failures: number;
  /** The lease the watches waiting on this member hold now: aborted (and replaced) when it is found dead. */
  lease: WatchLease;
  timer: NodeJS.Timeout | undefined;
  probing: boolean;
}

/**
 * What the watches waiting on one member hold, one per member at a time (not one per wait: a wait costs a
 * count, not an object): {@link hook} aborts when the member is found dead, and the member then gets a new
 * lease for the waits that come after.
 */
export class WatchLease {
  /** Aborts with an {@link EndpointError} when the member is found dead. */
  readonly hook = new AbortHook();
  /** The waits holding this lease. */
  holders = 0;
  readonly #ended: () => void;

  /** `ended` is called after each {@link release}. */
  constructor(ended: () => void) {
    this.#ended = ended;
  }

  /** One wait of the lease has ended (call once per {@link MemberHealth.watch} that gave it). */
  release(): void {
    this.holders--;
    this.#ended();
  }
}

/**
 * One view of member health per client, shared by every request and watch. A member whose attempt timed out,
 * could not be reached or answered 5xx, or whose `/health` failed while a watch waits on it (else twice in a
 * row), is *suspect*: requests try
 * it after every other member, and the pin never advances to it, until it answers again (a request that it
 * answers, or a background `/health` probe that it passes). One probe loop runs per member while it is
 * suspect or a watch waits on it, however many watches there are; `close()` stops them all.
 */
export class MemberHealth {
  readonly #dispatcher: Dispatcher;
  readonly #members = new Map<string, MemberState>();
  /** Between probes of a suspect member, in ms. */
  readonly #suspectInterval: number;
  /** Between probes of a member a watch waits on, in ms; 0: watches are not checked. */
  readonly #watchInterval: number;
  /** The longest a probe may take, in ms (the interval when that is shorter). */
  readonly #probeTimeout: () => number;
  /** Told how long each probe took that etcd answered healthy (after its quorum read), in ms. */
  readonly #passed: (ms: number) => void;
  #closed = false;
  /** How many members are suspect. */
  #suspects = 0;

  constructor(
    dispatcher: Dispatcher,
    watchIntervalMs: number,
    suspectIntervalMs: number,
    probeTimeoutMs: () => number = () => Number.POSITIVE_INFINITY,
    passed: (ms: number) => void = () => {},
  ) {
    this.#dispatcher = dispatcher;
    this.#watchInterval = watchIntervalMs;
    this.#suspectInterval = suspectIntervalMs;
    this.#probeTimeout = probeTimeoutMs;
    this.#passed = passed;
  }

  /** Whether `endpoint` is suspect. */
  isSuspect(endpoint: Endpoint): boolean {
    return this.#members.get(endpoint.text)?.suspect === true;
  }

  /**
   * The order in which to try `endpoints`: from `pinned` round the list (Go's order), every member not
   * suspect first, then the suspects in the same order. `undefined` when no member is suspect: then the order
   * is Go's, and nothing is allocated.
   */
  order(endpoints: readonly Endpoint[], pinned: number): number[] | undefined {
    if (this.#suspects === 0) return undefined;
    const n = endpoints.length;
    const first: number[] = [];
    const last: number[] = [];
    for (let i = 0; i < n; i++) {
      const index = (pinned + i) % n;
      (this.isSuspect(endpoints[index]!) ? last : first).push(index);
    }
    return first.concat(last);
  }

  /** Where the pin goes after a one-shot failure at `index`: the next member round the list not suspect. */
  next(endpoints: readonly Endpoint[], index: number): number {
    const n = endpoints.length;
    for (let i = 1; i < n; i++) {
      const candidate = (index + i) % n;
      if (!this.isSuspect(endpoints[candidate]!)) return candidate;
    }
    return (index + 1) % n;
  }

  /** `endpoint` answered: it is no longer suspect. */
  answered(endpoint: Endpoint): void {
    const state = this.#members.get(endpoint.text);
    if (!state) return;
    state.failures = 0;
    if (state.suspect) {
      this.#mark(state, false, 'answered a request');
      this.#settle(state);
    }
  }

  /**
   * An attempt at `endpoint` failed with `error`. Member failures (transport errors, header timeouts, 5xx,
   * a failed liveness check) make it suspect; a reply that was too large or a redirect error says nothing of
   * the member's health.
   */
  failed(endpoint: Endpoint, error: unknown): void {
    if (this.#closed || !isMemberFailure(error)) return;
    const text = endpoint.text;
    const message = (error as EndpointError).message;
    this.#suspect(
      this.#state(endpoint),
      new EndpointError(text, `client: endpoint ${text} failed a request: ${message}`, { cause: error }),
      'failed a request',
    );
  }

  /**
   * Registers a watch waiting on `endpoint`: the member's probe loop runs (every `watchIntervalMs`) while a
   * watch waits, and the returned lease's hook aborts with an {@link EndpointError} when the member is found
   * dead (a failed probe, or a request's failure). The wait calls `release()` on it once when it ends.
   * `undefined` when watches are not checked.
   */
  watch(endpoint: Endpoint): WatchLease | undefined {
    if (this.#watchInterval <= 0 || this.#closed) return undefined;
    const state = this.#state(endpoint);
    const lease = state.lease;
    lease.holders++;
    this.#settle(state);
    return lease;
  }

  /** Forgets members no longer among `endpoints` (stopping their probes). */
  retain(endpoints: readonly Endpoint[]): void {
    const keep = new Set(endpoints.map((endpoint) => endpoint.text));
    for (const [text, state] of this.#members) {
      if (keep.has(text) || state.lease.holders > 0) continue;
      clearTimeout(state.timer);
      this.#mark(state, false);
      this.#members.delete(text);
    }
  }

  /** Stops every probe loop. Idempotent. */
  close(): void {
    this.#closed = true;
    for (const state of this.#members.values()) clearTimeout(state.timer);
  }

  /** Marks the member suspect or not; a `reason` publishes the change (member:health). */
  #mark(state: MemberState, suspect: boolean, reason?: string, error?: unknown): void {
    if (state.suspect === suspect) return;
    state.suspect = suspect;
    this.#suspects += suspect ? 1 : -1;
    if (reason !== undefined && channels.memberHealth.hasSubscribers) {
      channels.memberHealth.publish({
        endpoint: state.endpoint.text,
        state: suspect ? 'suspect' : 'healthy',
        reason,
        error,
      });
    }
  }

  /** A member's next lease; a release may start or stop its probe loop (`state` gives the member). */
  #newLease(state: () => MemberState): WatchLease {
    return new WatchLease(() => this.#settle(state()));
  }

  #state(endpoint: Endpoint): MemberState {
    let state = this.#members.get(endpoint.text);
    if (!state) {
      const fresh: MemberState = {
        endpoint,
        suspect: false,
        failures: 0,
        lease: this.#newLease(() => fresh),
        timer: undefined,
        probing: false,
      };
      state = fresh;
      this.#members.set(endpoint.text, state);
    }
    return state;
  }

  #suspect(state: MemberState, reason: EndpointError, why: string): void {
    this.#mark(state, true, why, reason);
    const dead = state.lease;
    // a lease no wait holds is kept: nothing to abort
    if (dead.holders > 0) {
      state.lease = this.#newLease(() => state);
      dead.hook.abort(reason);
    }
    this.#settle(state);
  }

  /** Starts or stops the member's probe loop as it is needed. */
  /**
   * Starts the member's probe loop when it is needed. A loop no longer needed is left to end when its timer
   * fires: short waits that come and go (a lock queue's hand-overs) then arm one timer per interval, not one
   * per wait.
   */
  #settle(state: MemberState): void {
    if (!this.#needsProbes(state)) return;
    if (state.timer === undefined && !state.probing) this.#schedule(state);
  }

  #needsProbes(state: MemberState): boolean {
    return !this.#closed && (state.suspect || state.lease.holders > 0);
  }

  #interval(state: MemberState): number {
    return state.lease.holders > 0 ? this.#watchInterval : this.#suspectInterval;
  }

  #schedule(state: MemberState): void {
    state.timer = setTimeout(() => {
      state.timer = undefined;
      if (this.#needsProbes(state)) void this.#probe(state);
    }, this.#interval(state));
    state.timer.unref();
  }

  async #probe(state: MemberState): Promise<void> {
    if (this.#closed) return;
    state.probing = true;
    // after a failed probe, the member's next waits twice as long (up to the interval): a member slowed for a
    // moment (a disk stall) is not given up every interval
    const timeout = Math.min(this.#interval(state), this.#probeTimeout() * 2 ** Math.min(state.failures, 8));
    const started = performance.now();
    const verdict = await probeHealth(this.#dispatcher, state.endpoint, timeout);
    if (verdict === 'healthy') this.#passed(performance.now() - started);
    const healthy = verdict !== 'failed';
    state.probing = false;
    // Closed, or forgotten by retain() meanwhile: the loop ends here.
    if (this.#closed || this.#members.get(state.endpoint.text) !== state) return;
    if (healthy) {
      state.failures = 0;
      this.#mark(state, false, 'passed a health check');
    } else if (++state.failures >= 2 ? !state.suspect || state.lease.holders > 0 : state.lease.holders > 0) {
      // A member a watch waits on is given up at its first failed probe (the watches move to another member
      // with the same index: nothing is lost, and a silent member costs one interval, not two); any other
      // member after two in a row.
      const text = state.endpoint.text;
      this.#suspect(
        state,
        new EndpointError(text, `client: endpoint ${text} failed its health check`),
        'failed its health check',
      );
    }
    this.#settle(state);
  }
}

/** Whether an attempt's error says the member is down, cut off, frozen or overloaded. */
export function isMemberFailure(error: unknown): boolean {
  return (
    error instanceof HeaderTimeoutError ||
    (error instanceof EndpointError && !(error instanceof ResponseTooLargeError))
  );
}
