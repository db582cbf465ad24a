/**
 * A history of operations, as Jepsen records one: each operation has a process, a kind, an invocation and a
 * completion time, and what it returned. Times are wall-clock ms with sub-ms precision (see {@link now}), so
 * that histories recorded by several processes of one machine merge.
 */

/** One completed (or failed) operation. */
export interface Operation {
  /** Who ran it: a process or worker name. */
  readonly process: string;
  /** What it was: `acquire`, `hold`, `write`, `lead`, ... */
  readonly kind: string;
  readonly start: number;
  readonly end: number;
  /** True when it succeeded. */
  readonly ok: boolean;
  /** A fencing token, when the operation had one. */
  readonly token?: number;
  /** Anything else worth keeping (an error message, a value). */
  readonly detail?: string;
}

/**
 * The wall-clock time, in ms, at which this process's `performance.now()` reads 0. Not
 * `performance.timeOrigin`: a process takes that at start-up, and on a loaded machine it can be off by
 * milliseconds from one process to the next (Node 24 on 2 busy cores), which makes hand-overs between worker
 * processes look like overlaps. Instead it is read at a tick of `Date.now()` (the system clock, one for every
 * process): right after the tick, the wall clock is the new value to within microseconds. The largest of a
 * few readings is kept (a reading delayed after its tick comes out early). Read on the first {@link now}, not
 * at import: waiting for three ticks costs up to 3 ms, which a process that records nothing need not pay.
 */
let origin: number | undefined;

/** Reads the clock origin (see {@link origin}). */
function readClockOrigin(): number {
  let read = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < 3; i++) {
    const before = Date.now();
    let wall = Date.now();
    while (wall === before) wall = Date.now();
    read = Math.max(read, wall - performance.now());
  }
  return read;
}

/**
 * Wall-clock ms with sub-ms precision, comparable across the processes of one machine: now, or at `reading`
 * (a `performance.now()` taken earlier, for a time also used in another time base).
 */
export function now(reading: number = performance.now()): number {
  origin ??= readClockOrigin();
  return origin + reading;
}

/** Records operations; merge histories of several processes with {@link History.merge}. */
export class History {
  readonly #ops: Operation[] = [];

  /** Every operation recorded, in completion order. */
  get operations(): readonly Operation[] {
    return this.#ops;
  }

  /** Adds a completed operation (e.g. one a worker process reported). */
  record(op: Operation): void {
    this.#ops.push(op);
  }

  /**
   * Runs `fn` as an operation: its start, end, and whether it threw are recorded, and its result (or error)
   * is passed on. A result with a numeric `fencingToken` is recorded as the token.
   */
  async run<T>(process: string, kind: string, fn: () => Promise<T>): Promise<T> {
    const start = now();
    try {
      const result = await fn();
      const token = (result as { fencingToken?: unknown } | null)?.fencingToken;
      this.record({
        process,
        kind,
        start,
        end: now(),
        ok: true,
        ...(typeof token === 'number' ? { token } : {}),
      });
      return result;
    } catch (error) {
      this.record({
        process,
        kind,
        start,
        end: now(),
        ok: false,
        detail: String((error as Error)?.message ?? error),
      });
      throw error;
    }
  }

  /** Adds every operation of `other`. */
  merge(other: History | readonly Operation[]): void {
    for (const op of other instanceof History ? other.operations : other) this.record(op);
  }

  /** The successful operations of `kind`, by start time. */
  ofKind(kind: string): Operation[] {
    return this.#ops.filter((op) => op.kind === kind && op.ok).sort((a, b) => a.start - b.start);
  }
}
