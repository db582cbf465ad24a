import pRetry from 'p-retry';
import type { CallOptions, Client } from './client.js';
import type { WatchInfo } from './diagnostics.js';
import { type ClientClosedError, EmptyBodyError, InvalidResponseError } from './errors.js';
import { AbortHook, eitherHook } from './internal/abort-hook.js';
import { type Action, buildURL, getAction } from './internal/action.js';
import { channels, newWatch, watchTraced } from './internal/channels.js';
import { isHiddenBelow, isWithin, keysPathOf, parentOf, storeKeyOf } from './internal/event-match.js';
import { decodeKeysResponse } from './internal/keys-response.js';
import { kCreateWatcher, kDo, kSharedWatchThreshold, kWaitsOnTwo } from './internal/symbols.js';
import { hubOf, type StreamFactory, type WatchHub } from './internal/watch-hub.js';
import type { Response } from './keys.js';

/** Options of `KeysAPI.watcher`. */
export interface WatcherOptions {
  /** Deliver changes after this store index; 0 or undefined means changes from now on. */
  readonly afterIndex?: number;
  /** Watch every key below a directory too. */
  readonly recursive?: boolean;
  /**
   * Share one long-poll with every other shared watcher of the same client below the same directory (not in
   * Go): `true` shares the key's own directory (for a `recursive` watcher, the key itself), a key names the
   * directory (the key itself or one above it). One recursive long-poll per directory then serves them all,
   * each event handed to every watcher it reaches by etcd's rules, so a thousand watchers hold one socket
   * instead of a thousand, once `ClientConfig.sharedWatchThreshold` (default 4) of them wait at once (fewer
   * wait alone: see there why). Each watcher keeps its own index and contract: the same events in the same order as
   * alone, error 401 when etcd no longer has its index, failover with the same index (see the README, "Shared
   * watchers", for the fine print). Events are shared objects: read, don't modify.
   *
   * Not shared, silently (the watcher then waits alone): a key below a hidden segment of the directory (`_x`:
   * a recursive watch of the directory never sees it) or a `KeysAPI` with a custom prefix.
   */
  readonly shared?: boolean | string;
  /**
   * Wait on two members at once (not in Go): each wait goes to the pinned member and to the next one that is
   * not suspect, and the first reply wins (etcd's log is one: both tell the same event). A member that freezes (SIGSTOP, a stalled disk) or loses the leader while
   * a wait is on it then costs nothing: the other tells the event as soon as the cluster has it, where a
   * single wait learns of the member only at its next health check (`ClientConfig.watchLivenessInterval`).
   * A member that has not told an event within twice the `retrySafeTimeout` of the other (at least 1 s) is
   * made suspect. Only the first wait's member is health-checked: when that wait fails on every member, the
   * call fails as a single wait would. A wait "from now" (no `afterIndex` yet) goes to one member: each
   * member's now is its own.
   * The cost: one more socket per wait (or per shared long-poll), and one more request per event; nothing
   * while nothing happens. Ignored with a single endpoint, and when the client's `redundancy` is `false`.
   * Shared watchers of a directory share one long-poll whatever they choose here: each of its waits that
   * starts while a redundant one waits in it goes to two members, else to one.
   */
  readonly redundant?: boolean;
}

/** Where a shared watcher's hub is: the directory's store key, and the watched store key. */
interface Share {
  readonly dir: string;
  readonly key: string;
}

const MAX_EMPTY_BACKOFF_MS = 1000;

/**
 * Waits for changes of a key (Go's `Watcher`), one event per {@link next}. The first wait is for index
 * `afterIndex + 1` (or "from now" when 0); each event moves the index to its node's `modifiedIndex + 1`, so
 * no event is delivered twice or skipped, also when a member fails mid-watch and the wait moves to another.
 *
 * Unlike Go, a wait whose member stops answering its `/health` (SIGSTOPed, or cut off from the quorum) moves
 * to another member (see `ClientConfig.watchLivenessInterval`), and empty replies are re-polled with a backoff.
 *
 * Error 401 (`EtcdError` with `errorCode` 401, "event index cleared") means the events after the index are
 * gone from the server's history (it keeps 1000). It is thrown as in Go; to go on without losing anything, call
 * {@link resync}: it reads the current state with a quorum read and moves the watcher past it.
 *
 * ```ts
 * for (;;) {
 *   try { handle(await w.next()); }
 *   catch (e) { if (isEventIndexCleared(e)) handleSnapshot(await w.resync()); else throw e; }
 * }
 * ```
 * A watcher is also an async iterator (`for await (const event of w)`); leaving the loop aborts the wait.
 *
 * `close()` (or `await using w = keys.watcher(...)`) ends it: a pending {@link next} rejects with an
 * `AbortError` and iteration ends. When the client closes, a pending or later `next()` rejects with a
 * {@link ClientClosedError} (and so does iteration).
 */
export class Watcher implements AsyncIterable<Response>, AsyncDisposable {
  readonly #client: Client;
  readonly #path: string;
  readonly #recursive: boolean;
  readonly #key: string;
  #info: WatchInfo | undefined;
  /** Aborted by {@link close}: ends the wait in flight and every later one. */
  readonly #closer = new AbortHook();
  #waitIndex: number;
  /** The hub this watcher waits in (`WatcherOptions.shared`), if it can share. */
  readonly #share: Share | undefined;
  /** This is a hub's own long-poll (for diagnostics). */
  readonly #hubPoll: boolean;
  /** {@link WatcherOptions.redundant}. */
  readonly #redundant: boolean;
  /** A hub's long-poll asks its hub before each wait whether it goes to two members. */
  readonly #redundantNow: (() => boolean) | undefined;

  /**
   * @internal Keyed by a symbol of this package's own: `KeysAPI.watcher` makes watchers. `sharePath`: the
   * keys-API path of the directory named by a `shared` key. `hubRedundant`: this is a hub's long-poll, which
   * asks it before each wait whether to wait on two members.
   */
  static [kCreateWatcher](
    client: Client,
    path: string,
    key: string,
    options: WatcherOptions,
    sharePath?: string,
    hubRedundant?: () => boolean,
  ): Watcher {
    return new Watcher(client, path, key, options, sharePath, hubRedundant);
  }

  private constructor(
    client: Client,
    path: string,
    key: string,
    options: WatcherOptions,
    sharePath: string | undefined,
    hubRedundant: (() => boolean) | undefined,
  ) {
    const after = options.afterIndex ?? 0;
    if (!Number.isSafeInteger(after) || after < 0)
      throw new RangeError(`afterIndex must be a whole number >= 0, got ${after}`);
    this.#client = client;
    this.#path = path;
    this.#key = key;
    this.#recursive = options.recursive === true;
    this.#waitIndex = after > 0 ? after + 1 : 0;
    this.#share = options.shared ? shareOf(path, this.#recursive, sharePath) : undefined;
    this.#hubPoll = hubRedundant !== undefined;
    this.#redundant = options.redundant === true;
    this.#redundantNow = hubRedundant;
  }

  /** The index the next wait asks for (0: from now). */
  get waitIndex(): number {
    return this.#waitIndex;
  }

  /**
   * Waits for the next change. Errors leave the index unchanged, so calling again retries the same wait.
   *
   * @throws {EtcdError} e.g. 401 when the index was cleared from history (see {@link resync}).
   * @throws {ClusterError} when no member could be waited on.
   * @throws {ClientClosedError} when the client is closed, or closes while the wait is pending.
   */
  next(options: CallOptions = {}): Promise<Response> {
    const { signal } = options;
    const info = this.#diagnostics();
    if (info && channels.watchStart.hasSubscribers)
      channels.watchStart.publish({ watch: info, waitIndex: this.#waitIndex });
    if (!this.#share) return this.#waitAlone(info, options, this.#closer);
    if (this.#closer.aborted) return Promise.reject(this.#closer.reason);
    if (signal?.aborted) return Promise.reject(signal.reason);
    const hub = this.#hub(this.#share);
    // a wait from now never waits alone: moved into the hub later, it would miss what happened meanwhile
    const moved =
      this.#waitIndex > 0
        ? hub.waitsAlone(this.#client[kSharedWatchThreshold], this.#waitIndex, this.#onTwo())
        : undefined;
    if (moved) return this.#waitAloneMovable(this.#share, hub, moved, info, options);
    return this.#inHub(this.#share, hub, info, options);
  }

  /**
   * A shared watcher's wait in its directory's hub (no async frame of its own: a thousand watchers wait at
   * once). When the hub gives an index instead of an event, this wait goes alone from there.
   */
  #inHub(share: Share, hub: WatchHub, info: WatchInfo | undefined, options: CallOptions): Promise<Response> {
    return hub
      .next(share.key, this.#recursive, this.#waitIndex, options, this.#closer, this.#onTwo())
      .then((got) => {
        if (typeof got !== 'number') return this.#took(got, '', info);
        this.#waitIndex = got;
        return this.#waitAlone(info, options, this.#closer);
      });
  }

  /**
   * A shared watcher's wait alone, while too few wait in its directory to share: when the hub's long-poll
   * starts from an index that covers it (`moved` aborts), the wait goes on in the hub.
   */
  async #waitAloneMovable(
    share: Share,
    hub: WatchHub,
    moved: AbortHook,
    info: WatchInfo | undefined,
    options: CallOptions,
  ): Promise<Response> {
    // ends when this watcher closes, or when the hub starts and takes the wait over
    const either = eitherHook(this.#closer, moved);
    try {
      return await this.#waitAlone(info, options, either.hook);
    } catch (error) {
      if (!moved.aborted || this.#closer.aborted || options.signal?.aborted) throw error;
    } finally {
      either.release();
      hub.doneAlone(moved);
    }
    return this.#inHub(share, this.#hub(share), info, options);
  }

  /** One wait of this watcher's own: a long-poll of its key from its index. */
  async #waitAlone(info: WatchInfo | undefined, options: CallOptions, closer: AbortHook): Promise<Response> {
    const { signal } = options;
    const params: [string, string][] = [
      ['recursive', String(this.#recursive)],
      ['wait', 'true'],
      ['waitIndex', String(this.#waitIndex)],
    ];
    const action: Action = {
      wait: true,
      // a wait "from now" is not: each member would start from its own now, and one may rightly wait on
      redundant: (this.#redundantNow?.() ?? this.#redundant) && this.#waitIndex > 0,
      operation: 'watch',
      key: this.#key,
      watch: info,
      closer,
      waitIndex: this.#waitIndex,
      httpRequest: (ep) => ({
        method: 'GET',
        ...buildURL(ep, `${ep.path}${this.#path}`, params),
        headers: {},
      }),
    };
    let endpoint = '';
    const wait = async (): Promise<Response> => {
      const raw = await this.#client[kDo](action, options);
      endpoint = raw.endpoint.text;
      return decodeKeysResponse(raw);
    };
    let response: Response;
    try {
      response = await wait();
    } catch (error) {
      // Proxies and 2.x servers end idle waits with an empty 200: wait again (same index), backing off from
      // 25 ms. p-retry takes over only then (its machinery costs more than a wait's own bookkeeping); the
      // empty reply just seen counts as its first attempt.
      if (!(error instanceof EmptyBodyError)) throw error;
      // p-retry's backoff takes a signal: one that aborts on close too, made only on this rare path.
      const closing = new AbortController();
      const onClose = (reason: unknown): void => closing.abort(reason);
      closer.listen(onClose);
      try {
        response = await pRetry(
          (attempt) => {
            if (attempt === 1) throw error;
            return wait();
          },
          {
            retries: Number.POSITIVE_INFINITY,
            factor: 2,
            minTimeout: 25,
            maxTimeout: MAX_EMPTY_BACKOFF_MS,
            randomize: false,
            signal: signal ? AbortSignal.any([signal, closing.signal]) : closing.signal,
            shouldRetry: ({ error: failure }) => failure instanceof EmptyBodyError,
          },
        );
      } finally {
        closer.unlisten(onClose);
      }
    }
    return this.#took(response, endpoint, info);
  }

  /** An event for this watcher: the index moves past it. */
  #took(response: Response, endpoint: string, info: WatchInfo | undefined): Response {
    const node = response.node;
    if (!node) throw new InvalidResponseError('client: watch reply without a node');
    this.#waitIndex = node.modifiedIndex + 1;
    if (info && channels.watchEvent.hasSubscribers) {
      channels.watchEvent.publish({
        watch: info,
        endpoint,
        action: response.action,
        key: node.key,
        modifiedIndex: node.modifiedIndex,
        etcdIndex: response.index,
        lag: Math.max(0, response.index - node.modifiedIndex),
      });
    }
    return response;
  }

  /**
   * Reads the watched key (recursively if the watcher is) with a quorum read and moves the watcher to the
   * index after that read, so that the returned state plus the events that follow miss nothing. Use it after
   * error 401.
   */
  async resync(options: CallOptions = {}): Promise<Response> {
    const read = getAction(this.#path, { quorum: true, recursive: this.#recursive }, 'resync', this.#key);
    const response = decodeKeysResponse(await this.#client[kDo](read, options));
    this.#waitIndex = response.index + 1;
    const info = this.#diagnostics();
    if (info && channels.watchResync.hasSubscribers)
      channels.watchResync.publish({ watch: info, index: response.index });
    return response;
  }

  /** Whether this watcher's waits go to two members now (redundant, and the client sends such waits to two). */
  #onTwo(): boolean {
    return this.#redundant && this.#client[kWaitsOnTwo];
  }

  /** The client's hub for `share`'s directory. */
  #hub(share: Share): WatchHub {
    return hubOf(this.#client, share.dir, hubStream);
  }

  /** This watcher's {@link WatchInfo}, made the first time anyone listens. */
  #diagnostics(): WatchInfo | undefined {
    if (this.#info) return this.#info;
    if (!watchTraced()) return undefined;
    this.#info = newWatch(this.#key, this.#recursive, this.#hubPoll);
    return this.#info;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Response, void, undefined> {
    while (!this.#closer.aborted) {
      try {
        yield await this.next();
      } catch (error) {
        if (this.#closer.aborted) return;
        throw error;
      }
    }
  }

  /** Aborts a pending wait (it rejects with an AbortError) and ends iteration. Idempotent. */
  close(): void {
    this.#closer.abort(new DOMException('watcher closed', 'AbortError'));
  }

  /** {@link close}, for `await using w = keys.watcher(...)`. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
  }
}

/**
 * Where a shared watcher of `path` waits: the directory `sharePath` names, else the key's own directory (for a
 * recursive watcher, the key). `undefined` when it cannot share (see `WatcherOptions.shared`).
 *
 * @throws {RangeError} when the named directory is not the key or above it.
 */
function shareOf(path: string, recursive: boolean, sharePath: string | undefined): Share | undefined {
  const key = storeKeyOf(path);
  if (key === undefined) return undefined;
  const dir = sharePath === undefined ? (recursive ? key : parentOf(key)) : storeKeyOf(sharePath);
  if (dir === undefined) return undefined;
  if (!isWithin(dir, key))
    throw new RangeError(`shared: ${JSON.stringify(dir)} is not the watched key or a directory above it`);
  if (isHiddenBelow(dir, key)) return undefined;
  return { dir, key };
}

/**
 * A hub's own long-poll of `dir`: a recursive watcher of the directory (marked as the hub's), on two members
 * while its hub says so.
 */
function hubStream(client: Client, dir: string): StreamFactory {
  const path = keysPathOf(dir);
  return (afterIndex, redundant) =>
    Watcher[kCreateWatcher](client, path, dir, { recursive: true, afterIndex }, undefined, redundant);
}
