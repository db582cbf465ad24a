/** The reports the fault schedule and the checkers write: faults on the wall clock, and violations only. */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  checkKvLinearizability,
  checkNoOverlap,
  checkRisingTokens,
  type FaultLogEntry,
  FaultRecorder,
  faultsFromLog,
  type KvOperation,
  now,
  type Operation,
  reportViolations,
} from '../../src/index.js';

const T = 1_780_000_000_000;
const dir = await mkdtemp(join(tmpdir(), 'etcdkit-fault-report-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

const count = (text: string, pattern: RegExp): number => text.match(pattern)?.length ?? 0;
/** The timeline SVG of a page (the legend has swatches of the same classes). */
const timelineOf = (html: string): string =>
  html.slice(html.indexOf('<svg class="timeline"'), html.indexOf('</svg></div></div>'));

describe('faultsFromLog without an origin', () => {
  it('uses the wall-clock times each entry recorded; an entry without an end stays open', () => {
    const log: FaultLogEntry[] = [
      { at: 100, startedAt: T + 100.5, fault: 'kill', members: ['m0'], healedAt: 600, endedAt: T + 600.25 },
      { at: 900, startedAt: T + 900, fault: 'isolate', members: ['m1', 'm2'] },
      { at: 950, startedAt: T + 950, fault: 'pause', members: [], error: 'no leader' },
    ];
    expect(faultsFromLog(log)).toEqual([
      { name: 'kill', target: 'm0', start: T + 100.5, end: T + 600.25 },
      { name: 'isolate', target: 'm1, m2', start: T + 900 },
      { name: 'pause', target: '-', start: T + 950, error: 'no leader' },
    ]);
  });
});

describe('reportViolations', () => {
  const hold = (process: string, start: number, end: number, token: number): Operation => ({
    process,
    kind: 'hold',
    start: T + start,
    end: T + end,
    ok: true,
    token,
  });
  const faults = [{ name: 'isolate', target: 'm0', start: T + 5, end: T + 40 }];

  it('writes nothing when the checkers found nothing', async () => {
    const holds = [hold('p1', 0, 10, 1), hold('p2', 20, 30, 2)];
    const violations = [...checkNoOverlap(holds), ...checkRisingTokens(holds)];
    const path = join(dir, 'clean.html');
    expect(await reportViolations(path, { operations: holds, holds, faults, violations })).toBe(false);
    expect(existsSync(path)).toBe(false);
  });

  it("writes the page with a checker's violation outlined and the overlap shaded", async () => {
    const holds = [hold('p1', 0, 25, 1), hold('p2', 20, 30, 2)];
    const violations = checkNoOverlap(holds);
    expect(violations).toHaveLength(1);
    const path = join(dir, 'overlap.html');
    expect(await reportViolations(path, { operations: holds, holds, faults, violations })).toBe(true);
    const page = await readFile(path, 'utf8');
    const timeline = timelineOf(page);
    expect(count(timeline, /<g class="hold overlapping cx">/g)).toBe(2);
    expect(count(timeline, /<rect class="overlap"/g)).toBe(1);
    expect(count(timeline, /<rect class="fault-band" data-fault="isolate"/g)).toBe(1);
    expect(page).toContain('no-overlap');
  });

  it("writes a linearizability checker's counterexample", async () => {
    const ops: KvOperation[] = [
      {
        process: 'p1',
        start: T,
        end: T + 10,
        input: { type: 'set', key: '/k', value: 'a' },
        output: { status: 'ok', index: 5 },
      },
      {
        process: 'p2',
        start: T + 20,
        end: T + 30,
        input: { type: 'set', key: '/k', value: 'b' },
        output: { status: 'ok', index: 6 },
      },
      {
        process: 'p3',
        start: T + 40,
        end: T + 50,
        input: { type: 'get', key: '/k' },
        output: { status: 'ok', value: 'a', index: 5 },
      },
    ];
    const linearizability = checkKvLinearizability(ops);
    expect(linearizability.ok).toBe(false);
    const path = join(dir, 'stale-read.html');
    expect(await reportViolations(path, { operations: ops, linearizability })).toBe(true);
    const page = await readFile(path, 'utf8');
    expect(count(timelineOf(page), /<rect class="op [^"]* cx"/g)).toBe(2);
    expect(page).toContain('<pre class="counterexample">');
  });

  it('rejects with the reason of an aborted signal, writing nothing', async () => {
    const holds = [hold('p1', 0, 25, 1), hold('p2', 20, 30, 2)];
    const reason = new Error('stop');
    const path = join(dir, 'aborted.html');
    const input = { holds, violations: checkNoOverlap(holds) };
    await expect(reportViolations(path, input, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(existsSync(path)).toBe(false);
  });
});

describe('FaultRecorder', () => {
  it('records begin and end on the wall clock; a fault not ended stays open', () => {
    const recorder = new FaultRecorder();
    const before = now();
    const end = recorder.begin('cut', 'm0 -> m1, m2');
    recorder.begin('kill', 'm1', T);
    end();
    const [cut, kill] = recorder.faults;
    expect(cut!.start).toBeGreaterThanOrEqual(before);
    expect(cut!.end).toBeGreaterThanOrEqual(cut!.start);
    expect(cut!.end).toBeLessThanOrEqual(now());
    expect(kill).toEqual({ name: 'kill', target: 'm1', start: T });
  });
});
