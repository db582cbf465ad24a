/**
 * The core's queue driver (Curator's LockInternals): a contender's in-order key ({@link QueueTicket}: created
 * once even when replies are lost, kept alive, marked held, removed), and the wait every queue recipe runs
 * ({@link QueueTicket.waitUntil}, the core's `watchUntil`): read the queue, ask the recipe's rule what to wait
 * for, watch only that, and apply what the event tells ({@link learn}) before reading again. A recipe is its
 * rule: the lock's is {@link predecessor}.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Response } from '@etcdkit/client';
import { ReleasedError, SessionExpiredError, SessionLostError } from '../errors.js';
import { publishEnqueue } from '../internal/channels.js';
import type { RecipeKeys } from '../keys.js';
import type { SessionKey } from './kept-key.js';
import {
  listQueue,
  listQueueAfter,
  type QueueEntry,
  type QueueListing,
  type QueueValue,
} from './queue-listing.js';
import { isRemovedHere } from './removed-here.js';
import { isPermanent, RetryPacing, retrying } from './retry.js';
import type { Session } from './session.js';
import { GONE_ACTIONS } from './wait.js';
import { watchUntil } from './watch-until.js';

/** What a waiter watches: one entry's key, or (recursive) the whole queue directory. */
export interface WaitTarget {
  readonly key: string;
  readonly recursive?: boolean;
  /**
   * Only the entry's removal wakes the waiter (or its holder's mark, which the removal's event tells too), no
   * other change of it: after a wait that ended without an event (401, a failed watch), a read of the key that
   * finds it still there lets the wait go on without reading the queue. Not for a waiter woken by a change a
   * read cannot show (a semaphore's `touch`).
   */
  readonly wakesOnRemoval?: boolean;
}

/**
 * Where a waiter stands: the last read, or the read with what the events since told applied, and the last
 * event seen on the key it waits for (to watch that key on from there).
 */
interface Standing extends QueueListing {
  readonly seen?: Learned['seen'] | undefined;
}

/** Whether an entry of the last read is one this process removed itself (see `removed-here.ts`). */
export type RemovedHere = (clusterId: string, entry: QueueEntry) => boolean;

/** What a watch event tells a waiter about the queue ahead of it, without reading again. */
export interface Learned {
  readonly listing: QueueListing;
  /** True when every entry still listed ahead is known to be there (no stale entry ahead). */
  readonly trusted: boolean;
  /** The event's key and index, to watch that key on from there. */
  readonly seen: { readonly key: string; readonly index: number };
}

function isHeld(value: string | undefined): boolean {
  if (!value) return false;
  try {
    return (JSON.parse(value) as QueueValue).held === true;
  } catch {
    return false;
  }
}

/**
 * Applies a watch event on an entry queued before ours to the last read. Events are committed changes, and no
 * entry can appear ahead of ours (createdIndex only grows), so:
 * - the entry was deleted: it is gone; if it had been marked held, everything ahead of it was gone too; if
 *   not, so are the entries ahead that this process removed itself (see `removed-here.ts`);
 * - the entry was marked held ({@link QueueTicket.markHeld}): everything ahead of it is gone.
 * In both marked cases the rest of the listing ahead is exact (`trusted`). Anything else gives `undefined`.
 */
export function learn(
  listing: QueueListing,
  event: Response | undefined,
  mine: number,
  removedHere: RemovedHere = () => false,
): Learned | undefined {
  const node = event?.node;
  if (!event || !node) return undefined;
  const at = listing.entries.findIndex((entry) => entry.key === node.key);
  if (at < 0 || at >= mine) return undefined;
  const seen = { key: node.key, index: node.modifiedIndex };
  let entries: QueueEntry[];
  let trusted: boolean;
  if (GONE_ACTIONS.has(event.action)) {
    trusted = isHeld(event.prevNode?.value);
    entries = trusted
      ? listing.entries.slice(at + 1)
      : listing.entries.filter((entry, i) => i !== at && !(i < mine && removedHere(event.clusterId, entry)));
  } else if (isHeld(node.value)) {
    trusted = true;
    entries = listing.entries.slice(at);
  } else {
    return undefined;
  }
  return { listing: { entries, index: listing.index }, trusted, seen };
}

/**
 * Applies a watch event of the whole queue directory `dir` (a recursive wait: it sees every change after the
 * last read, in order) to that read, so the listing stays exact and is `trusted`: an entry's removal drops it,
 * wherever it stood (ours too: then the waiter is told its key is gone); a new entry (always behind every
 * entry read: createdIndex only grows) or a change of an entry moves nobody. `undefined` for an event it
 * cannot apply (none: a 401 or a failed watch; the directory itself, or a key below an entry).
 */
export function learnWhole(
  listing: QueueListing,
  event: Response | undefined,
  dir: string,
): Learned | undefined {
  const node = event?.node;
  if (!event || !node || node.dir) return undefined;
  const child = node.key.startsWith(`${dir}/`) ? node.key.slice(dir.length + 1) : '';
  if (child === '' || child.includes('/')) return undefined;
  const seen = { key: node.key, index: node.modifiedIndex };
  const entries = GONE_ACTIONS.has(event.action)
    ? listing.entries.filter((entry) => entry.key !== node.key)
    : listing.entries;
  return { listing: { entries, index: listing.index }, trusted: true, seen };
}

/**
 * The index to watch `wait` after: the last event seen on that key (or, for a recursive wait, below that
 * directory: it was the first event there after the read), else the read's index.
 */
export function watchFrom(
  listing: QueueListing,
  seen: Learned['seen'] | undefined,
  wait: WaitTarget,
): number {
  if (!seen) return listing.index;
  const within = seen.key === wait.key || (wait.recursive === true && seen.key.startsWith(`${wait.key}/`));
  return within ? Math.max(seen.index, listing.index) : listing.index;
}

/** The key of an entry queued before ours that `event` removed (delete, expire), else `undefined`. */
function removedAhead(listing: QueueListing, event: Response | undefined, mine: number): string | undefined {
  if (!event?.node || !GONE_ACTIONS.has(event.action)) return undefined;
  const key = event.node.key;
  const at = listing.entries.findIndex((entry) => entry.key === key);
  return at >= 0 && at < mine ? key : undefined;
}

/**
 * The index of a quorum read of `key` when the key is there; `undefined` when it is gone or the read failed
 * (the caller then reads the whole queue). An abort of `signal` rejects with its reason.
 */
async function indexIfPresent(
  keys: RecipeKeys,
  key: string,
  signal: AbortSignal,
): Promise<number | undefined> {
  try {
    const response = await keys.get(key, { quorum: true, signal });
    return response.node ? response.index : undefined;
  } catch {
    if (signal.aborted) throw signal.reason;
    return undefined;
  }
}

/** The blocker of a plain FIFO queue (lock, writer, election): the entry just before ours, until it goes. */
export function predecessor(entries: QueueEntry[], mine: number): WaitTarget | undefined {
  return mine === 0 ? undefined : { key: entries[mine - 1]!.key, wakesOnRemoval: true };
}

/**
 * A contender's key in a queue directory (the Curator / etcd-concurrency queue): created in order with a TTL,
 * kept alive by a {@link Session}, carrying a unique owner id so that a create whose reply was lost is found
 * again instead of duplicated.
 */
export class QueueTicket {
  readonly key: string;
  /** The key's createdIndex: the fencing token. */
  readonly createdIndex: number;
  readonly kept: SessionKey;
  readonly owner: string;
  /** The recipe, for the diagnostics events (`lock`, `rwlock`, ...); `undefined`: publish none. */
  readonly recipe: string | undefined;
  readonly #session: Session;
  readonly #dir: string;
  readonly #data: QueueValue;
  #removed: Promise<void> | undefined;
  #marking: NodeJS.Immediate | undefined;
  /** The key is marked held, or will be (a mark-held write is due, or a {@link QueueTicket.rewrite} did it). */
  #marked = false;
  #handoffKey: string | undefined;
  #handoffAt = 0;
  /** Whether an entry is one this process removed through this ticket's client (see `removed-here.ts`). */
  readonly #removedHere: RemovedHere;

  private constructor(
    session: Session,
    dir: string,
    entry: QueueEntry,
    kept: SessionKey,
    recipe: string | undefined,
  ) {
    this.#session = session;
    this.recipe = recipe;
    this.#dir = dir;
    this.key = entry.key;
    this.createdIndex = entry.createdIndex;
    this.owner = entry.data.owner ?? '';
    this.#data = entry.data;
    this.kept = kept;
    const client = session.keys.client ?? session.keys;
    this.#removedHere = (clusterId, queued) =>
      isRemovedHere(client, clusterId, queued.key, queued.createdIndex);
  }

  /**
   * Creates the contender's key in `dir` and starts keeping it alive. `recipe` names the recipe in the
   * diagnostics events (`enqueue` here, `acquired`, `handoff` and `released` later); `undefined` publishes none.
   */
  static async enqueue(
    session: Session,
    dir: string,
    payload: Omit<QueueValue, 'owner' | 'host' | 'pid'>,
    recipe: string | undefined,
    signal?: AbortSignal,
  ): Promise<QueueTicket> {
    const data: QueueValue = { owner: randomUUID(), host: hostname(), pid: process.pid, ...payload };
    const value = JSON.stringify(data);
    // A key found after lost replies may have been made by any attempt: its TTL counts from the first.
    let firstSentAt: number | undefined;
    return retrying(
      async () => {
        signal?.throwIfAborted();
        // a closed recipe (its session) queues nothing more
        if (session.closed) throw new ReleasedError(dir, 'closed');
        const sentAt = performance.now();
        firstSentAt ??= sentAt;
        try {
          const response = await session.keys.createInOrder(dir, value, { ttl: session.ttl });
          const node = response.node!;
          const entry = {
            key: node.key,
            createdIndex: node.createdIndex,
            modifiedIndex: node.modifiedIndex,
            data,
          };
          return QueueTicket.#joined(session, dir, entry, value, sentAt, recipe, response.clusterId);
        } catch (error) {
          if (isPermanent(error)) throw error;
          // The reply may be lost while the key was made: look for it before creating another.
          const found = await listQueue(session.keys, dir).then(
            (listing) => listing.entries.find((entry) => entry.data.owner === data.owner),
            () => undefined,
          );
          if (found) return QueueTicket.#joined(session, dir, found, value, firstSentAt, recipe);
          throw error;
        }
      },
      RetryPacing.enqueue,
      { signal, retryable: (error) => !isPermanent(error) && !(error instanceof ReleasedError) },
    );
  }

  static #joined(
    session: Session,
    dir: string,
    entry: QueueEntry,
    value: string,
    sentAt: number,
    recipe: string | undefined,
    clusterId?: string,
  ): QueueTicket {
    const ticket = new QueueTicket(
      session,
      dir,
      entry,
      session.keep(entry.key, { ...entry, value, ...(clusterId ? { clusterId } : {}) }, sentAt),
      recipe,
    );
    if (recipe !== undefined) publishEnqueue(recipe, dir, entry.key, entry.createdIndex);
    return ticket;
  }

  /**
   * The hand-over that ended {@link waitUntil}: the entry ahead whose removal this waiter saw; `undefined` when
   * the wait ended without waiting for a removal (the queue was free at once, or the last wake-up was none).
   */
  get handoffFrom(): string | undefined {
    return this.#handoffKey;
  }

  /** When the waiter saw {@link handoffFrom} go (`performance.now()`). */
  get handoffSeenAt(): number {
    return this.#handoffAt;
  }

  /**
   * Waits until `blocker(entries, mine)` returns no entry to wait for, watching only the entry it returns
   * (herd-free). Waiting costs nothing while nothing happens: no timer re-reads the queue (the contender's own
   * key is watched for loss by its {@link SessionKey}, and the client moves watches off members that stop
   * answering). An event on the entry waited for is applied to the last read when it can be (see
   * {@link learn}): a removal that leaves nothing to wait for, or a holder's mark. A removal that leaves
   * entries of an older read ahead is followed by a local read (see {@link listQueueAfter}); any other event,
   * error 401 or a failed watch by a quorum read.
   *
   * @throws {SessionExpiredError} when the contender's own key is gone (deleted, expired).
   * @throws {SessionLostError} when the key can no longer be kept alive, or its validity ran out meanwhile.
   * @throws the reason of `signal` when it aborts.
   */
  async waitUntil(
    blocker: (entries: QueueEntry[], mine: number) => WaitTarget | undefined,
    signal?: AbortSignal,
  ): Promise<QueueListing> {
    try {
      return await this.#waitUntil(blocker, signal);
    } catch (error) {
      if (this.kept.gone && error === this.kept.signal.reason && !signal?.aborted)
        throw new SessionExpiredError(`queue key ${this.key} expired or was deleted while waiting`, {
          cause: error,
        });
      throw error;
    }
  }

  async #waitUntil(
    blocker: (entries: QueueEntry[], mine: number) => WaitTarget | undefined,
    signal: AbortSignal | undefined,
  ): Promise<QueueListing> {
    const combined = signal ? AbortSignal.any([signal, this.kept.signal]) : this.kept.signal;
    const keys = this.#session.keys;
    // For the `handoff` event: the entry ahead whose removal the last wake-up told (and when), and the entry
    // last waited for (a re-read after a failed watch may be what tells its removal).
    let goneKey: string | undefined;
    let goneAt = 0;
    let waitedOn: string | undefined;
    // After a removal ahead: the index of that event, which a local read must have reached.
    let readAfter: number | undefined;
    // What the last decision waited for, and our place in the queue then.
    let waiting: { readonly wait: WaitTarget; readonly mine: number } | undefined;
    return watchUntil<Standing, QueueListing>(keys, {
      signal: combined,
      read: async (at) => {
        const after = readAfter;
        const listing =
          after === undefined
            ? await listQueue(keys, this.#dir, at)
            : await listQueueAfter(keys, this.#dir, after, at);
        if (goneKey === undefined && waitedOn !== undefined) {
          const key = waitedOn;
          if (!listing.entries.some((entry) => entry.key === key)) {
            goneKey = key;
            goneAt = performance.now();
          }
        }
        return listing;
      },
      decide: (standing) => {
        // an abort (the caller's, or the key's loss) that came with the last event ends the wait, no grant
        combined.throwIfAborted();
        const mine = standing.entries.findIndex((entry) => entry.key === this.key);
        if (mine < 0) {
          this.kept.lose('the queue key disappeared while waiting');
          throw new SessionExpiredError(`queue key ${this.key} expired or was deleted while waiting`);
        }
        const wait = blocker(standing.entries, mine);
        if (!wait) {
          const listing = { entries: standing.entries, index: standing.index };
          return { done: true, value: this.#granted(listing, goneKey, goneAt) };
        }
        waiting = { wait, mine };
        const afterIndex = watchFrom(standing, standing.seen, wait);
        return { done: false, watch: { key: wait.key, recursive: wait.recursive === true, afterIndex } };
      },
      learn: async (standing, event) => {
        const { wait, mine } = waiting!;
        goneKey = removedAhead(standing, event, mine);
        goneAt = goneKey === undefined ? 0 : performance.now();
        waitedOn = wait.recursive === true ? undefined : wait.key;
        if (!event && wait.wakesOnRemoval === true && wait.recursive !== true) {
          // No event (error 401: the index left etcd's history, as it does when a thousand waiters join at
          // once; or a failed watch). While the entry waited on is still there, the last read stands (entries
          // ahead can only have gone since) and the wait goes on from a read of that one key, not of the whole
          // queue.
          const index = await indexIfPresent(keys, wait.key, combined);
          if (index !== undefined) return { ...standing, index: Math.max(standing.index, index) };
        }
        // A hand-over needs no new read: the blocker's delete may leave nothing to wait for, and a marked
        // holder ahead tells that nothing ahead of it is left. A removal of an unmarked entry (a holder that
        // released before its mark went out, or a waiter that gave up) may leave entries of the last read
        // ahead that are gone since: read again, from the member that told the removal (see listQueueAfter).
        // Anything else: read again with a quorum read.
        // a wait on the whole queue sees every change: it keeps its listing exact and never reads again (a
        // semaphore's first waiter, which new entries behind it and touches ahead of it would wake)
        const learned =
          wait.recursive === true && wait.key === this.dir
            ? learnWhole(standing, event, this.dir)
            : learn(standing, event, mine, this.#removedHere);
        readAfter = undefined;
        if (!learned) return undefined;
        const at = learned.listing.entries.findIndex((entry) => entry.key === this.key);
        if (learned.trusted || !blocker(learned.listing.entries, at))
          return { ...learned.listing, seen: learned.seen };
        readAfter = learned.seen.index;
        return undefined;
      },
    });
  }

  /** A grant only counts while the key is within its validity deadline (it may have run out while waiting). */
  #granted(listing: QueueListing, goneKey: string | undefined, goneAt: number): QueueListing {
    if (!this.kept.valid) throw new SessionLostError(this.key, 'validity deadline passed while waiting');
    this.#handoffKey = goneKey;
    this.#handoffAt = goneAt;
    return listing;
  }

  /**
   * Marks the key as held (its value gains `held: true`), in the background. Only for recipes where holding
   * means every key ahead is gone (lock, writer, leader): the contender behind, woken by the change, then knows
   * it is next, and takes over on the release without another read.
   *
   * The write is deferred to the next turn of the event loop and never sent once {@link remove} has begun (a
   * release right after the grant then costs one delete, and the waiter behind needs no mark: a removal's
   * event tells it all it waits for). A release while the write is in flight does not wait for it (see
   * {@link remove}).
   */
  markHeld(): void {
    if (this.#removed || this.#marked) return;
    this.#marked = true;
    const value = JSON.stringify({ ...this.#data, held: true });
    this.#marking = setImmediate(() => {
      if (this.#removed) return;
      this.kept.update(value).catch(() => {});
    });
  }

  /** The queue directory. */
  get dir(): string {
    return this.#dir;
  }

  /** Rewrites the key with the same value (a `compareAndSwap` event), to wake the contender watching it. */
  touch(): Promise<void> {
    return this.kept.update(this.kept.value ?? JSON.stringify(this.#data));
  }

  /**
   * Writes the key's value anew, as `{ ...data, ...payload, held: true }`, for a holder that publishes
   * something (the election's proclaim). A mark-held write not sent yet is dropped (this write marks the key
   * held too), so that it cannot overwrite this one.
   */
  rewrite(payload: Omit<QueueValue, 'owner' | 'held'>): Promise<void> {
    this.#marked = true;
    if (this.#marking) clearImmediate(this.#marking);
    return this.kept.update(JSON.stringify({ ...this.#data, ...payload, held: true }));
  }

  /**
   * Stops the keepalive and the loss watch and deletes the key at once (see {@link SessionKey.remove}: never
   * someone else's key, never held up by a slow member or by a write of ours in flight). When etcd cannot be
   * reached after a few attempts the key is left to expire by its TTL. Idempotent.
   */
  remove(): Promise<void> {
    this.#removed ??= (async () => {
      if (this.#marking) clearImmediate(this.#marking);
      await this.kept.remove().catch(() => {});
    })();
    return this.#removed;
  }
}
