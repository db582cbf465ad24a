/**
 * The timeline as two inline SVGs: the row labels (they stay put) and the rows over time (they scroll
 * sideways): an axis, a row of faults, one row a process with its operations, one row a lock holder with its
 * holds, fault bands across all rows and overlap bands across a lock's rows.
 */
import { escapeHtml } from './escape.js';
import type { FaultMark, HoldMark, OpMark, OverlapMark } from './marks.js';
import { formatDuration, type TimeScale, ticks } from './scale.js';

const AXIS = 24;
const LANE = 12;
const GAP = 2;
const PAD = 4;
const FAULT_LANE = 16;
const LABEL_WIDTH = 170;
/** Room left and right of the axis, for the first and last tick's label. */
const MARGIN = 16;

/** What the timeline draws, grouped as rows. */
export interface TimelineRows {
  readonly faults: { readonly lanes: number; readonly faults: readonly FaultMark[] };
  readonly processes: readonly { process: string; lanes: number; ops: readonly OpMark[] }[];
  readonly locks: readonly {
    lock: string;
    rows: readonly { process: string; holds: readonly HoldMark[] }[];
    overlaps: readonly OverlapMark[];
  }[];
}

interface Row {
  readonly label: string;
  readonly kind: 'faults' | 'process' | 'lock-header' | 'holder';
  readonly y: number;
  readonly height: number;
  readonly body: string;
}

const num = (n: number): string => String(Math.round(n * 10) / 10);
const attr = (text: string): string => escapeHtml(text);

/** A `<title>` (the hover text) with escaped text. */
const title = (text: string): string => `<title>${escapeHtml(text)}</title>`;

/** `+123.4 ms → +130.0 ms (6.6 ms)`: times from the start of the axis. */
function span(scale: TimeScale, start: number, end: number): string {
  const at = (t: number): string => `+${(t - scale.from).toFixed(1)} ms`;
  return `${at(start)} \u2192 ${at(end)} (${formatDuration(end - start)})`;
}

/** An operation's rectangle in a row whose top is `top`. */
function opRect(op: OpMark, scale: TimeScale, top: number): string {
  const x = scale.x(op.start);
  // Highlighted operations are at least 4 px wide: among thousands of marks they must stand out.
  const width = Math.max(scale.x(op.end) - x, op.highlighted ? 4 : 1.5);
  const y = top + PAD + op.lane * (LANE + GAP);
  const kind = op.kind === 'read' || op.kind === 'write' ? op.kind : 'other';
  const classes = `op ${op.outcome} ${kind}${op.highlighted ? ' cx' : ''}`;
  const hover = `${op.process}  ${span(scale, op.start, op.end)}\n${op.text}${op.outcome === 'pending' ? '\n(pending: may take effect at any time after its start, or never)' : ''}${op.highlighted ? '\n(in the counterexample / a violation)' : ''}`;
  return `<rect class="${classes}" data-kind="${attr(op.kind)}" x="${num(x)}" y="${num(y)}" width="${num(width)}" height="${LANE}">${title(hover)}</rect>`;
}

/** The rows, top to bottom, with their bodies. */
function layout(rows: TimelineRows, scale: TimeScale): { rows: Row[]; height: number } {
  const out: Row[] = [];
  let y = AXIS;
  const { faults } = rows;
  if (faults.lanes > 0) {
    const height = faults.lanes * FAULT_LANE + PAD;
    const body = faults.faults
      .map((fault) => {
        const x = scale.x(fault.start);
        const width = Math.max(scale.x(fault.end ?? scale.to) - x, 2);
        const top = y + PAD / 2 + fault.lane * FAULT_LANE;
        const label = `${fault.name} ${fault.target}`;
        const hover = `${fault.name} on ${fault.target}  ${span(scale, fault.start, fault.end ?? scale.to)}${fault.end === undefined ? ' (no end recorded)' : ''}${fault.error ? `\nerror: ${fault.error}` : ''}`;
        const text =
          width > 30
            ? `<text class="fault-label" x="${num(x + 3)}" y="${num(top + 11)}">${escapeHtml(label.length * 6 > width ? `${label.slice(0, Math.max(1, Math.floor(width / 6) - 1))}\u2026` : label)}</text>`
            : '';
        return `<g class="fault${fault.end === undefined ? ' open' : ''}${fault.error ? ' error' : ''}" data-fault="${attr(fault.name)}"><rect x="${num(x)}" y="${num(top)}" width="${num(width)}" height="${FAULT_LANE - 2}" rx="2">${title(hover)}</rect>${text}</g>`;
      })
      .join('');
    out.push({ label: 'faults', kind: 'faults', y, height, body });
    y += height;
  }
  for (const { process, lanes, ops } of rows.processes) {
    const height = lanes * (LANE + GAP) - GAP + 2 * PAD;
    const ordered = [...ops.filter((op) => !op.highlighted), ...ops.filter((op) => op.highlighted)];
    const body = ordered.map((op) => opRect(op, scale, y)).join('');
    out.push({ label: process, kind: 'process', y, height, body });
    y += height;
  }
  for (const { lock, rows: holders, overlaps } of rows.locks) {
    out.push({ label: `holders of ${lock}`, kind: 'lock-header', y, height: 16, body: '' });
    y += 16;
    const first = y;
    for (const { process, holds } of holders) {
      const height = LANE + 2 * PAD;
      const body = holds
        .map((hold) => {
          const x = scale.x(hold.start);
          const width = Math.max(scale.x(hold.end) - x, 1.5);
          const token = hold.token === undefined ? '' : `token ${hold.token}`;
          const hover = `${process} held ${lock}  ${span(scale, hold.start, hold.end)}${token ? `\n${token}` : ''}${hold.overlapping ? '\n(overlaps another holder)' : ''}`;
          const classes = `hold${hold.overlapping ? ' overlapping' : ''}${hold.highlighted ? ' cx' : ''}`;
          const text =
            token && width > token.length * 6 + 6
              ? `<text class="hold-label" x="${num(x + 3)}" y="${num(y + PAD + 10)}">${escapeHtml(token)}</text>`
              : '';
          return `<g class="${classes}"><rect x="${num(x)}" y="${num(y + PAD)}" width="${num(width)}" height="${LANE}" rx="2">${title(hover)}</rect>${text}</g>`;
        })
        .join('');
      out.push({ label: process, kind: 'holder', y, height, body });
      y += height;
    }
    const bands = overlaps
      .map((overlap) => {
        const x = scale.x(overlap.start);
        const width = Math.max(scale.x(overlap.end) - x, 2);
        return `<rect class="overlap" x="${num(x)}" y="${num(first)}" width="${num(width)}" height="${num(y - first)}">${title(overlap.text)}</rect>`;
      })
      .join('');
    if (bands) out.push({ label: '', kind: 'holder', y: first, height: 0, body: bands });
  }
  return { rows: out, height: y + PAD };
}

/** The label column and the timeline, as two SVG elements of the same height. */
export function renderTimeline(rows: TimelineRows, scale: TimeScale): { labels: string; timeline: string } {
  const { rows: laid, height } = layout(rows, scale);
  const width = scale.width + 2 * MARGIN;
  const grid = ticks(scale)
    .map(({ offset, label }) => {
      const x = num(scale.x(scale.from + offset));
      return `<line class="grid" x1="${x}" x2="${x}" y1="${AXIS - 6}" y2="${height}"/><text class="tick" x="${x}" y="${AXIS - 9}">${escapeHtml(label)}</text>`;
    })
    .join('');
  const backgrounds = laid
    .filter((row) => row.height > 0)
    .map(
      (row, i) =>
        `<rect class="row-bg ${row.kind}${i % 2 ? ' odd' : ''}" x="0" y="${num(row.y)}" width="${width}" height="${num(row.height)}"/>`,
    )
    .join('');
  const bands = rows.faults.faults
    .map((fault) => {
      const x = scale.x(fault.start);
      const w = Math.max(scale.x(fault.end ?? scale.to) - x, 2);
      const hover = `${fault.name} on ${fault.target}  ${span(scale, fault.start, fault.end ?? scale.to)}`;
      return `<rect class="fault-band${fault.end === undefined ? ' open' : ''}" data-fault="${attr(fault.name)}" x="${num(x)}" y="${AXIS}" width="${num(w)}" height="${num(height - AXIS)}">${title(hover)}</rect>`;
    })
    .join('');
  const body = laid
    .filter((row) => row.body)
    .map((row) => {
      const data = row.kind === 'process' ? ` data-process="${attr(row.label)}"` : '';
      return `<g class="row ${row.kind}"${data}>${row.body}</g>`;
    })
    .join('');
  const timeline = `<svg class="timeline" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${num(height)}" role="img" aria-label="timeline">${defs()}${backgrounds}<g transform="translate(${MARGIN},0)">${grid}${bands}${body}</g></svg>`;
  const labelRows = laid
    .filter((row) => row.height > 0)
    .map((row) => {
      const text = row.label.length > 26 ? `${row.label.slice(0, 25)}\u2026` : row.label;
      return `<text class="label ${row.kind}" x="${row.kind === 'holder' ? 14 : 6}" y="${num(row.y + Math.min(row.height, 20) / 2 + 4)}">${escapeHtml(text)}${title(row.label)}</text>`;
    })
    .join('');
  const labels = `<svg class="labels" xmlns="http://www.w3.org/2000/svg" width="${LABEL_WIDTH}" height="${num(height)}">${labelRows}</svg>`;
  return { labels, timeline };
}

/** The hatch pattern of pending operations and open faults. */
function defs(): string {
  return '<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#d9d9d9"/><line x1="0" y1="0" x2="0" y2="6" stroke="#8c8c8c" stroke-width="2.5"/></pattern></defs>';
}
