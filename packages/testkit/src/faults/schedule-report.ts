/** The history report `runFaultSchedule` writes when it ends (its `report` option). */
import { faultsFromLog, type HistoryReportInput, type ReportHold } from '../report/input.js';
import { writeHistoryReport } from '../report/render.js';
import type { FaultLogEntry } from './schedule.js';

/**
 * The `report` option of `runFaultSchedule`: where to write the run's HTML history report and what to show
 * beside its faults. `operations` and `holds` are read when the schedule ends, so a `History` or `KvHistory`
 * that workers still record into shows what they did until then (for the whole run, including what happened
 * after the schedule, call `writeHistoryReport` later with `faultsFromLog(log)`).
 */
export interface FaultScheduleReport {
  /** The HTML file to write (replaced). */
  readonly path: string;
  /** The page's title. Default `Fault schedule`; ` (failed: <message>)` is added when the schedule threw. */
  readonly title?: string;
  /** The operations recorded during the schedule (a `History`, a `KvHistory`, or a list). Default none. */
  readonly operations?: HistoryReportInput['operations'];
  /**
   * Lock holders, or a function that returns them when the schedule ends (e.g. `() => history.ofKind('hold')`).
   * Default none.
   */
  readonly holds?: readonly ReportHold[] | (() => readonly ReportHold[]);
}

/** Writes `report` for a schedule that did `log` and, when `failure` is set, threw its `error`. */
export async function writeScheduleReport(
  report: FaultScheduleReport,
  log: readonly FaultLogEntry[],
  failure: { readonly error: unknown } | undefined,
): Promise<void> {
  const { path, operations, holds } = report;
  const title = report.title ?? 'Fault schedule';
  const failed = failure ? ` (failed: ${String((failure.error as Error)?.message ?? failure.error)})` : '';
  await writeHistoryReport(path, {
    title: `${title}${failed}`,
    faults: faultsFromLog(log),
    ...(operations === undefined ? {} : { operations }),
    ...(holds === undefined ? {} : { holds: typeof holds === 'function' ? holds() : holds }),
  });
}
