/** The checkers' report: the history report, written only when a checker found something. */
import type { HistoryReportInput } from './input.js';
import { writeHistoryReport } from './render.js';

/**
 * Writes the history report to `path` when the checkers found something: `input.violations` (of
 * `checkNoOverlap`, `checkRisingTokens`, `checkFencedWrites`) is not empty, or `input.linearizability` (of
 * `checkKvLinearizability`) is a violation. The page outlines their operations in red, shades overlapping
 * holds and prints the counterexample. Resolves to whether it wrote the file (a clean run leaves none behind);
 * `signal` aborts the write, which rejects with `signal.reason`.
 *
 * @example
 * ```ts
 * const holds = history.ofKind('hold');
 * const violations = [...checkNoOverlap(holds), ...checkRisingTokens(holds)];
 * const path = join(dir, 'lock.html');
 * if (await reportViolations(path, { operations: history, holds, faults: faultsFromLog(log), violations }))
 *   console.log(`violations: see ${path}`);
 * expect(violations).toEqual([]);
 * ```
 */
export async function reportViolations(
  path: string,
  input: HistoryReportInput,
  options: { readonly signal?: AbortSignal } = {},
): Promise<boolean> {
  const found = (input.violations?.length ?? 0) > 0 || input.linearizability?.ok === false;
  if (!found) return false;
  await writeHistoryReport(path, input, options);
  return true;
}
