/**
 * The HTML history report: {@link renderHistoryReport} draws operations, lock holders, faults and what the
 * checkers found on one time axis, as a self-contained page; {@link writeHistoryReport} writes it to a file.
 */
import { writeFile } from 'node:fs/promises';
import { escapeHtml } from './escape.js';
import type { HistoryReportInput } from './input.js';
import { faultMarks, highlightedIds, holdRows, type OpMark, operationRows } from './marks.js';
import { legend, page } from './page.js';
import { formatDuration, timeScale } from './scale.js';
import { renderTimeline } from './timeline.js';

/** The time span of everything drawn: the earliest start and the latest end. */
function extent(times: readonly number[]): { from: number; to: number } {
  const finite = times.filter(Number.isFinite);
  if (!finite.length) return { from: 0, to: 1 };
  return { from: Math.min(...finite), to: Math.max(...finite) };
}

/** `1 fault`, `2 faults`. */
const plural = (n: number, word: string, words = `${word}s`): string => `${n} ${n === 1 ? word : words}`;

const li = (html: string, cls = ''): string => `<li${cls ? ` class="${cls}"` : ''}>${html}</li>`;

/** The summary lines: counts, span, and the checkers' verdicts. */
function summary(
  input: HistoryReportInput,
  ops: readonly OpMark[],
  processes: number,
  overlaps: number,
  from: number,
  to: number,
): string {
  const lines: string[] = [];
  const count = (outcome: string): number => ops.filter((op) => op.outcome === outcome).length;
  const started = Number.isFinite(from) && from > 1e12 ? ` from ${new Date(from).toISOString()}` : '';
  lines.push(
    li(
      `${plural(ops.length, 'operation')} of ${plural(processes, 'process', 'processes')}${escapeHtml(started)} over ${formatDuration(to - from)}: ${count('ok')} ok, ${count('rejected')} rejected, ${count('pending')} pending, ${count('not-applied')} not applied`,
    ),
  );
  const holds = (input.holds ?? []).filter((hold) => hold.ok !== false).length;
  if (input.holds) {
    lines.push(
      li(
        `${plural(holds, 'lock hold')}; ${overlaps ? `<span class="bad">${plural(overlaps, 'overlap')} of two holders</span>` : 'no two holders at once'}`,
      ),
    );
  }
  if (input.faults) lines.push(li(plural(input.faults.length, 'fault')));
  const result = input.linearizability;
  if (result?.ok === true) {
    lines.push(li(`<span class="good">linearizable</span> (${result.stats.checked} operations checked)`));
  } else if (result?.ok === false) {
    const { counterexample } = result;
    lines.push(
      li(
        `<span class="bad">not linearizable</span>: key ${escapeHtml(result.key)}; counterexample of ${counterexample.ops.length} of ${counterexample.shrunkFrom} operations${counterexample.minimal ? ' (minimal)' : ''}, highlighted`,
        'verdict',
      ),
    );
  } else if (result?.ok === 'unknown') {
    lines.push(li(`linearizability unknown on key ${escapeHtml(result.key)}: ${escapeHtml(result.reason)}`));
  }
  if (input.violations?.length) {
    lines.push(
      li(`<span class="bad">${plural(input.violations.length, 'violation')}</span> of the safety checkers`),
    );
  }
  return `<ul class="summary">${lines.join('')}</ul>`;
}

/** The sections under the chart: the counterexample, the violations, the faults. */
function sections(input: HistoryReportInput, from: number): string {
  const out: string[] = [];
  const result = input.linearizability;
  if (result?.ok === false) {
    out.push(
      `<h2>Counterexample</h2><pre class="counterexample">${escapeHtml(result.counterexample.text)}</pre>`,
    );
  }
  if (input.violations?.length) {
    const items = input.violations.map(
      (violation) => `<li>${escapeHtml(violation.checker)}: ${escapeHtml(violation.message)}</li>`,
    );
    out.push(`<h2>Violations</h2><ul class="violations">${items.join('')}</ul>`);
  }
  if (input.faults?.length) {
    const at = (t: number | undefined): string => (t === undefined ? '-' : `+${(t - from).toFixed(1)}`);
    const rows = input.faults.map(
      (fault) =>
        `<tr><td>${escapeHtml(fault.name)}</td><td>${escapeHtml(fault.target)}</td><td>${at(fault.start)}</td><td>${at(fault.end)}</td><td>${escapeHtml(fault.error ?? '')}</td></tr>`,
    );
    out.push(
      `<h2>Faults</h2><table class="faults"><tr><th>fault</th><th>target</th><th>start, ms</th><th>end, ms</th><th>error</th></tr>${rows.join('')}</table>`,
    );
  }
  return out.join('\n');
}

/**
 * Renders a history as one self-contained HTML page (inline CSS and SVG, a small inline script, no network
 * access: its Content-Security-Policy forbids it): a timeline with one row a process of its operations (colour
 * by outcome, hatched when pending), a row a lock holder of its holds (overlaps of two holders shaded red),
 * faults as shaded bands across every row, and the operations of a linearizability counterexample or of the
 * checkers' violations outlined in red. Every operation, hold and fault has a hover title with its details;
 * a legend, a summary and the counterexample's printout go with it. All text is escaped: keys, values and
 * names are data, never markup. Pure: returns the page.
 *
 * @example
 * ```ts
 * const log = await runFaultSchedule(cluster, { steps: [{ fault: 'kill', target: 'leader' }], durationMs: 3000 });
 * const result = checkKvLinearizability(history);
 * await writeHistoryReport('report.html', {
 *   operations: history,
 *   faults: faultsFromLog(log),
 *   linearizability: result,
 * });
 * ```
 */
export function renderHistoryReport(input: HistoryReportInput): string {
  if (input.width !== undefined && !(input.width >= 100 && input.width <= 100_000)) {
    throw new RangeError(`width must be 100..100000 px, got ${input.width}`);
  }
  const highlighted = highlightedIds(input.linearizability, input.violations);
  const processes = operationRows(input, highlighted);
  const locks = holdRows(input.holds ?? [], highlighted);
  const ops = processes.flatMap((row) => row.ops);
  const faults = input.faults ?? [];
  const holds = locks.flatMap((lock) => lock.rows.flatMap((row) => row.holds));
  const { from, to } = extent([
    ...ops.flatMap((op) => [op.start, op.end]),
    ...holds.flatMap((hold) => [hold.start, hold.end]),
    ...faults.flatMap((fault) => [fault.start, fault.end ?? Number.NaN]),
  ]);
  const busiest = Math.max(
    0,
    ...processes.map((row) => row.ops.length),
    ...locks.flatMap((lock) => lock.rows.map((row) => row.holds.length)),
  );
  const width = input.width ?? Math.min(20_000, Math.max(1000, busiest * 5));
  const scale = timeScale(from, to, width);
  const { labels, timeline } = renderTimeline(
    { faults: faultMarks(faults, scale.to), processes, locks },
    scale,
  );
  const overlaps = locks.reduce((sum, lock) => sum + lock.overlaps.length, 0);
  const title = input.title ?? 'History report';
  const body = [
    `<h1>${escapeHtml(title)}</h1>`,
    summary(input, ops, processes.length, overlaps, from, scale.to),
    legend(),
    '<div class="controls"><label><input type="checkbox" id="focus"> show only the highlighted operations and overlaps</label> &middot; hover or click a mark for its details; times are ms from the first event</div>',
    `<div class="chart">${labels}<div class="scroller">${timeline}</div></div>`,
    '<div class="details" id="details">Click an operation, a hold or a fault.</div>',
    sections(input, from),
  ].join('\n');
  return page(title, body);
}

/**
 * Writes {@link renderHistoryReport}'s page to `path` (UTF-8, replacing the file). `signal` aborts the write:
 * it rejects with `signal.reason`.
 */
export async function writeHistoryReport(
  path: string,
  input: HistoryReportInput,
  options: { readonly signal?: AbortSignal } = {},
): Promise<void> {
  const { signal } = options;
  signal?.throwIfAborted();
  try {
    await writeFile(path, renderHistoryReport(input), { encoding: 'utf8', ...(signal ? { signal } : {}) });
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    throw error;
  }
}
