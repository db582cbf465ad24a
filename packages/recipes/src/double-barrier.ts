import { EtcdError, type KeysAPI } from '@etcdkit/client';
import { RecipeError } from './errors.js';
import { listQueue, QueueTicket } from './internal/queue.js';
import { waitForEvent } from './internal/wait.js';
import { Session, type SessionOptions } from './session.js';

/** More members entered than the barrier's count. */
export class TooManyMembersError extends RecipeError {
  override name = 'TooManyMembersError';
  override readonly code = 'ETCDKIT_TOO_MANY_MEMBERS';
}

/**
 * A double barrier: `enter()` blocks until `count` members have entered; `leave()` blocks until all of them
 * have left. Members' keys are kept alive by TTL, so a crashed member's key expires and cannot block the rest
 * forever. `leave()` is iterative (the lowest member waits for the highest, the others for the lowest).
 */
export class DoubleBarrier {
  readonly #keys: KeysAPI;
  readonly #members: string;
  readonly #ready: string;
  readonly #count: number;
  readonly #session: Session;
  #ticket: QueueTicket | undefined;

  constructor(keys: KeysAPI, name: string, count: number, options: SessionOptions = {}) {
    if (!Number.isInteger(count) || count < 1)
      throw new RangeError(`count must be a whole number >= 1, got ${count}`);
    const dir = name.replace(/\/+$/, '');
    this.#keys = keys;
    this.#members = `${dir}/members`;
    this.#ready = `${dir}/ready`;
    this.#count = count;
    this.#session = new Session(keys, options);
  }

  /**
   * Joins, and waits until `count` members have joined.
   *
   * @throws {TooManyMembersError} when `count` members are in already.
   */
  async enter(options: { signal?: AbortSignal } = {}): Promise<void> {
    const { signal } = options;
    // a member key, not a contender for something held: no diagnostics events (recipe undefined)
    const ticket = await QueueTicket.enqueue(this.#session, this.#members, {}, undefined, signal);
    this.#ticket = ticket;
    try {
      const { entries } = await listQueue(this.#keys, this.#members, signal);
      const rank = entries.findIndex((entry) => entry.key === ticket.key);
      if (rank >= this.#count)
        throw new TooManyMembersError(`${this.#members} has ${this.#count} members already`);
      if (entries.length >= this.#count) {
        await this.#keys.set(this.#ready, 'ready', {
          ttl: this.#session.ttl * 2,
          ...(signal ? { signal } : {}),
        });
        return;
      }
      for (;;) {
        let index: number;
        try {
          await this.#keys.get(this.#ready, { quorum: true, ...(signal ? { signal } : {}) });
          return;
        } catch (error) {
          if (!(error instanceof EtcdError && error.errorCode === 100)) throw error;
          index = error.index;
        }
        await waitForEvent(this.#keys, this.#ready, {
          afterIndex: index,
          signal,
          watchdogMs: this.#session.ttl * 1000,
        });
      }
    } catch (error) {
      this.#ticket = undefined;
      await ticket.remove();
      throw error;
    }
  }

  /** Leaves, and waits until every member has left. */
  async leave(options: { signal?: AbortSignal } = {}): Promise<void> {
    const { signal } = options;
    const ticket = this.#ticket;
    if (!ticket) return;
    const watchdogMs = this.#session.ttl * 1000;
    for (;;) {
      const { entries, index } = await listQueue(this.#keys, this.#members, signal);
      const mine = entries.findIndex((entry) => entry.key === ticket.key);
      if (entries.length === 0 || (mine === 0 && entries.length === 1)) {
        // the last one out: remove itself and the ready flag
        await ticket.remove();
        await this.#keys.delete(this.#ready).catch(() => {});
        this.#ticket = undefined;
        return;
      }
      if (mine === 0) {
        // the lowest waits for the highest to go, then looks again
        await waitForEvent(this.#keys, entries.at(-1)!.key, { afterIndex: index, signal, watchdogMs });
        continue;
      }
      // everyone else leaves at once and waits for the lowest (which goes last)
      await ticket.remove();
      await waitForEvent(this.#keys, entries[0]!.key, { afterIndex: index, signal, watchdogMs });
    }
  }

  /** Stops keeping this member's key alive. */
  async close(): Promise<void> {
    await this.#session.close();
  }
}
