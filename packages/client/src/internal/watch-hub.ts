import type { CallOptions, Client } from '../client.js';
import { type EtcdError, isEventIndexCleared, isKeyNotFound } from '../errors.js';
import type { Response } from '../keys.js';
import type { Watcher } from '../watcher.js';
import { AbortHook, hookOf } from './abort-hook.js';
import { getAction } from './action.js';
import { EventBuffer } from './event-buffer.js';
import { eventReaches, keysPathOf } from './event-match.js';
import { type HubOutcome, HubWaiters, type Waiter } from './hub-waiters.js';
import { decodeKeysResponse } from './keys-response.js';
import { kDo } from './symbols.js';

/** Why a wait alone was ended: its hub's long-poll started, and the wait goes on there. */
const MOVED = new DOMException('the wait moved into the shared long-poll', 'AbortError');

/** How long a hub keeps its long-poll open with nobody waiting, in ms, before it ends and forgets. */
const LINGER_MS = 1000;

/** A key no one writes: reading it answers 404 with the store's index, cheaply (the "now" of a wait). */
const NOW_PROBE = '_etcdkit_now';

/** What a wait in a hub waits for: events that reach `key` (below it too if `recursive`). */
interface WaitFor {
  readonly key: string;
  readonly recursive: boolean;
  /** The wait is a redundant watcher's. */
  readonly redundant: boolean;
}

/**
 * Makes the hub's own long-poll: a recursive watcher of the directory from an index on, which asks `redundant()`
 * before each wait whether to send it to two members (`WatcherOptions.redundant`).
 */
export type StreamFactory = (afterIndex: number, redundant: () => boolean) => Watcher;

/** What a hub tells its registry. */
export interface HubRegistry {
  /** The hub has ended: the next wait in its directory makes a new one. */
  forget(hub: WatchHub): void;
  /** An ended hub took a wait after all (one that read "now" meanwhile): known again, unless replaced. */
  revive(hub: WatchHub): void;
}

/**
 * One recursive long-poll on a directory, shared by the shared watchers below it in one client (see
 * `WatcherOptions.shared`). Each event is taken once and handed to every waiting watcher it reaches by etcd's
 * own rules and whose index it has reached. A watcher that asks for an index the long-poll has passed is served
 * from the buffer of recent events when that covers it; else it waits *behind* until the long-poll has gone back
 * to its index (no event of the poll before that reaches it). On error 401 the waits whose index etcd no longer
 * has go alone (etcd then tells each its 401) and the rest go on from the oldest index etcd keeps.
 *
 * A wait below the sharing threshold waits alone (see `ClientConfig.sharedWatchThreshold`); when the long-poll
 * starts, those waiting alone from an index it covers move into it.
 *
 * The long-poll runs while any watcher waits, and a second more ({@link LINGER_MS}: a watcher that re-reads
 * and waits again finds it running); then the hub ends and the next wait starts a fresh one.
 *
 * Plain and redundant watchers of a directory share its hub: each wait of the long-poll that starts while a
 * redundant watcher waits in it goes to two members (where the client sends redundant waits to two), else to
 * one. A redundant watcher that joins while a wait on one member is in flight restarts the long-poll from where
 * it stands, so that its wait does not rest on one member until the next event.
 */
export class WatchHub {
  readonly #client: Client;
  /** The directory's store key (`/locks/a`). */
  readonly #dir: string;
  /** The keys-API path of the directory. */
  readonly #path: string;
  readonly #stream: StreamFactory;
  readonly #registry: HubRegistry;
  readonly #buffer = new EventBuffer();
  readonly #waiters = new HubWaiters();
  /**
   * The waits alone (below the threshold), each with the hook that moves it into the hub, its index, and whether
   * it is a redundant watcher's.
   */
  readonly #alone = new Map<AbortHook, { index: number; redundant: boolean }>();
  /** The redundant waits alone that the long-poll's start has moved, until they are in the hub. */
  readonly #redundantMoving = new Set<AbortHook>();
  /** The next index the long-poll asks for; 0 until the first wait gives one. */
  #position = 0;
  /** The highest {@link #position} yet (the position goes back for a wait behind; "now" does not). */
  #frontier = 0;
  /** How many of the waits in the hub are of redundant watchers. */
  #redundantWaits = 0;
  /** The long-poll's wait in flight went to one member: a redundant wait that joins restarts it. */
  #waitOnOne = false;
  /** The long-poll's question before each wait: two members while a redundant watcher waits (or is moving in). */
  readonly #redundantNow = (): boolean => {
    const two = this.#redundantWaits > 0 || this.#redundantMoving.size > 0;
    this.#waitOnOne = !two;
    return two;
  };
  /** The read of the current index in flight, for waits from now. */
  #learning: Promise<number> | undefined;
  #poll: Watcher | undefined;
  /** The long-poll this hub closed itself (its rejection is no failure). */
  #stopping: Watcher | undefined;
  /** Nobody waits: the long-poll runs on until {@link #linger} fires. */
  #linger: NodeJS.Timeout | undefined;
  #ended = false;

  constructor(client: Client, dir: string, path: string, stream: StreamFactory, registry: HubRegistry) {
    this.#client = client;
    this.#dir = dir;
    this.#path = path;
    this.#stream = stream;
    this.#registry = registry;
  }

  /** Whether the hub has ended (its registry then makes a new one for the next wait). */
  get ended(): boolean {
    return this.#ended;
  }

  /**
   * Whether a wait from `waitIndex` should go to etcd alone: while no long-poll runs and fewer than `threshold`
   * shared watchers of the directory would wait at once. If so, the caller waits alone until it has its event,
   * or until the returned hook aborts (the long-poll starts from an index at or below `waitIndex`: the wait goes
   * on in the hub), and calls {@link doneAlone} after. `redundant`: it is a redundant watcher's wait.
   */
  waitsAlone(threshold: number, waitIndex: number, redundant = false): AbortHook | undefined {
    if (this.#waiters.size > 0 || this.#poll || this.#alone.size + 1 >= threshold) return undefined;
    const moved = new AbortHook();
    this.#alone.set(moved, { index: waitIndex, redundant });
    return moved;
  }

  /** A wait that {@link waitsAlone} sent alone has ended (a moved one then waits in the hub, at once). */
  doneAlone(moved: AbortHook): void {
    this.#alone.delete(moved);
    this.#redundantMoving.delete(moved);
    this.#endIfIdle();
  }

  /**
   * Waits for the next event that reaches `key` at `waitIndex` or later (0: from now). Resolves to the event,
   * or to an index: wait alone from there (etcd has cleared the history the hub would need; for a wait from
   * now, the index "now" was). Rejects as the watcher's own wait would. `redundant`: the wait is a redundant
   * watcher's (the long-poll then waits on two members).
   */
  next(
    key: string,
    recursive: boolean,
    waitIndex: number,
    options: CallOptions,
    closer: AbortHook,
    redundant = false,
  ): Promise<Response | number> {
    const wait = { key, recursive, redundant };
    if (waitIndex > 0) return this.#from(wait, waitIndex, options, closer);
    // "now" is where a running long-poll stands; with none running, the member's index now
    if (this.#poll && this.#frontier > 0) return this.#from(wait, this.#frontier, options, closer);
    return this.#now(options, closer).then(
      (from) => this.#from(wait, from, options, closer),
      (error: unknown) => {
        this.#endIfIdle();
        throw error;
      },
    );
  }

  /** {@link next} from a known index: from the buffer, a wait served now, or a wait behind. */
  #from(wait: WaitFor, from: number, options: CallOptions, closer: AbortHook): Promise<Response | number> {
    if (this.#position === 0) {
      this.#position = this.#frontier = from;
      this.#buffer.reset(from);
    }
    if (from >= this.#position) return this.#wait(wait, from, false, options, closer);
    if (from >= this.#buffer.floor) {
      const seen = this.#buffer.find(from, this.#position, (event) =>
        eventReaches(event, wait.key, wait.recursive),
      );
      if (seen) return Promise.resolve(seen);
      // nothing for it up to the position: it waits from there
      return this.#wait(wait, this.#position, false, options, closer);
    }
    return this.#wait(wait, from, true, options, closer);
  }

  /** The index after the member's current one (one cheap read, shared by the waits that ask at once). */
  #now(options: CallOptions, closer: AbortHook): Promise<number> {
    this.#learning ??= this.#currentIndex()
      .then((index) => index + 1)
      .finally(() => {
        this.#learning = undefined;
      });
    return endsFirst(this.#learning, options.signal, closer);
  }

  /** The store index now: a read of a key no one writes answers 404 with it (or the key, with it too). */
  async #currentIndex(): Promise<number> {
    const probe = `${this.#path.replace(/\/$/, '')}/${NOW_PROBE}`;
    try {
      return decodeKeysResponse(await this.#client[kDo](getAction(probe, {}, 'watch', this.#dir))).index;
    } catch (error) {
      if (isKeyNotFound(error)) return error.index;
      throw error;
    }
  }

  #wait(
    { key, recursive, redundant }: WaitFor,
    waitIndex: number,
    behind: boolean,
    options: CallOptions,
    closer: AbortHook,
  ): Promise<Response | number> {
    const signal = options.signal;
    if (closer.aborted) return Promise.reject(closer.reason);
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#ended) {
      this.#ended = false;
      this.#registry.revive(this);
    }
    return new Promise((resolve, reject) => {
      const hook = signal ? hookOf(signal) : undefined;
      const wait = new HubWait(this, key, recursive, redundant, waitIndex, resolve, reject, closer, hook);
      this.#waiters.add(wait, behind);
      if (redundant) this.#redundantWaits++;
      clearTimeout(this.#linger);
      this.#linger = undefined;
      closer.listen(wait);
      hook?.listen(wait);
      this.#ensurePolling();
    });
  }

  /** @internal A wait's closer or signal aborted: it leaves, rejected with the reason. */
  abandon(wait: Waiter, reason: unknown): void {
    if (this.#remove(wait)) wait.settle({ error: reason });
  }

  #remove(waiter: Waiter): boolean {
    if (!this.#waiters.remove(waiter)) return false;
    if (waiter.redundant) this.#redundantWaits--;
    if (this.#waiters.size === 0) this.#lingerThenEnd();
    return true;
  }

  /**
   * Starts the long-poll if none runs, or stops the running one (its loop starts the next at once) to go back
   * for a wait behind, or to wait on two members for a redundant watcher.
   */
  #ensurePolling(): void {
    if (this.#poll) {
      if (this.#waiters.lowestBehind !== undefined || (this.#redundantWaits > 0 && this.#waitOnOne))
        this.#stop();
      return;
    }
    const start = Math.min(this.#position, this.#waiters.lowestBehind ?? this.#position);
    for (const [moved, { index, redundant }] of this.#alone) {
      if (index < start) continue;
      // the long-poll's first wait goes to two members for the redundant waits it takes over
      if (redundant) this.#redundantMoving.add(moved);
      moved.abort(MOVED);
    }
    void this.#run();
  }

  /** Ends the running long-poll; {@link #run} goes on (back to a wait behind) or ends (nobody waits). */
  #stop(): void {
    if (!this.#poll || this.#stopping === this.#poll) return;
    this.#stopping = this.#poll;
    this.#poll.close();
  }

  /** The long-poll loop: one wait at a time, while anyone waits (or the linger runs). */
  async #run(): Promise<void> {
    while (!this.#ended && (this.#waiters.size > 0 || this.#linger)) {
      const back = this.#waiters.lowestBehind;
      if (back !== undefined) {
        this.#position = Math.min(this.#position, back);
        this.#buffer.reset(this.#position);
        this.#waiters.promote();
      }
      const poll = this.#stream(this.#position - 1, this.#redundantNow);
      this.#poll = poll;
      try {
        for (;;) {
          // the waits an event settled run first (a lock's next holder takes over in them), the next
          // long-poll after: etcd keeps the events meanwhile, and the poll asks from the index it reached
          const event = await poll.next();
          this.#waitOnOne = false;
          if (this.#take(event) > 0) await nextTurn();
          if (this.#waiters.lowestBehind !== undefined) break;
          if (this.#waiters.size === 0 && !this.#linger) break;
        }
      } catch (error) {
        if (this.#stopping !== poll && !this.#ended) {
          // after a 401 that leaves nobody, or a failure, the long-poll stops: the next wait starts it again
          if (!isEventIndexCleared(error)) {
            this.#failAll(error);
            break;
          }
          if (!this.#cleared(error)) break;
        }
      } finally {
        this.#waitOnOne = false;
        if (this.#stopping === poll) this.#stopping = undefined;
        poll.close();
        if (this.#poll === poll) this.#poll = undefined;
      }
    }
  }

  /**
   * One event of the long-poll: buffered, and handed to every served wait it reaches at its index. Returns how
   * many waits it settled.
   */
  #take(event: Response): number {
    const node = event.node;
    if (!node) return 0;
    this.#buffer.add(event);
    this.#position = Math.max(this.#position, node.modifiedIndex + 1);
    this.#frontier = Math.max(this.#frontier, this.#position);
    let settled = 0;
    for (const waiter of this.#waiters.reachedBy(event, this.#dir)) {
      if (!this.#remove(waiter)) continue;
      waiter.settle(event);
      settled++;
    }
    return settled;
  }

  /**
   * Error 401: etcd keeps no events before some index. The waits below it go alone (etcd tells each its
   * 401, as alone); the rest go on from the lowest index among them, which etcd still has. Whether any stays.
   */
  #cleared(error: EtcdError): boolean {
    const oldest = oldestKept(error);
    const stay: Waiter[] = [];
    for (const waiter of this.#waiters.all()) {
      if (oldest !== undefined && waiter.waitIndex >= oldest) stay.push(waiter);
      else if (this.#remove(waiter)) waiter.settle(waiter.waitIndex);
    }
    if (stay.length === 0) return false;
    const lowest = Math.min(...stay.map((waiter) => waiter.waitIndex));
    this.#position = Math.max(this.#position, lowest);
    this.#buffer.reset(this.#position);
    this.#waiters.promote();
    return true;
  }

  /** The long-poll failed (no member answered, the client closed): every wait fails as its own would. */
  #failAll(error: unknown): void {
    for (const waiter of this.#waiters.all()) if (this.#remove(waiter)) waiter.settle({ error });
  }

  /** Nobody waits: the long-poll runs on a moment for the next wait (a waiter re-reads and waits again). */
  #lingerThenEnd(): void {
    clearTimeout(this.#linger);
    this.#linger = setTimeout(() => {
      this.#linger = undefined;
      if (this.#waiters.size > 0) return;
      this.#stop();
      this.#endIfIdle();
    }, LINGER_MS);
    this.#linger.unref();
  }

  /** Forgets the hub once nothing waits in it or alone, and its long-poll has ended or is ending. */
  #endIfIdle(): void {
    if (this.#ended || this.#waiters.size > 0 || this.#alone.size > 0 || this.#linger) return;
    if (this.#poll && this.#stopping !== this.#poll) return;
    this.#ended = true;
    this.#registry.forget(this);
  }
}

/** Resolves in the next turn of the event loop, once the promise chains queued now have run. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * One `next()` waiting in a hub: its key, index and promise, and the listener of its watcher's closer and its
 * caller's signal (an object, so that a wait allocates no closure).
 */
class HubWait implements Waiter {
  constructor(
    readonly hub: WatchHub,
    readonly key: string,
    readonly recursive: boolean,
    readonly redundant: boolean,
    readonly waitIndex: number,
    readonly resolve: (outcome: Response | number) => void,
    readonly reject: (error: unknown) => void,
    readonly closer: AbortHook,
    readonly hook: AbortHook | undefined,
  ) {}

  abortWith(reason: unknown): void {
    this.hub.abandon(this, reason);
  }

  settle(outcome: HubOutcome): void {
    this.closer.unlisten(this);
    this.hook?.unlisten(this);
    if (typeof outcome === 'object' && 'error' in outcome) this.reject(outcome.error);
    else this.resolve(outcome);
  }
}

/** The oldest index etcd still keeps, from a 401's cause (`the requested history has been cleared [1008/7]`). */
function oldestKept(error: EtcdError): number | undefined {
  const match = /\[(\d+)\/\d+\]/.exec(error.etcdCause);
  return match ? Number(match[1]) : undefined;
}

/** Resolves with `work`, or rejects at once when the caller's signal or the watcher's closer aborts first. */
function endsFirst<T>(work: Promise<T>, signal: AbortSignal | undefined, closer: AbortHook): Promise<T> {
  return new Promise((resolve, reject) => {
    const hook = signal ? hookOf(signal) : undefined;
    const done = (): void => {
      closer.unlisten(onAbort);
      hook?.unlisten(onAbort);
    };
    const onAbort = (reason: unknown): void => {
      done();
      reject(reason);
    };
    closer.listen(onAbort);
    hook?.listen(onAbort);
    work.then(
      (value) => {
        done();
        resolve(value);
      },
      (error: unknown) => {
        done();
        reject(error);
      },
    );
  });
}

/** The hubs of each client, by directory. */
const hubs = new WeakMap<Client, Map<string, WatchHub>>();

/**
 * The client's hub for the directory `dir` (a store key), made on first use; `stream` makes its long-poll
 * (called once per hub, not per wait).
 */
export function hubOf(
  client: Client,
  dir: string,
  stream: (client: Client, dir: string) => StreamFactory,
): WatchHub {
  const byDir = hubs.get(client) ?? new Map<string, WatchHub>();
  hubs.set(client, byDir);
  const known = byDir.get(dir);
  if (known && !known.ended) return known;
  const hub = new WatchHub(client, dir, keysPathOf(dir), stream(client, dir), {
    forget: (ended) => {
      if (byDir.get(dir) === ended) byDir.delete(dir);
    },
    revive: (revived) => {
      if (!byDir.has(dir)) byDir.set(dir, revived);
    },
  });
  byDir.set(dir, hub);
  return hub;
}
