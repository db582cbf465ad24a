/** What an HTML history report shows: the types of `renderHistoryReport`'s input. */
import type { Violation } from '../checkers.js';
import type { FaultLogEntry } from '../faults/schedule.js';
import type { Operation } from '../history.js';
import type { KvCheckResult } from '../linearizability/check-kv.js';
import type { KvOperation } from '../linearizability/kv-ops.js';

/** A fault as a shaded band: what, on whom, from when to when (wall-clock ms, as `now()` gives). */
export interface ReportFault {
  /** The fault: `kill`, `isolate`, ... */
  readonly name: string;
  /** Whom it hit: member names, or any text. */
  readonly target: string;
  /** When it was injected, wall-clock ms. */
  readonly start: number;
  /** When it was undone, wall-clock ms; absent when unknown (drawn to the end of the history, open). */
  readonly end?: number;
  /** Set when injecting it failed. */
  readonly error?: string;
}

/**
 * Who held a lock from when to when, as the safety checkers see it: a successful `hold` operation of a
 * `History` (from acquisition to release, as the holder saw them) is one.
 */
export interface ReportHold {
  /** The holder. */
  readonly process: string;
  /** Acquired, wall-clock ms. */
  readonly start: number;
  /** Released (or lost), wall-clock ms. */
  readonly end: number;
  /** The fencing token, when it had one. */
  readonly token?: number;
  /** `false` leaves it out, as the checkers do. Default `true`. */
  readonly ok?: boolean;
  /** Which lock (one group of rows a lock). Default `lock`. */
  readonly lock?: string;
}

/** Input of `renderHistoryReport`. Every field is optional; times are wall-clock ms (`now()`). */
export interface HistoryReportInput {
  /** The page's title and heading. Default `History report`. */
  readonly title?: string;
  /**
   * The operations, one row a process: a `History` or `KvHistory` (anything with `operations`),
   * or an array of {@link Operation} and {@link KvOperation}. Default none.
   */
  readonly operations?:
    | { readonly operations: readonly (Operation | KvOperation)[] }
    | readonly (Operation | KvOperation)[];
  /** Lock holders, drawn as bars one row a holder under the operations; overlaps are shaded. Default none. */
  readonly holds?: readonly ReportHold[];
  /** Faults, drawn as shaded bands across every row (see {@link faultsFromLog}). Default none. */
  readonly faults?: readonly ReportFault[];
  /** A result of `checkKvLinearizability`: on a violation, the counterexample's operations are highlighted. */
  readonly linearizability?: KvCheckResult;
  /** What the safety checkers (`checkNoOverlap`, ...) found: their operations are highlighted and listed. */
  readonly violations?: readonly Violation[];
  /**
   * Width of the timeline, px. Default: from the busiest process, 5 px an operation, at least 1000 and at
   * most 20000 (the page scrolls sideways).
   */
  readonly width?: number;
}

/**
 * The faults of a `runFaultSchedule` log on the report's time axis, at the wall-clock times each entry
 * recorded (`startedAt`, `endedAt`). With `origin` (wall-clock ms, e.g. `now()` read just before
 * `runFaultSchedule` was called), the times are `origin` plus the entries' `at` and `healedAt` instead, as
 * before entries had wall-clock times. An entry without an end is drawn open to the end of the history.
 */
export function faultsFromLog(log: readonly FaultLogEntry[], origin?: number): ReportFault[] {
  return log.map((entry) => {
    const start = origin === undefined ? entry.startedAt : origin + entry.at;
    const end =
      origin === undefined
        ? entry.endedAt
        : entry.healedAt === undefined
          ? undefined
          : origin + entry.healedAt;
    return {
      name: entry.fault,
      target: entry.members.join(', ') || '-',
      start,
      ...(end === undefined ? {} : { end }),
      ...(entry.error === undefined ? {} : { error: entry.error }),
    };
  });
}
