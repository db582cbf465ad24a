import type { Response } from '../keys.js';

/** How many events a hub keeps for watchers that ask for an index it has passed (etcd keeps 1000 too). */
export const EVENT_BUFFER_SIZE = 1000;

/**
 * The recent events of one long-poll, in index order, and the index from which it holds *every* event of its
 * directory (its {@link floor}): a wait for an index at or above the floor can be answered from here, one below
 * it cannot.
 */
export class EventBuffer {
  readonly #capacity: number;
  #events: Response[] = [];
  /** Where the live events start in {@link #events} (old ones are dropped in batches). */
  #head = 0;
  #floor = 0;

  constructor(capacity = EVENT_BUFFER_SIZE) {
    this.#capacity = capacity;
  }

  /** Every event of the directory from this index on (up to the long-poll's position) is held. */
  get floor(): number {
    return this.#floor;
  }

  /** Forgets every event: the buffer holds everything from `floor` on (the long-poll starts there). */
  reset(floor: number): void {
    this.#events = [];
    this.#head = 0;
    this.#floor = floor;
  }

  /** Adds the long-poll's next event (indexes only grow); the oldest goes once more than the capacity is held. */
  add(event: Response): void {
    this.#events.push(event);
    if (this.#events.length - this.#head > this.#capacity) {
      const dropped = this.#events[this.#head++]!;
      this.#floor = dropped.node!.modifiedIndex + 1;
      if (this.#head >= this.#capacity) {
        this.#events = this.#events.slice(this.#head);
        this.#head = 0;
      }
    }
  }

  /** The first event with an index in [`from`, `until`) that `reaches` accepts. */
  find(from: number, until: number, reaches: (event: Response) => boolean): Response | undefined {
    const events = this.#events;
    let low = this.#head;
    let high = events.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (events[mid]!.node!.modifiedIndex < from) low = mid + 1;
      else high = mid;
    }
    for (let i = low; i < events.length; i++) {
      const event = events[i]!;
      if (event.node!.modifiedIndex >= until) return undefined;
      if (reaches(event)) return event;
    }
    return undefined;
  }
}
