import { followChanges } from './core/follow-changes.js';
import { announceHeld, orRemove, releaseHeld, validWhile } from './core/held.js';
import { isKeptHere } from './core/kept-here.js';
import { predecessor, QueueTicket } from './core/queue-driver.js';
import { listQueue, type QueueEntry, type QueueListing } from './core/queue-listing.js';
import { Session, type SessionOptions } from './core/session.js';
import { ReleasedError, SessionLostError } from './errors.js';
import { channels, publishLeader } from './internal/channels.js';
import type { RecipeKeys } from './keys.js';

/** Options of {@link Election}. */
export interface ElectionOptions extends SessionOptions {
  /** A session to keep candidates' keys alive; by default the election makes its own with `ttl`. */
  readonly session?: Session;
}

/** Who leads, as observers see it. */
export interface LeaderInfo {
  /** The value the leader campaigned with, or last proclaimed. */
  readonly value: string;
  /** The leader's key. */
  readonly key: string;
  /** The leader's fencing token (its key's createdIndex): strictly rising across terms. */
  readonly fencingToken: number;
}

/** A term of leadership, from `campaign()` until it is resigned or lost. */
export interface Term extends AsyncDisposable {
  readonly key: string;
  /** Strictly rising across leaders of this election. */
  readonly fencingToken: number;
  /**
   * Aborts when the term ends: with a `ReleasedError` (`how: 'resigned'`) when this term resigns (`resign()`,
   * the end of `await using`), with a `SessionLostError` as soon as leadership can no longer be trusted, or
   * the key was removed by someone else. Whichever came first stays the reason; test `reason.code` (or
   * `instanceof SessionLostError`) to tell a loss from a resign.
   */
  readonly signal: AbortSignal;
  /**
   * True while leadership can be trusted, judged on this process's monotonic clock when it is read (see
   * `HeldLock.valid`): false once {@link signal} has aborted, and as soon as the key's validity deadline has
   * passed, even before the timer that aborts `signal` has run. Once false, it stays false.
   */
  readonly valid: boolean;
  /**
   * Publishes a new value for observers (`compareAndSwap` on the leader's key).
   *
   * @throws the term's `signal.reason` once the term has ended (resigned or lost).
   */
  proclaim(value: string): Promise<void>;
  /**
   * Steps down at once: aborts `signal` with a `ReleasedError`, then deletes the key, so the next candidate
   * leads within one round trip. Publishes `released`, never `lost`. Idempotent.
   */
  resign(): Promise<void>;
  /** The same as {@link resign}: every long-lived object of the recipes closes with `close()`. */
  close(): Promise<void>;
}

/**
 * Leader election on the etcd v2 API (the queue recipe of Curator's LeaderLatch and etcd's Election): FIFO
 * candidates, each watching only its predecessor; the first key leads.
 */
export class Election implements AsyncDisposable {
  readonly #keys: RecipeKeys;
  readonly #dir: string;
  readonly #session: Session;
  readonly #ownSession: boolean;

  constructor(keys: RecipeKeys, name: string, options: ElectionOptions = {}) {
    this.#keys = keys;
    this.#dir = name.replace(/\/+$/, '');
    this.#ownSession = !options.session;
    this.#session = options.session ?? new Session(keys, options);
  }

  /**
   * Becomes a candidate with `value` and resolves once leader.
   *
   * @throws {SessionExpiredError | SessionLostError} when the candidate's key is lost while waiting.
   * @throws the reason of `signal` when it aborts (the candidate's key is removed first).
   * @throws {ReleasedError} (`closed`) when the recipe (its session) is closed, or closes while waiting.
   */
  async campaign(value: string, options: { signal?: AbortSignal } = {}): Promise<Term> {
    const startedAt = performance.now();
    const ticket = await QueueTicket.enqueue(this.#session, this.#dir, { value }, 'election', options.signal);
    await orRemove(ticket, () => ticket.waitUntil(predecessor, options.signal));
    ticket.markHeld();
    const heldAt = announceHeld(ticket, startedAt);
    reportLeader(this.#dir, { key: ticket.key, value, fencingToken: ticket.createdIndex });
    // The term's signal: the key's (a loss: the session watches the key, so a removal is seen at once), or a
    // resign of this term (no loss).
    const ended = new AbortController();
    const signal = AbortSignal.any([ticket.kept.signal, ended.signal]);
    const { kept } = ticket;
    const onLost = (): void => {
      // the leader key was removed (not merely unreachable): this process sees no leader
      if (kept.gone) reportNoLeader(this.#dir, Number.POSITIVE_INFINITY, ticket.key);
    };
    kept.signal.addEventListener('abort', onLost, { once: true });
    let resigned: Promise<void> | undefined;
    const resign = (): Promise<void> => {
      resigned ??= (async () => {
        // lost before (not closed: a close is no loss)
        const lostBefore = ticket.kept.signal.reason instanceof SessionLostError;
        kept.signal.removeEventListener('abort', onLost);
        ended.abort(new ReleasedError(ticket.key, 'resigned'));
        await releaseHeld(ticket, heldAt);
        if (!lostBefore) reportNoLeader(this.#dir, Number.POSITIVE_INFINITY, ticket.key);
      })();
      return resigned;
    };
    return {
      key: ticket.key,
      fencingToken: ticket.createdIndex,
      signal,
      get valid() {
        return validWhile(signal, ticket);
      },
      proclaim: async (next: string) => {
        signal.throwIfAborted();
        await ticket.rewrite({ value: next, pid: process.pid });
      },
      resign,
      close: resign,
      [Symbol.asyncDispose]: resign,
    };
  }

  /** The current leader, or `null` when there is none (a quorum read). */
  async leader(options: { signal?: AbortSignal } = {}): Promise<LeaderInfo | null> {
    return leaderOf(await listQueue(this.#keys, this.#dir, options.signal));
  }

  /**
   * Follows the leadership: yields the current leader at once (or `null` when there is none), then every
   * change (new leader, new proclaimed value, no leader). Ends when `signal` aborts. A transient failure (no
   * member answered) is retried; a closed client throws its `ClientClosedError`, and etcd's own error from a
   * read throws too.
   */
  async *observe(options: { signal?: AbortSignal } = {}): AsyncGenerator<LeaderInfo | null, void, undefined> {
    const dir = this.#dir;
    const idOf = (leader: LeaderInfo | null): string => (leader ? `${leader.key}\n${leader.value}` : '');
    yield* followChanges<QueueListing, LeaderInfo | null>(this.#keys, {
      signal: options.signal,
      read: (signal) => listQueue(this.#keys, dir, signal),
      changes: (before, after) => {
        const leader = leaderOf(after);
        if (before && idOf(leaderOf(before)) === idOf(leader)) return [];
        if (leader) reportLeader(dir, leader);
        else reportNoLeader(dir, after.index);
        return [leader];
      },
      // the leader's key (its change or removal), or while there is none, the directory (a new contender)
      target: (listing) => {
        const leader = leaderOf(listing);
        return leader ? { key: leader.key } : { key: dir, recursive: true };
      },
    });
  }

  /** Stops the election's own session. */
  async close(): Promise<void> {
    if (this.#ownSession) await this.#session.close();
  }

  /** Same as {@link Election.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Per election name, the leader this process last published on `election:leader` (`key` undefined: none) and
 * the highest leader createdIndex it published. Leaders' createdIndexes only rise, so a read older than what
 * was published already (an observer's, racing a campaign or a resign of this process) is recognised and not
 * published again: each change is published once per process, whichever observer, campaign or resign saw it
 * first. Kept only while the channel has subscribers.
 */
const reported = new Map<string, { readonly key: string | undefined; readonly createdIndex: number }>();

/** This process sees `leader` lead election `name`. */
function reportLeader(name: string, leader: LeaderInfo): void {
  if (!channels.electionLeader.hasSubscribers) return;
  const last = reported.get(name);
  if (last && leader.fencingToken <= last.createdIndex) return; // the same leader, or an older one
  reported.set(name, { key: leader.key, createdIndex: leader.fencingToken });
  publishLeader(name, leader.key, leader.value, leader.fencingToken, isKeptHere(leader.key));
}

/**
 * This process sees no leader of election `name`: a read at `index` found none, or (`gone`) the leader key it
 * knew was removed at `index` (a resign passes +Infinity).
 */
function reportNoLeader(name: string, index: number, gone?: string): void {
  if (!channels.electionLeader.hasSubscribers) return;
  const last = reported.get(name);
  if (last && last.key === undefined) return; // none already
  if (gone !== undefined && last?.key !== gone) return; // not the leader this process last saw
  if (last && index < last.createdIndex) return; // a read from before that leader was created
  reported.set(name, { key: undefined, createdIndex: last?.createdIndex ?? 0 });
  publishLeader(name, undefined, undefined, 0, false);
}

function leaderOf(listing: QueueListing): LeaderInfo | null {
  const first: QueueEntry | undefined = listing.entries[0];
  if (!first) return null;
  const { value } = first.data;
  return { value: typeof value === 'string' ? value : '', key: first.key, fencingToken: first.createdIndex };
}
