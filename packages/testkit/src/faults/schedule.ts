import type { Cluster } from '../cluster.js';
import { now as wallClock } from '../history.js';
import { sleep } from '../internal/http.js';
import { type FaultKind, type FaultParams, injectFault, undoFault } from './catalog.js';
import { seededRandom } from './random.js';
import { type FaultScheduleReport, writeScheduleReport } from './schedule-report.js';
import { resolveTarget, type Target } from './targets.js';

/** One step of a fault schedule. */
export interface FaultStep extends FaultParams {
  readonly fault: FaultKind;
  readonly target: Target;
  /** How long the fault lasts before it is undone, ms. Default: the schedule's `holdMs`. */
  readonly holdMs?: number;
}

/**
 * What the schedule did, for the test report. Each time is given twice, from one reading of the clock: ms since
 * the schedule started (`at`, `healedAt`, for a table) and wall-clock ms as `now()` gives them (`startedAt`,
 * `endedAt`), the time base of
 * `History` and `KvHistory` operations and of the history report, so that `faultsFromLog(log)` needs no origin.
 */
export interface FaultLogEntry {
  /** ms since the schedule started. */
  readonly at: number;
  /** Wall-clock ms (`now()`) when the step began: just before the fault was injected (or failed to be). */
  readonly startedAt: number;
  readonly fault: FaultKind;
  /** Member names. */
  readonly members: readonly string[];
  /** ms since the schedule started, when the fault was undone (missing if it ends by itself). */
  healedAt?: number;
  /** Wall-clock ms (`now()`) when the fault was undone; missing when `healedAt` is. */
  endedAt?: number;
  /** Set when injecting failed (e.g. no leader to target during a previous fault's recovery). */
  error?: string;
}

/** Options of {@link runFaultSchedule}. */
export interface FaultScheduleOptions {
  /**
   * The faults, run in order and cycled until `durationMs`; or `random` for a seeded random sequence of
   * `faults` kinds (default: every process fault and `isolate`) on random targets.
   */
  readonly steps: readonly FaultStep[] | 'random';
  /** Kinds the random schedule draws from. */
  readonly kinds?: readonly FaultKind[];
  /** Targets the random schedule draws from. Default leader, follower, minority. */
  readonly targets?: readonly Target[];
  /** Seed of the random choices (targets, kinds, jitter). Default 1. */
  readonly seed?: number;
  /** Total time, ms. */
  readonly durationMs: number;
  /** Time between the end of one fault and the next, ms. Default 500. */
  readonly intervalMs?: number;
  /** How long each fault lasts, ms. Default 1000. */
  readonly holdMs?: number;
  /** Called with each entry as it happens (to print progress). */
  readonly onEvent?: (entry: FaultLogEntry) => void;
  /**
   * Writes an HTML history report of the run when the schedule ends, also when it throws or is aborted: its
   * faults as bands, and the operations and lock holds given. Default: none.
   */
  readonly report?: FaultScheduleReport;
  readonly signal?: AbortSignal;
}

/**
 * Runs faults at intervals for a duration, as etcd's functional tester and Jepsen's nemeses do, and always
 * heals at the end (`cluster.restoreAll()`, also on abort or error). Resolves to the log of what was done when.
 * With `report`, writes the run's history report once healed (see {@link FaultScheduleReport}); when the
 * schedule failed and writing the report failed too, it rejects with an `AggregateError` of both.
 *
 * @example
 * ```ts
 * const history = new History();
 * const workers = startWorkers(history, stop.signal); // record operations meanwhile
 * const log = await runFaultSchedule(cluster, {
 *   steps: [{ fault: 'isolate', target: 'leader' }],
 *   durationMs: 5000,
 *   report: { path: join(dir, 'faults.html'), operations: history, holds: () => history.ofKind('hold') },
 * });
 * ```
 */
export async function runFaultSchedule(
  cluster: Cluster,
  options: FaultScheduleOptions,
): Promise<FaultLogEntry[]> {
  const random = seededRandom(options.seed ?? 1);
  const kinds = options.kinds ?? ['kill', 'stop', 'pause', 'restart', 'isolate'];
  const targets = options.targets ?? ['leader', 'follower', 'minority'];
  const { durationMs, intervalMs = 500, holdMs = 1000, signal } = options;
  const log: FaultLogEntry[] = [];
  const t0 = performance.now();
  const now = (): number => Math.round(performance.now() - t0);
  /** One reading of the clock in both time bases (two readings could straddle a pause of the process). */
  const stamp = (): { readonly at: number; readonly wall: number } => {
    const reading = performance.now();
    return { at: Math.round(reading - t0), wall: wallClock(reading) };
  };
  let failure: { readonly error: unknown } | undefined;
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  try {
    for (let i = 0; now() < durationMs && !signal?.aborted; i++) {
      const step: FaultStep =
        options.steps === 'random'
          ? { fault: pick(kinds), target: pick(targets) }
          : options.steps[i % options.steps.length]!;
      const members = await resolveTarget(cluster, step.target, random).catch((error: unknown) => {
        const message = String((error as Error).message);
        const { at, wall } = stamp();
        log.push({ at, startedAt: wall, fault: step.fault, members: [], error: message });
        return [];
      });
      if (members.length) {
        const started = stamp();
        const entry: FaultLogEntry = {
          at: started.at,
          startedAt: started.wall,
          fault: step.fault,
          members: members.map((m) => m.name),
        };
        log.push(entry);
        options.onEvent?.(entry);
        try {
          await Promise.all(members.map((member) => injectFault(cluster, member, step.fault, step)));
          await sleep(Math.min(step.holdMs ?? holdMs, Math.max(0, durationMs - now())));
          await Promise.all(members.map((member) => undoFault(member)));
          const healed = stamp();
          entry.healedAt = healed.at;
          entry.endedAt = healed.wall;
          options.onEvent?.(entry);
        } catch (error) {
          entry.error = String((error as Error).message);
        }
      }
      await sleep(intervalMs);
    }
  } catch (error) {
    failure = { error };
  }
  await cluster.restoreAll().catch((error: unknown) => {
    failure ??= { error };
  });
  if (options.report) {
    await writeScheduleReport(options.report, log, failure).catch((error: unknown) => {
      if (!failure) throw error;
      failure = {
        error: new AggregateError(
          [failure.error, error],
          'the fault schedule failed, and writing its report too',
        ),
      };
    });
  }
  if (failure) throw failure.error;
  return log;
}

/** The log as a markdown table, for a test report (times in ms since the schedule started). */
export function formatFaultLog(
  log: readonly Pick<FaultLogEntry, 'at' | 'fault' | 'members' | 'healedAt' | 'error'>[],
): string {
  const rows = log.map(
    (e) =>
      `| ${e.at} | ${e.fault} | ${e.members.join(', ') || '-'} | ${e.healedAt ?? '-'} | ${e.error ?? ''} |`,
  );
  return [
    '| at ms | fault | members | healed at ms | error |',
    '| --- | --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
}
