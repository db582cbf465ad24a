import type { Response } from '../keys.js';
import { eventReaches, isWithin, parentOf, removesDirectory } from './event-match.js';

/** What a wait in a hub ends with: an event, "wait alone from this index", or an error. */
export type HubOutcome = Response | number | { readonly error: unknown };

/** A watcher's `next()` waiting in a hub. */
export interface Waiter {
  readonly key: string;
  readonly recursive: boolean;
  /** It is a redundant watcher's wait (the hub's long-poll then waits on two members). */
  readonly redundant?: boolean;
  /** The first index it takes. */
  readonly waitIndex: number;
  settle(outcome: HubOutcome): void;
}

/**
 * The waits of one hub: those the long-poll serves (by key, so that an event finds the few it reaches without
 * looking at the rest) and those *behind* it (they asked for an index below what the long-poll has covered: they
 * join once it has gone back to their index, and no event of the poll before that reaches them).
 */
export class HubWaiters {
  readonly #byKey = new Map<string, Set<Waiter>>();
  readonly #behind = new Set<Waiter>();
  #size = 0;

  /** How many wait, behind or not. */
  get size(): number {
    return this.#size;
  }

  /** The lowest index a wait behind asks for (`undefined`: none is behind). */
  get lowestBehind(): number | undefined {
    let lowest: number | undefined;
    for (const waiter of this.#behind) lowest = Math.min(lowest ?? waiter.waitIndex, waiter.waitIndex);
    return lowest;
  }

  add(waiter: Waiter, behind: boolean): void {
    if (behind) this.#behind.add(waiter);
    else this.#served(waiter);
    this.#size++;
  }

  /** Whether `waiter` was still waiting (it is not any more). */
  remove(waiter: Waiter): boolean {
    const waiters = this.#byKey.get(waiter.key);
    if (waiters?.delete(waiter)) {
      if (waiters.size === 0) this.#byKey.delete(waiter.key);
    } else if (!this.#behind.delete(waiter)) {
      return false;
    }
    this.#size--;
    return true;
  }

  /** The long-poll went back to their index: the waits behind are served from now on. */
  promote(): void {
    for (const waiter of this.#behind) this.#served(waiter);
    this.#behind.clear();
  }

  /**
   * The served waits `event` reaches (etcd's rules) at or after their index, below the hub's directory `dir`:
   * those on the event's key, recursive ones on a directory above it, and, for a directory's removal, every one
   * below it.
   */
  reachedBy(event: Response, dir: string): Waiter[] {
    const node = event.node;
    if (!node) return [];
    const reached: Waiter[] = [];
    const consider = (waiter: Waiter): void => {
      if (waiter.waitIndex <= node.modifiedIndex && eventReaches(event, waiter.key, waiter.recursive))
        reached.push(waiter);
    };
    const removal = removesDirectory(event);
    if (removal) {
      for (const [key, waiters] of this.#byKey) if (isWithin(node.key, key)) waiters.forEach(consider);
    }
    // the event's own key, and every directory above it up to the hub's (recursive watches)
    for (let key = node.key; ; key = parentOf(key)) {
      if (!removal || !isWithin(node.key, key)) this.#byKey.get(key)?.forEach(consider);
      if (key === dir || key === '/' || !isWithin(dir, key)) break;
    }
    return reached;
  }

  /** Every wait, each once (served and behind). */
  all(): Waiter[] {
    const all: Waiter[] = [...this.#behind];
    for (const waiters of this.#byKey.values()) all.push(...waiters);
    return all;
  }

  #served(waiter: Waiter): void {
    const waiters = this.#byKey.get(waiter.key);
    if (waiters) waiters.add(waiter);
    else this.#byKey.set(waiter.key, new Set([waiter]));
  }
}
