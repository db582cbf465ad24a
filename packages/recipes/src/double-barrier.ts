import { isKeyNotFound, type Response } from '@etcdkit/client';
import { QueueTicket } from './core/queue-driver.js';
import { listQueue, type QueueListing } from './core/queue-listing.js';
import { keysInCreationOrder } from './core/read-dir.js';
import { Session, type SessionOptions } from './core/session.js';
import { GONE_ACTIONS } from './core/wait.js';
import { watchUntil } from './core/watch-until.js';
import { RecipeError, ReleasedError, SessionExpiredError } from './errors.js';
import type { RecipeKeys } from './keys.js';

/** More members entered than the barrier's count. */
export class TooManyMembersError extends RecipeError {
  override name = 'TooManyMembersError';
  override readonly code = 'ETCDKIT_TOO_MANY_MEMBERS';
}

/** What an entering member knows of the barrier: the live member keys, the ready flag, and as of which index. */
interface View {
  /** Member keys, in creation order (after a read; events append). */
  readonly members: string[];
  readonly ready: boolean;
  readonly index: number;
}

/**
 * A double barrier: `enter()` blocks until `count` members have entered; `leave()` blocks until all of them
 * have left. Members' keys are kept alive by TTL, so a crashed member's key expires and cannot block the rest
 * forever. `leave()` is iterative (the lowest member waits for the highest, the others for the lowest).
 *
 * Only live member keys count. A member whose key disappears (expired or deleted) while it waits in `enter()`
 * or `leave()` is out of the barrier: it is told at once with a `SessionExpiredError`, and its key no longer
 * counts for anyone. The others keep waiting for `count` live members; the member that was told may `enter()`
 * again (it joins at the end). The barrier opens for a waiter when it sees the ready flag, or `count` live
 * members (it then writes the flag itself before it passes, for members that read later, once some have left):
 * no waiter depends on the key that vanished, nor on the member that completed the count surviving its write.
 */
export class DoubleBarrier implements AsyncDisposable {
  readonly #keys: RecipeKeys;
  readonly #dir: string;
  readonly #members: string;
  readonly #ready: string;
  readonly #count: number;
  readonly #session: Session;
  #ticket: QueueTicket | undefined;
  /** The ticket's key was removed by a `leave()` that was then aborted: the next one only waits for the rest. */
  #keyRemoved = false;

  constructor(keys: RecipeKeys, name: string, count: number, options: SessionOptions = {}) {
    if (!Number.isInteger(count) || count < 1)
      throw new RangeError(`count must be a whole number >= 1, got ${count}`);
    const dir = `/${name.replace(/^\/+|\/+$/g, '')}`;
    this.#keys = keys;
    this.#dir = dir;
    this.#members = `${dir}/members`;
    this.#ready = `${dir}/ready`;
    this.#count = count;
    this.#session = new Session(keys, options);
  }

  /**
   * Joins, and waits until `count` members have joined. Waiting watches the barrier: it costs no request while
   * nothing changes but the key's refreshes.
   *
   * @throws {TooManyMembersError} when `count` members are in already.
   * @throws {SessionExpiredError} when this member's key expired or was deleted (or could not be kept alive)
   *   before the barrier opened; the key is removed, and `enter()` may be called again.
   * @throws the reason of `signal` when it aborts (the member's key is removed first).
   * @throws {ReleasedError} (`closed`) when the recipe (its session) is closed, or closes while waiting.
   */
  async enter(options: { signal?: AbortSignal } = {}): Promise<void> {
    const { signal } = options;
    // a member key, not a contender for something held: no diagnostics events (recipe undefined)
    const ticket = await QueueTicket.enqueue(this.#session, this.#members, {}, undefined, signal);
    this.#ticket = ticket;
    this.#keyRemoved = false;
    const { kept } = ticket;
    const stop = signal ? AbortSignal.any([signal, kept.signal]) : kept.signal;
    let first = true;
    try {
      await watchUntil<View, void>(this.#keys, {
        signal: stop,
        read: (signal) => this.#read(signal),
        decide: async (view) => {
          if (first) {
            first = false;
            if (view.members.indexOf(ticket.key) >= this.#count)
              throw new TooManyMembersError(`${this.#members} has ${this.#count} members already`);
          }
          this.#checkMember(ticket, view);
          if (view.ready) return { done: true, value: undefined };
          if (view.members.length >= this.#count) {
            // `count` live members: this member completed the count, or saw it completed (then it opens even
            // if the member that completed it died before its flag). The flag first: members that pass leave
            // and delete their keys, and a member that reads only then must find the flag.
            await this.#open(stop);
            this.#checkMember(ticket, view);
            return { done: true, value: undefined };
          }
          // No watchdog: the session watches this member's key for loss, and the client moves a watch off a
          // member that stops answering; error 401 or a failed watch gives no event: read again.
          return { done: false, watch: { key: this.#dir, recursive: true } };
        },
        learn: (view, event) => this.#learn(view, event),
      });
    } catch (error) {
      this.#ticket = undefined;
      await ticket.remove();
      throw expired(ticket, error);
    }
  }

  /**
   * Leaves, and waits until every member has left.
   *
   * @throws {SessionExpiredError} when this member's key expired or was deleted (or could not be kept alive)
   *   before it left: the others may have gone on without it. The member is out; `leave()` again resolves.
   * @throws the reason of `signal` when it aborts: `leave()` may be called again (the member stays in, or, if
   *   it had removed its key already, the next call waits for the others).
   */
  async leave(options: { signal?: AbortSignal } = {}): Promise<void> {
    const { signal } = options;
    const ticket = this.#ticket;
    if (!ticket) return;
    const { kept } = ticket;
    const stop = signal ? AbortSignal.any([signal, kept.signal]) : kept.signal;
    let removed = this.#keyRemoved;
    const list = (at: AbortSignal | undefined): Promise<QueueListing> =>
      listQueue(this.#keys, this.#members, at);
    try {
      // the others to wait for, as of the last read (`undefined` after an aborted leave: read them)
      let rest: QueueListing | undefined;
      let alone = false;
      if (!removed) {
        rest = await watchUntil<QueueListing, QueueListing | undefined>(this.#keys, {
          signal: stop,
          read: list,
          decide: async ({ entries, index }) => {
            const mine = entries.findIndex((entry) => entry.key === ticket.key);
            if (mine < 0 || !kept.valid) {
              if (entries.length === 0) await this.#keys.delete(this.#ready).catch(() => {});
              kept.lose('the member key disappeared before it left');
              throw kept.signal.reason;
            }
            // the last one out: removes itself and the ready flag
            if (entries.length === 1) return { done: true, value: undefined };
            // the lowest waits for the highest to go, then looks again
            if (mine === 0) return { done: false, watch: { key: entries.at(-1)!.key } };
            // everyone else leaves at once and waits for the lowest (which goes last)
            return { done: true, value: { entries: entries.filter((_, at) => at !== mine), index } };
          },
        });
        await ticket.remove();
        removed = this.#keyRemoved = true;
        alone = rest === undefined;
      }
      if (!alone) {
        // once this member removed its own key, its loss no longer matters: only `signal` stops the wait
        await watchUntil<QueueListing, void>(this.#keys, {
          signal,
          initial: rest,
          read: list,
          decide: ({ entries }) =>
            entries.length === 0
              ? { done: true, value: undefined }
              : { done: false, watch: { key: entries[0]!.key } },
        });
      }
      await this.#keys.delete(this.#ready).catch(() => {});
      this.#ticket = undefined;
      this.#keyRemoved = false;
    } catch (error) {
      if (!kept.signal.aborted || removed) throw error;
      this.#ticket = undefined;
      await ticket.remove();
      throw expired(ticket, error);
    }
  }

  /** Stops keeping this member's key alive. */
  async close(): Promise<void> {
    await this.#session.close();
  }

  /** Same as {@link DoubleBarrier.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Writes the ready flag (TTL twice the session's), which tells members that read later that it opened. */
  async #open(signal: AbortSignal): Promise<void> {
    await this.#keys.set(this.#ready, 'ready', { ttl: this.#session.ttl * 2, signal });
  }

  /** This member's key must be in the view and still valid; else it is lost (and the caller told). */
  #checkMember(ticket: QueueTicket, view: View): void {
    if (!ticket.kept.valid || !view.members.includes(ticket.key)) {
      ticket.kept.lose('the member key disappeared before the barrier opened');
      throw ticket.kept.signal.reason;
    }
  }

  /** Reads the barrier (members and ready flag) with one quorum read. */
  async #read(signal: AbortSignal | undefined): Promise<View> {
    try {
      const response = await this.#keys.get(this.#dir, {
        recursive: true,
        quorum: true,
        ...(signal ? { signal } : {}),
      });
      const nodes = response.node?.nodes ?? [];
      const members = keysInCreationOrder(nodes.find((node) => node.key === this.#members)?.nodes).map(
        (node) => node.key,
      );
      const ready = nodes.some((node) => node.key === this.#ready && !node.dir);
      return { members, ready, index: response.index };
    } catch (error) {
      if (isKeyNotFound(error)) return { members: [], ready: false, index: error.index };
      throw error;
    }
  }

  /**
   * Applies a watch event of the barrier directory to `view` without reading again: a member key created or
   * removed, the ready flag set or removed. `undefined` for anything else (no event: read again).
   */
  #learn(view: View, event: Response | undefined): View | undefined {
    const node = event?.node;
    if (!event || !node || node.dir) return undefined;
    const index = node.modifiedIndex;
    const gone = GONE_ACTIONS.has(event.action);
    if (node.key === this.#ready) return { ...view, ready: !gone, index };
    if (!node.key.startsWith(`${this.#members}/`)) return undefined;
    if (gone) return { ...view, members: view.members.filter((key) => key !== node.key), index };
    if (view.members.includes(node.key)) return { ...view, index };
    return { ...view, members: [...view.members, node.key], index };
  }
}

/** A loss of the member's key (its signal's reason) as the `SessionExpiredError` the caller is told. */
function expired(ticket: QueueTicket, error: unknown): unknown {
  const { signal } = ticket.kept;
  // a close of the barrier (ReleasedError) is no expiry
  if (!signal.aborted || error !== signal.reason || error instanceof ReleasedError) return error;
  return new SessionExpiredError(`member key ${ticket.key} expired or was deleted while waiting`, {
    cause: error,
  });
}
