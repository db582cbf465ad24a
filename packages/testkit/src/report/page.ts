/**
 * The page around the timeline: one self-contained HTML document (inline CSS, inline SVG, one inline script),
 * whose Content-Security-Policy forbids any network access and any script but its own (by hash), so a report
 * of untrusted data can be opened safely.
 */
import { createHash } from 'node:crypto';
import { escapeHtml } from './escape.js';

const STYLE = `
:root { font: 13px/1.4 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; color: #222; }
body { margin: 16px; }
h1 { font-size: 18px; margin: 0 0 6px; }
h2 { font-size: 15px; margin: 18px 0 6px; }
.summary { margin: 0 0 8px; padding-left: 18px; }
.summary .bad { color: #c0111f; font-weight: 600; }
.summary .good { color: #2b7a2b; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 14px; margin: 6px 0; align-items: center; }
.legend span { display: inline-flex; align-items: center; gap: 4px; }
.legend svg { vertical-align: middle; }
.controls { margin: 6px 0; }
.chart { display: flex; border: 1px solid #ccc; }
.chart .labels { flex: none; background: #fafafa; border-right: 1px solid #ccc; }
.scroller { overflow-x: auto; flex: 1; }
.label { font-size: 12px; fill: #222; }
.label.lock-header, .label.faults { font-weight: 600; }
.tick { font-size: 11px; fill: #555; text-anchor: middle; }
.grid { stroke: #e3e3e3; }
.row-bg { fill: #fff; }
.row-bg.odd { fill: #f6f7f9; }
.row-bg.lock-header { fill: #eef0f4; }
.fault-band { fill: #f28e2b; fill-opacity: 0.13; }
.fault-band.open { fill-opacity: 0.08; }
.fault rect { fill: #f28e2b; fill-opacity: 0.75; }
.fault.open rect { fill: url(#hatch); }
.fault.error rect { fill: #bbb; }
.fault-label, .hold-label { font-size: 10px; fill: #111; pointer-events: none; }
.op { stroke: none; cursor: pointer; }
.op.ok.read { fill: #4c78a8; }
.op.ok.write { fill: #54a24b; }
.op.ok.other { fill: #8e6bb4; }
.op.rejected { fill: #e8b02e; }
.op.pending { fill: url(#hatch); }
.op.not-applied { fill: #fff; stroke: #999; stroke-width: 1; }
.op.cx, .hold.cx rect { stroke: #d62728; stroke-width: 2.5; }
.hold rect { fill: #9ecae9; stroke: #4c78a8; stroke-width: 0.5; cursor: pointer; }
.hold.overlapping rect { fill: #f4a3a3; stroke: #d62728; }
.overlap { fill: #d62728; fill-opacity: 0.22; }
body.focus .op:not(.cx), body.focus .hold:not(.cx):not(.overlapping) { opacity: 0.15; }
.details { white-space: pre-wrap; font: 12px/1.4 ui-monospace, "DejaVu Sans Mono", monospace; background: #f6f7f9;
  border: 1px solid #ddd; padding: 6px 8px; min-height: 2.8em; margin: 8px 0; }
pre.counterexample { font: 12px/1.4 ui-monospace, "DejaVu Sans Mono", monospace; background: #fff5f5;
  border: 1px solid #f0b8b8; padding: 8px; overflow-x: auto; }
table { border-collapse: collapse; font-size: 12px; }
td, th { border: 1px solid #ddd; padding: 2px 8px; text-align: left; }
`;

/** Click an operation, hold or fault to see its details; the checkbox dims all but the highlighted. */
const SCRIPT = `
(() => {
  const details = document.getElementById('details');
  document.querySelector('.timeline')?.addEventListener('click', (event) => {
    const target = event.target instanceof Element ? event.target.closest('rect') : null;
    const title = target?.querySelector('title');
    if (details && title) details.textContent = title.textContent;
  });
  document.getElementById('focus')?.addEventListener('change', (event) => {
    document.body.classList.toggle('focus', event.target.checked);
  });
  document.documentElement.dataset.ready = 'true';
})();
`;

const hash = (text: string): string => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

/** The legend: a swatch and a word for each kind of mark. */
export function legend(): string {
  const swatch = (classes: string, extra = ''): string =>
    `<svg width="26" height="12"><rect class="${classes}" x="1" y="1" width="24" height="10"${extra}/></svg>`;
  const items = [
    [swatch('op ok read'), 'read (ok)'],
    [swatch('op ok write'), 'write (ok)'],
    [swatch('op ok other'), 'other operation (ok)'],
    [swatch('op rejected'), 'rejected (100/101/105, error)'],
    [swatch('op pending'), 'pending (outcome unknown)'],
    [swatch('op not-applied'), 'failed, not applied'],
    [swatch('op ok write cx'), 'counterexample / violation'],
    [
      '<svg width="26" height="12"><g class="hold"><rect x="1" y="1" width="24" height="10" rx="2"/></g></svg>',
      'lock held',
    ],
    [swatch('overlap'), 'two holders at once'],
    [swatch('fault-band', ' style="fill-opacity:.35"'), 'fault'],
  ];
  return `<div class="legend">${items.map(([icon, text]) => `<span>${icon}${text}</span>`).join('')}</div>`;
}

/** The whole document: `title`, then `body` (already HTML). */
export function page(title: string, body: string): string {
  const csp = `default-src 'none'; style-src 'unsafe-inline'; script-src ${hash(SCRIPT)}; img-src data:`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${escapeHtml(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
${body}
<script>${SCRIPT}</script>
</body>
</html>
`;
}
