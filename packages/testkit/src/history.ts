/**
 * A history of operations, as Jepsen records one: each operation has a process, a kind, an invocation and a
 * completion time, and what it returned. Times are wall-clock ms with sub-ms precision
 * (`performance.timeOrigin + performance.now()`), so that histories recorded by several processes of one
 * machine merge.
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
 * Wall-clock ms with sub-ms precision, comparable across the processes of one machine: now, or at `reading`
 * (a `performance.now()` taken earlier, for a time also used in another time base).
 */
export function now(reading: number = performance.now()): number {
  return performance.timeOrigin + reading;
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
