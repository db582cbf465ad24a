import type { CallOptions, Client } from '../client.js';
import { isEventIndexCleared, isKeyNotFound } from '../errors.js';
import type { Response } from '../keys.js';
import type { Watcher } from '../watcher.js';
import { AbortHook, hookOf } from './abort-hook.js';
import { getAction } from './action.js';
import { EventBuffer } from './event-buffer.js';
import { eventReaches, isWithin, parentOf, removesDirectory } from './event-match.js';
import { decodeKeysResponse } from './keys-response.js';
import { kDo } from './symbols.js';

/** What {@link WatchHub.next} resolves to when the watcher must make this one wait on its own. */
export const WAIT_ALONE: unique symbol = Symbol('etcdkit.client.waitAlone');

/** Why a wait alone was ended: its hub's long-poll started, and the wait goes on there. */
const MOVED = new DOMException('the wait moved into the shared long-poll', 'AbortError');

/** How long a hub keeps its long-poll open with nobody waiting, in ms, before it ends and forgets. */
const LINGER_MS = 1000;

/** A watcher's `next()` waiting in a hub. */
interface Waiter {
  readonly key: string;
  readonly recursive: boolean;
  /** The first index it takes (0 until the hub knows where "now" is). */
  waitIndex: number;
  settle(outcome: Response | typeof WAIT_ALONE | { error: unknown }): void;
}

/** Makes the hub's own long-poll: a plain recursive watcher of the directory from an index on. */
export type StreamFactory = (afterIndex: number) => Watcher;

/**
 * One recursive long-poll on a directory, shared by every shared watcher below it in one client (see
 * `WatcherOptions.shared`). Each event is taken once and handed to every waiting watcher it reaches by
 * etcd's own rules and whose index it has reached; a watcher that asks for an index the hub has passed is
 * served from the hub's buffer of recent events when the buffer covers it, else the hub goes back to that
 * index (events it sees twice are taken once per watcher, by index). What a lone watcher would get, each
 * shared watcher gets: the same events in the same order, failover by the client (same index, another member),
 * and error 401 of its own (on a 401 the hub sends its waiters to wait alone, where etcd tells each the truth).
 *
 * The long-poll runs while any watcher waits, and a second more ({@link LINGER_MS}); then the hub ends and the
 * next wait starts a fresh one.
 */
export class WatchHub {
  readonly #client: Client;
  /** The directory's store key (`/locks/a`). */
  readonly #dir: string;
  /** The keys-API path of the directory, for the "where is now" read. */
  readonly #path: string;
  readonly #stream: StreamFactory;
  readonly #onEnd: () => void;
  readonly #buffer: EventBuffer;
  /** Waiting watchers by key, for events on their own key and directory removals above them. */
  readonly #byKey = new Map<string, Set<Waiter>>();
  /** How many wait. */
  #waiting = 0;
  /**
   * The shared watchers of the directory that wait alone (too few to share, see {@link waitsAlone}): each is
   * aborted, to wait here instead, when the long-poll starts.
   */
  readonly #alone = new Set<AbortHook>();
  /** The next index the long-poll asks for; 0 while unknown (a wait from "now" reads the current index first). */
  #position = 0;
  /** The highest {@link #position} yet (the position goes back for a late waiter; "now" does not). */
  #frontier = 0;
  /** The read of the current index in flight, for waits from now. */
  #learning: Promise<number> | undefined;
  #poll: Watcher | undefined;
  /** A lower index the long-poll must go back to before its next wait. */
  #rewindTo: number | undefined;
  #linger: NodeJS.Timeout | undefined;
  #ended = false;

  constructor(client: Client, dir: string, path: string, stream: StreamFactory, onEnd: () => void) {
    this.#client = client;
    this.#dir = dir;
    this.#path = path;
    this.#stream = stream;
    this.#onEnd = onEnd;
    this.#buffer = new EventBuffer();
  }

  /** Whether the hub has ended (its registry then makes a new one for the next wait). */
  get ended(): boolean {
    return this.#ended;
  }

  /**
   * Whether a wait should go to etcd alone: while no long-poll runs and fewer than `threshold` shared watchers
   * of the directory would wait at once. If so, the caller waits alone until it has its event, or until the
   * returned hook aborts (the long-poll starts: it waits here from then on), and calls {@link doneAlone} after.
   */
  waitsAlone(threshold: number): AbortHook | undefined {
    if (this.#waiting > 0 || this.#poll || this.#alone.size + 1 >= threshold) return undefined;
    const moved = new AbortHook();
    this.#alone.add(moved);
    return moved;
  }

  /** A wait that {@link waitsAlone} sent alone has ended. */
  doneAlone(moved: AbortHook): void {
    this.#alone.delete(moved);
    if (this.#alone.size === 0 && this.#waiting === 0 && !this.#poll && !this.#linger) this.#end();
  }

  /**
   * Waits for the next event that reaches `key` at `waitIndex` or later (0: from now). Resolves to the event,
   * or to {@link WAIT_ALONE} when this wait must go to etcd on its own; rejects as the watcher's own wait would.
   */
  next(
    key: string,
    recursive: boolean,
    waitIndex: number,
    options: CallOptions,
    closer: AbortHook,
  ): Promise<Response | typeof WAIT_ALONE> {
    // "now" is where a running long-poll stands; with none running, the member's index now
    if (waitIndex === 0 && !(this.#poll && this.#frontier > 0))
      return this.#now(options, closer).then((from) => this.#from(key, recursive, from, options, closer));
    return this.#from(key, recursive, waitIndex === 0 ? this.#frontier : waitIndex, options, closer);
  }

  /** {@link next} from a known index: from the buffer, or a wait here. */
  #from(
    key: string,
    recursive: boolean,
    from: number,
    options: CallOptions,
    closer: AbortHook,
  ): Promise<Response | typeof WAIT_ALONE> {
    if (this.#position === 0) {
      this.#position = this.#frontier = from;
      this.#buffer.reset(from);
    }
    if (from < this.#buffer.floor) {
      this.#rewindTo = Math.min(this.#rewindTo ?? from, from);
    } else if (from < this.#position) {
      const seen = this.#buffer.find(from, this.#position, (event) => eventReaches(event, key, recursive));
      if (seen) return Promise.resolve(seen);
      return this.#wait(key, recursive, this.#position, options, closer);
    }
    return this.#wait(key, recursive, from, options, closer);
  }

  /** The index after the member's current one (one read, shared by the waits that ask at once). */
  #now(options: CallOptions, closer: AbortHook): Promise<number> {
    this.#learning ??= this.#currentIndex()
      .then((index) => index + 1)
      .finally(() => {
        this.#learning = undefined;
      });
    return endsFirst(this.#learning, options.signal, closer);
  }

  /** The store index now, from a read of the directory (a missing directory answers with the index too). */
  async #currentIndex(): Promise<number> {
    try {
      const reply = await this.#client[kDo](getAction(this.#path, {}, 'watch', this.#dir));
      return decodeKeysResponse(reply).index;
    } catch (error) {
      if (isKeyNotFound(error)) return error.index;
      throw error;
    }
  }

  #wait(
    key: string,
    recursive: boolean,
    waitIndex: number,
    options: CallOptions,
    closer: AbortHook,
  ): Promise<Response | typeof WAIT_ALONE> {
    // a hub that ended while this wait read "now" runs again (its registry may have made another meanwhile)
    this.#ended = false;
    return new Promise((resolve, reject) => {
      const signal = options.signal ? hookOf(options.signal) : undefined;
      const onAbort = (reason: unknown): void => {
        this.#remove(waiter);
        waiter.settle({ error: reason });
      };
      const waiter: Waiter = {
        key,
        recursive,
        waitIndex,
        settle: (outcome) => {
          closer.unlisten(onAbort);
          signal?.unlisten(onAbort);
          if (typeof outcome === 'object' && 'error' in outcome) reject(outcome.error);
          else resolve(outcome);
        },
      };
      const waiters = this.#byKey.get(key);
      if (waiters) waiters.add(waiter);
      else this.#byKey.set(key, new Set([waiter]));
      this.#waiting++;
      clearTimeout(this.#linger);
      this.#linger = undefined;
      closer.listen(onAbort);
      signal?.listen(onAbort);
      this.#ensurePolling();
    });
  }

  #remove(waiter: Waiter): boolean {
    const waiters = this.#byKey.get(waiter.key);
    if (!waiters?.delete(waiter)) return false;
    if (waiters.size === 0) this.#byKey.delete(waiter.key);
    if (--this.#waiting === 0) this.#lingerThenEnd();
    return true;
  }

  /**
   * Starts the long-poll if none runs (the watchers waiting alone move in), or sends the running one back to
   * {@link #rewindTo}.
   */
  #ensurePolling(): void {
    if (this.#rewindTo !== undefined && this.#poll) {
      this.#poll.close();
      return;
    }
    if (this.#poll) return;
    for (const moved of this.#alone) moved.abort(MOVED);
    void this.#run();
  }

  /** The long-poll loop: one wait at a time, while anyone waits. */
  async #run(): Promise<void> {
    while (this.#waiting > 0 && !this.#ended) {
      if (this.#rewindTo !== undefined) {
        this.#position = Math.min(this.#position, this.#rewindTo);
        this.#buffer.reset(this.#position);
        this.#rewindTo = undefined;
      }
      const poll = this.#stream(this.#position - 1);
      this.#poll = poll;
      try {
        for (;;) {
          const event = await poll.next();
          this.#take(event);
          if (this.#waiting === 0 || this.#rewindTo !== undefined) break;
        }
      } catch (error) {
        if (this.#rewindTo !== undefined || this.#poll !== poll) continue;
        if (this.#ended || this.#waiting === 0) break;
        if (isEventIndexCleared(error)) this.#sendAllAlone();
        else this.#failAll(error);
      } finally {
        poll.close();
        if (this.#poll === poll) this.#poll = undefined;
      }
    }
  }

  /** One event of the long-poll: buffered, and handed to every waiter it reaches at its index. */
  #take(event: Response): void {
    const node = event.node;
    if (!node) return;
    this.#buffer.add(event);
    this.#position = Math.max(this.#position, node.modifiedIndex + 1);
    this.#frontier = Math.max(this.#frontier, this.#position);
    const index = node.modifiedIndex;
    const reached: Waiter[] = [];
    const consider = (waiter: Waiter): void => {
      if (waiter.waitIndex <= index && eventReaches(event, waiter.key, waiter.recursive))
        reached.push(waiter);
    };
    if (removesDirectory(event)) {
      for (const [key, waiters] of this.#byKey) if (isWithin(node.key, key)) waiters.forEach(consider);
    }
    // the event's own key, and every directory above it up to the hub's (recursive watches)
    for (let key = node.key; ; key = parentOf(key)) {
      if (!removesDirectory(event) || !isWithin(node.key, key)) this.#byKey.get(key)?.forEach(consider);
      if (key === this.#dir || key === '/' || !isWithin(this.#dir, key)) break;
    }
    for (const waiter of reached) if (this.#remove(waiter)) waiter.settle(event);
  }

  /** Error 401: etcd no longer has the hub's index; each waiter asks etcd on its own, from its own index. */
  #sendAllAlone(): void {
    this.#position = this.#frontier = 0;
    this.#buffer.reset(0);
    for (const waiter of this.#drain()) waiter.settle(WAIT_ALONE);
  }

  /** The long-poll failed (no member answered, the client closed): every waiter fails as its own wait would. */
  #failAll(error: unknown): void {
    for (const waiter of this.#drain()) waiter.settle({ error });
  }

  #drain(): Waiter[] {
    const all: Waiter[] = [];
    for (const waiters of this.#byKey.values()) all.push(...waiters);
    this.#byKey.clear();
    this.#waiting = 0;
    this.#lingerThenEnd();
    return all;
  }

  /** Nobody waits: keep the long-poll a moment for the next wait (a waiter re-reads and waits again), then end. */
  #lingerThenEnd(): void {
    clearTimeout(this.#linger);
    this.#linger = setTimeout(() => {
      this.#linger = undefined;
      if (this.#waiting > 0) return;
      this.#poll?.close();
      // watchers waiting alone count on this hub: it stays known while they do (with no long-poll)
      if (this.#alone.size === 0) this.#end();
    }, LINGER_MS);
    this.#linger.unref();
  }

  /** Forgets the hub: the next wait in its directory makes a new one. */
  #end(): void {
    this.#ended = true;
    this.#onEnd();
  }
}

/** Resolves with `work`, or rejects at once when the caller's signal or the watcher's closer aborts first. */
function endsFirst<T>(work: Promise<T>, signal: AbortSignal | undefined, closer: AbortHook): Promise<T> {
  return new Promise((resolve, reject) => {
    const hook = signal ? hookOf(signal) : undefined;
    const onAbort = (reason: unknown): void => {
      closer.unlisten(onAbort);
      hook?.unlisten(onAbort);
      reject(reason);
    };
    closer.listen(onAbort);
    hook?.listen(onAbort);
    work.then(
      (value) => {
        closer.unlisten(onAbort);
        hook?.unlisten(onAbort);
        resolve(value);
      },
      (error: unknown) => {
        closer.unlisten(onAbort);
        hook?.unlisten(onAbort);
        reject(error);
      },
    );
  });
}

const hubs = new WeakMap<Client, Map<string, WatchHub>>();

/** The client's hub for the directory `dir` (a store key; `path` its keys-API path), made on first use. */
export function hubOf(client: Client, dir: string, path: string, stream: StreamFactory): WatchHub {
  const byDir = hubs.get(client) ?? new Map<string, WatchHub>();
  hubs.set(client, byDir);
  const known = byDir.get(dir);
  if (known && !known.ended) return known;
  const hub = new WatchHub(client, dir, path, stream, () => {
    if (byDir.get(dir) === hub) byDir.delete(dir);
  });
  byDir.set(dir, hub);
  return hub;
}
