/**
 * The report's marks: operations, lock holds and faults turned into what is drawn (a row, a lane, an outcome,
 * a hover text), with what is highlighted (the counterexample's operations, the checkers' violations).
 */
import { overlappingPairs, type Violation } from '../checkers.js';
import type { Operation } from '../history.js';
import type { KvCheckResult } from '../linearizability/check-kv.js';
import { formatKvInput, formatKvOutput } from '../linearizability/format.js';
import { isPending, type KvOperation } from '../linearizability/kv-ops.js';
import type { HistoryReportInput, ReportFault, ReportHold } from './input.js';

/** How an operation ended: `rejected` is a definite failure (100, 101, 105, or a thrown error). */
export type Outcome = 'ok' | 'rejected' | 'pending' | 'not-applied';

/** One operation as drawn. */
export interface OpMark {
  readonly process: string;
  readonly start: number;
  readonly end: number;
  /** `read` (a get), `write` (any other KV operation), or the kind of a generic operation. */
  readonly kind: string;
  readonly outcome: Outcome;
  /** One line: `set /k := "v" => ok @7`. */
  readonly text: string;
  readonly highlighted: boolean;
  /** The lane within the process's row (a process's operations may overlap). */
  lane: number;
}

/** One hold as drawn. */
export interface HoldMark {
  readonly lock: string;
  readonly process: string;
  readonly start: number;
  readonly end: number;
  readonly token?: number;
  readonly overlapping: boolean;
  readonly highlighted: boolean;
}

/** A time when two processes held the same lock. */
export interface OverlapMark {
  readonly lock: string;
  readonly start: number;
  readonly end: number;
  readonly text: string;
}

/** A fault with its lane in the faults row. */
export interface FaultMark extends ReportFault {
  readonly lane: number;
}

const identity = (op: { process: string; start: number; end: number }): string =>
  `${op.process}\u0000${op.start}\u0000${op.end}`;

const isKv = (op: Operation | KvOperation): op is KvOperation => 'input' in op;

/** The operations a checker result points at, by process and times (they survive a copy). */
export function highlightedIds(
  linearizability: KvCheckResult | undefined,
  violations: readonly Violation[] = [],
): Set<string> {
  const ids = new Set<string>();
  if (linearizability?.ok === false)
    for (const op of linearizability.counterexample.ops) ids.add(identity(op));
  for (const violation of violations) for (const op of violation.ops) ids.add(identity(op));
  return ids;
}

/** An operation's mark, without its lane. */
function opMark(op: Operation | KvOperation, highlighted: Set<string>): OpMark {
  const base = {
    process: op.process,
    start: op.start,
    end: op.end,
    highlighted: highlighted.has(identity(op)),
  };
  if (isKv(op)) {
    const outcome: Outcome = isPending(op)
      ? 'pending'
      : op.failed
        ? 'not-applied'
        : op.output?.status === 'ok'
          ? 'ok'
          : 'rejected';
    const kind = op.input.type === 'get' ? 'read' : 'write';
    return { ...base, kind, outcome, text: `${formatKvInput(op.input)}  =>  ${formatKvOutput(op)}`, lane: 0 };
  }
  const token = op.token === undefined ? '' : ` token ${op.token}`;
  const detail = op.detail === undefined ? '' : ` (${op.detail})`;
  const text = `${op.kind}${token}  =>  ${op.ok ? 'ok' : 'failed'}${detail}`;
  return { ...base, kind: op.kind, outcome: op.ok ? 'ok' : 'rejected', text, lane: 0 };
}

/** Gives each interval the lowest lane free at its start (greedy interval partitioning); returns the lanes used. */
export function assignLanes(items: { start: number; end: number; lane: number }[]): number {
  const laneEnds: number[] = [];
  for (const item of [...items].sort((a, b) => a.start - b.start)) {
    let lane = laneEnds.findIndex((end) => end <= item.start);
    if (lane < 0) lane = laneEnds.push(0) - 1;
    laneEnds[lane] = Math.max(item.end, item.start);
    item.lane = lane;
  }
  return Math.max(1, laneEnds.length);
}

/** Process names in natural order (`p2` before `p10`). */
export const byName = (a: string, b: string): number => a.localeCompare(b, 'en', { numeric: true });

/** The operations, one group a process (in natural order), each with its lane. */
export function operationRows(
  input: HistoryReportInput,
  highlighted: Set<string>,
): { process: string; lanes: number; ops: OpMark[] }[] {
  const source = input.operations ?? [];
  const ops = 'operations' in source ? source.operations : source;
  const groups = new Map<string, OpMark[]>();
  for (const op of ops) {
    if (!Number.isFinite(op.start) || !Number.isFinite(op.end)) continue;
    const mark = opMark(op, highlighted);
    const group = groups.get(op.process) ?? [];
    group.push(mark);
    groups.set(op.process, group);
  }
  return [...groups.keys()].sort(byName).map((process) => {
    const group = groups.get(process)!;
    return { process, lanes: assignLanes(group), ops: group };
  });
}

/** The holds of each lock, one row a holder, and when two processes held a lock at once. */
export function holdRows(
  holds: readonly ReportHold[],
  highlighted: Set<string>,
): { lock: string; rows: { process: string; holds: HoldMark[] }[]; overlaps: OverlapMark[] }[] {
  const byLock = new Map<string, ReportHold[]>();
  for (const hold of holds) {
    if (hold.ok === false || !Number.isFinite(hold.start) || !Number.isFinite(hold.end)) continue;
    const lock = hold.lock ?? 'lock';
    byLock.set(lock, [...(byLock.get(lock) ?? []), hold]);
  }
  return [...byLock.keys()].sort(byName).map((lock) => {
    const sorted = [...byLock.get(lock)!].sort((a, b) => a.start - b.start);
    const overlaps: OverlapMark[] = [];
    const overlapping = new Set<ReportHold>();
    for (const [a, b] of overlappingPairs(sorted)) {
      if (a.process === b.process) continue;
      overlapping.add(a).add(b);
      const end = Math.min(a.end, b.end);
      const text = `${a.process} and ${b.process} held ${lock} at once for ${(end - b.start).toFixed(1)} ms`;
      overlaps.push({ lock, start: b.start, end, text });
    }
    const rows = new Map<string, HoldMark[]>();
    for (const hold of sorted) {
      const mark: HoldMark = {
        lock,
        process: hold.process,
        start: hold.start,
        end: hold.end,
        ...(hold.token === undefined ? {} : { token: hold.token }),
        overlapping: overlapping.has(hold),
        highlighted: highlighted.has(identity(hold)),
      };
      rows.set(hold.process, [...(rows.get(hold.process) ?? []), mark]);
    }
    const processes = [...rows.keys()].sort(byName);
    return { lock, rows: processes.map((process) => ({ process, holds: rows.get(process)! })), overlaps };
  });
}

/** The faults with their lanes; one without an end lasts until `until`. */
export function faultMarks(
  faults: readonly ReportFault[],
  until: number,
): { lanes: number; faults: FaultMark[] } {
  const items = faults
    .filter((fault) => Number.isFinite(fault.start))
    .map((fault) => ({ fault, start: fault.start, end: fault.end ?? until, lane: 0 }));
  const lanes = items.length ? assignLanes(items) : 0;
  return { lanes, faults: items.map(({ fault, lane }) => ({ ...fault, lane })) };
}
