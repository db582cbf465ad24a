/**
 * Precise timeouts for many short requests at the cost of one timer. Requests with the same timeout end in
 * the order they started, so their deadlines rise: a queue per timeout keeps them in order, and one timer is
 * armed for the earliest deadline still pending. A request that ends only marks its entry done (no
 * `clearTimeout`) and lets go of its callback; when the timer fires it drops the entries done and re-arms for
 * the next one. A Node timer per request (a Timeout object, a list insert and an unenroll) cost about 3 µs of
 * a sequential request's CPU.
 *
 * Deadlines expire in the event loop's check phase (`setImmediate`) after the timer's: so the replies already
 * received are read first (in the poll phase between them). After the loop was blocked (a long synchronous
 * task), timers run before any I/O, and a reply that arrived in time would otherwise lose to its own timeout.
 */

/** One pending deadline: call {@link cancel} when the request ends first. */
export interface Deadline {
  cancel(): void;
}

class Entry implements Deadline {
  /** Dropped when it ends, so that an ended request's state is not kept until the timer comes by. */
  onExpire: (() => void) | undefined;

  constructor(
    readonly at: number,
    onExpire: () => void,
  ) {
    this.onExpire = onExpire;
  }

  cancel(): void {
    this.onExpire = undefined;
  }
}

/** The deadlines of one timeout value, in the order they were added (so, of rising `at`). */
class DeadlineQueue {
  readonly #ms: number;
  #entries: Entry[] = [];
  #head = 0;
  #timer: NodeJS.Timeout | undefined;
  /** While expired callbacks run: a deadline they add is armed by {@link #fire} afterwards, not twice. */
  #firing = false;

  constructor(ms: number) {
    this.#ms = ms;
  }

  add(onExpire: () => void): Deadline {
    const entry = new Entry(performance.now() + this.#ms, onExpire);
    this.#entries.push(entry);
    if (this.#timer === undefined && !this.#firing) this.#arm(this.#ms);
    return entry;
  }

  #arm(delay: number): void {
    this.#timer = setTimeout(() => setImmediate(() => this.#fire()), Math.max(0, delay));
    // The request in flight keeps the process alive (its socket); a timer left for ended requests must not.
    this.#timer.unref();
  }

  #fire(): void {
    this.#timer = undefined;
    const now = performance.now();
    const entries = this.#entries;
    while (this.#head < entries.length) {
      const entry = entries[this.#head]!;
      const onExpire = entry.onExpire;
      if (onExpire && entry.at > now) break;
      this.#head++;
      if (onExpire) {
        entry.onExpire = undefined;
        this.#firing = true;
        try {
          onExpire();
        } finally {
          this.#firing = false;
        }
      }
    }
    if (this.#head === entries.length) {
      this.#entries = [];
      this.#head = 0;
      return;
    }
    if (this.#head > 1024 && this.#head * 2 > entries.length) {
      this.#entries = entries.slice(this.#head);
      this.#head = 0;
    }
    this.#arm(this.#entries[this.#head]!.at - now);
  }
}

const queues = new Map<number, DeadlineQueue>();

/**
 * Calls `onExpire` after `ms` (as a timer of its own would, one loop phase later: see the module's comment),
 * unless cancelled first.
 */
export function deadline(ms: number, onExpire: () => void): Deadline {
  let queue = queues.get(ms);
  if (!queue) {
    queue = new DeadlineQueue(ms);
    queues.set(ms, queue);
  }
  return queue.add(onExpire);
}
