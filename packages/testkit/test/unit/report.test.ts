/** The HTML history report's pure renderer: what it draws, what it highlights, and that it escapes data. */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  checkKvLinearizability,
  checkNoOverlap,
  faultsFromLog,
  History,
  type KvOperation,
  renderHistoryReport,
  writeHistoryReport,
} from '../../src/index.js';
import { escapeHtml } from '../../src/report/escape.js';
import { assignLanes } from '../../src/report/marks.js';
import { niceStep, ticks, timeScale } from '../../src/report/scale.js';
import { faults, holds, staleRead, T } from '../report-history.js';

const EVIL = '/<script>alert(1)</script>';

/** A stale read of EVIL (not linearizable, see `report-history.ts`), and operations of this test's own. */
const ops: KvOperation[] = [
  ...staleRead(EVIL),
  {
    process: 'p1',
    start: T + 15,
    end: T + 35,
    input: { type: 'update', key: '/z', value: 'v' },
    output: { status: 'not-found' },
  },
  {
    process: 'p2',
    start: T + 35,
    end: T + 80,
    input: { type: 'set', key: '/y', value: '"><img src=x>' },
    detail: 'timeout',
  },
  {
    process: 'p3',
    start: T + 55,
    end: T + 56,
    input: { type: 'delete', key: '/y' },
    failed: true,
    detail: 'ECONNREFUSED',
  },
];

/** The timeline SVG of a page (the legend has swatches of the same classes). */
const timelineOf = (html: string): string =>
  html.slice(html.indexOf('<svg class="timeline"'), html.indexOf('</svg></div></div>'));
const count = (text: string, pattern: RegExp): number => text.match(pattern)?.length ?? 0;

describe('renderHistoryReport', () => {
  const result = checkKvLinearizability(ops);
  const html = renderHistoryReport({
    title: 'stale <read>',
    operations: ops,
    holds,
    faults,
    linearizability: result,
  });
  const timeline = timelineOf(html);

  it('is not linearizable, so the fixture tests highlighting', () => {
    expect(result.ok === false && [result.key, result.counterexample.ops.length]).toEqual([EVIL, 2]);
  });

  it('draws a row a process and a mark an operation, colour by outcome', () => {
    expect(count(timeline, /<g class="row process" data-process="p\d"/g)).toBe(3);
    expect(count(timeline, /<rect class="op /g)).toBe(ops.length);
    expect(count(timeline, /class="op ok /g)).toBe(3);
    expect(count(timeline, /class="op rejected /g)).toBe(1);
    expect(count(timeline, /class="op pending /g)).toBe(1);
    expect(count(timeline, /class="op not-applied /g)).toBe(1);
  });

  it('outlines the counterexample operations, and prints it', () => {
    const cx = result.ok === false ? result.counterexample.ops.length : 0;
    expect(cx).toBeGreaterThan(0);
    expect(count(timeline, /<rect class="op [^"]* cx"/g)).toBe(cx);
    expect(html).toContain('<pre class="counterexample">');
    expect(html).toContain('not linearizable</span>: key /&lt;script&gt;');
  });

  it('draws lock holders, the overlap of two holders, and the fault band', () => {
    expect(count(timeline, /<g class="hold overlapping">/g)).toBe(2);
    expect(count(timeline, /<rect class="overlap"/g)).toBe(1);
    expect(timeline).toMatch(/<title>p1 and p2 held lock at once for 10\.0 ms<\/title>/);
    expect(count(timeline, /<rect class="fault-band" data-fault="kill"/g)).toBe(1);
    expect(html).toContain('<td>kill</td><td>etcd-1</td><td>+25.0</td><td>+45.0</td>');
  });

  it('puts everything on one axis from the first event, with a tick scale and hover titles', () => {
    expect(timeline).toContain('>0 ms</text>');
    expect(timeline).toMatch(
      /<title>p3 {2}\+40\.0 ms → \+50\.0 ms \(10 ms\)\nget \/&lt;script&gt;alert\(1\)&lt;\/script&gt; {2}=&gt; {2}ok &quot;a&quot; @5/,
    );
    expect(html).toContain('<div class="legend">');
  });

  it('escapes every piece of data: no markup of the history reaches the page', () => {
    expect(html).not.toContain('<script>alert');
    expect(html).not.toContain('<img');
    expect(html).not.toContain('<read>');
    expect(html).toContain('<title>stale &lt;read&gt;</title>');
    expect(count(html, /<script/g)).toBe(1);
  });

  it('is self-contained: no URL but its own, and a CSP that allows only its own script', () => {
    expect(html).not.toMatch(/<[^>]*\s(src|href)=/);
    expect(html.match(/url\([^)]*\)/g)?.every((url) => url === 'url(#hatch)')).toBe(true);
    expect(html.match(/https?:\/\/[^"]*/g)?.every((url) => url === 'http://www.w3.org/2000/svg')).toBe(true);
    const script = html.slice(html.lastIndexOf('<script>') + 8, html.lastIndexOf('</script>'));
    const hash = createHash('sha256').update(script).digest('base64');
    expect(html).toContain(`script-src &#39;sha256-${hash}&#39;`);
    expect(html).toContain('default-src &#39;none&#39;');
  });

  it('renders the operations and violations of a History', async () => {
    const history = new History();
    history.record({ process: 'w1', kind: 'hold', start: T, end: T + 10, ok: true, token: 3 });
    history.record({ process: 'w2', kind: 'hold', start: T + 5, end: T + 12, ok: true, token: 4 });
    history.record({
      process: 'w2',
      kind: 'acquire',
      start: T,
      end: T + 5,
      ok: false,
      detail: 'lost <session>',
    });
    const violations = checkNoOverlap(history.ofKind('hold'));
    const page = renderHistoryReport({ operations: history, violations });
    const svg = timelineOf(page);
    expect(count(svg, /<rect class="op ok other cx" data-kind="hold"/g)).toBe(2);
    expect(svg).toContain('acquire  =&gt;  failed (lost &lt;session&gt;)');
    expect(page).toContain('<ul class="violations"><li>no-overlap: w1 (token 3) and w2 (token 4)');
  });

  it('stacks overlapping operations of one process in lanes', () => {
    const items = [
      { start: 0, end: 10, lane: -1 },
      { start: 5, end: 15, lane: -1 },
      { start: 10, end: 20, lane: -1 },
    ];
    expect(assignLanes(items)).toBe(2);
    expect(items.map((item) => item.lane)).toEqual([0, 1, 0]);
  });

  it('stays readable with 2000 operations: width from the busiest process, one mark each', () => {
    const many: KvOperation[] = [];
    for (let i = 0; i < 2000; i++) {
      const start = T + (i >> 2) * 10;
      many.push({
        process: `p${i % 4}`,
        start,
        end: start + 8,
        input: { type: 'get', key: '/k' },
        output: { status: 'not-found' },
      });
    }
    const started = performance.now();
    const page = renderHistoryReport({ operations: many });
    expect(performance.now() - started).toBeLessThan(2000);
    const svg = timelineOf(page);
    expect(count(svg, /<rect class="op /g)).toBe(2000);
    expect(svg).toMatch(/^<svg class="timeline" [^>]*width="2532"/);
    expect(count(svg, /<g class="row process"/g)).toBe(4);
    expect(page.length).toBeLessThan(1_000_000);
  });

  it('renders an empty history, and refuses a silly width', () => {
    expect(renderHistoryReport({})).toContain('0 operations of 0 processes');
    expect(() => renderHistoryReport({ width: 5 })).toThrow(RangeError);
  });
});

describe('faultsFromLog', () => {
  it("with an origin, puts the log's `at` times on the wall clock; an entry without healedAt stays open", () => {
    const log = [
      { at: 100, startedAt: 0, fault: 'kill' as const, members: ['etcd-1'], healedAt: 600, endedAt: 0 },
      { at: 900, startedAt: 0, fault: 'isolate' as const, members: ['etcd-2', 'etcd-3'] },
      { at: 950, startedAt: 0, fault: 'pause' as const, members: [], error: 'no leader' },
    ];
    expect(faultsFromLog(log, T)).toEqual([
      { name: 'kill', target: 'etcd-1', start: T + 100, end: T + 600 },
      { name: 'isolate', target: 'etcd-2, etcd-3', start: T + 900 },
      { name: 'pause', target: '-', start: T + 950, error: 'no leader' },
    ]);
    const page = renderHistoryReport({ operations: ops, faults: faultsFromLog(log, T) });
    expect(count(timelineOf(page), /<rect class="fault-band open"/g)).toBe(2);
  });
});

describe('scale and escaping', () => {
  it('picks round tick steps', () => {
    expect([0.3, 1, 7, 12, 180, 2600].map(niceStep)).toEqual([0.5, 1, 10, 20, 200, 5000]);
    expect(ticks(timeScale(0, 3000, 1100)).map((tick) => tick.label)).toEqual([
      '0.0 s',
      '0.5 s',
      '1.0 s',
      '1.5 s',
      '2.0 s',
      '2.5 s',
      '3.0 s',
    ]);
  });

  it('escapes the five HTML characters', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });
});

describe('writeHistoryReport', () => {
  it('writes the page; an aborted signal rejects with its reason', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'etcdkit-report-'));
    try {
      const path = join(dir, 'report.html');
      await writeHistoryReport(path, { operations: ops });
      expect(await readFile(path, 'utf8')).toBe(renderHistoryReport({ operations: ops }));
      const reason = new Error('stop');
      await expect(writeHistoryReport(path, {}, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
