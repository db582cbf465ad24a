/**
 * `runFaultSchedule`'s `report` option on a real cluster: the page it writes when the schedule ends has a band
 * for each fault, at the wall-clock times the writes recorded beside it use, and it is written when the
 * schedule throws too.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Cluster,
  type FaultLogEntry,
  History,
  now,
  runFaultSchedule,
  startProcessCluster,
} from '../../src/index.js';
import { putKey } from '../../src/internal/http.js';

const root = mkdtempSync(join(tmpdir(), 'etcdkit-schedule-report-'));
const reports = join(root, 'reports');
mkdirSync(reports);
let cluster: Cluster;
beforeAll(async () => {
  cluster = await startProcessCluster({ size: 3, dataDirRoot: join(root, 'data') });
});
afterAll(async () => {
  await cluster?.close();
  rmSync(root, { recursive: true, force: true });
});

/** The timeline SVG of a page (the legend has swatches of the same classes). */
const timelineOf = (html: string): string =>
  html.slice(html.indexOf('<svg class="timeline"'), html.indexOf('</svg></div></div>'));
const count = (text: string, pattern: RegExp): number => text.match(pattern)?.length ?? 0;

/** Writes a key every 50 ms, on each member in turn, recording each write in `history`, until `signal`. */
async function writeUntil(history: History, signal: AbortSignal): Promise<void> {
  for (let i = 0; !signal.aborted; i++) {
    const url = cluster.clientURLs[i % cluster.clientURLs.length]!;
    await history.run('writer', 'write', () => putKey(url, '/report/k', String(i), 1000)).catch(() => {});
    await sleep(50);
  }
}

describe('runFaultSchedule with a report', () => {
  it('writes the faults as bands on the operations recorded meanwhile', async () => {
    const path = join(reports, 'schedule.html');
    const history = new History();
    const stop = new AbortController();
    const writer = writeUntil(history, stop.signal);
    const before = now();
    const log = await runFaultSchedule(cluster, {
      steps: [
        { fault: 'isolate', target: 'leader' },
        { fault: 'kill', target: 'follower' },
      ],
      durationMs: 2500,
      holdMs: 500,
      intervalMs: 300,
      report: { path, title: 'isolate and kill', operations: history },
    }).finally(() => stop.abort());
    const after = now();
    await writer;

    const done = log.filter((entry) => entry.endedAt !== undefined);
    expect(done.length).toBeGreaterThanOrEqual(2);
    for (const entry of log) {
      expect(entry.startedAt).toBeGreaterThanOrEqual(before);
      expect(entry.startedAt).toBeLessThanOrEqual(after);
      // the wall-clock and the schedule-relative times tell the same story, to a ms of rounding
      expect(entry.startedAt - before).toBeGreaterThanOrEqual(entry.at - 1);
    }
    for (const entry of done) {
      // each is the same duration in both time bases, to the ms rounding of `at` and `healedAt`
      expect(entry.endedAt!).toBeGreaterThan(entry.startedAt);
      expect(Math.abs(entry.endedAt! - entry.startedAt - (entry.healedAt! - entry.at))).toBeLessThan(2);
    }
    const page = readFileSync(path, 'utf8');
    const timeline = timelineOf(page);
    expect(page).toContain('<h1>isolate and kill</h1>');
    expect(count(timeline, /<rect class="fault-band"/g)).toBe(done.length);
    expect(count(timeline, /<rect class="fault-band" data-fault="isolate"/g)).toBeGreaterThanOrEqual(1);
    expect(count(timeline, /<rect class="fault-band" data-fault="kill"/g)).toBeGreaterThanOrEqual(1);
    expect(timeline).toContain('data-process="writer"');
    // every write done before the last heal is drawn (the page is written after it), and none that was not recorded
    const lastHeal = Math.max(...done.map((entry) => entry.endedAt!));
    const drawnAtLeast = history.operations.filter((op) => op.end <= lastHeal).length;
    const ops = count(timeline, /<rect class="op /g);
    expect(drawnAtLeast).toBeGreaterThanOrEqual(2); // a write takes at most its 1 s timeout and 50 ms of the 2.5 s
    expect(ops).toBeGreaterThanOrEqual(drawnAtLeast);
    expect(ops).toBeLessThanOrEqual(history.operations.length);
  }, 30_000);

  it('writes the report when the schedule throws, healed, with what was done until then', async () => {
    const path = join(reports, 'failed.html');
    let first: FaultLogEntry | undefined;
    const schedule = runFaultSchedule(cluster, {
      steps: [{ fault: 'stop', target: 'follower' }],
      durationMs: 5000,
      holdMs: 300,
      intervalMs: 100,
      // the second step's first event (its injection) throws: the first step is done, the second never begins
      onEvent: (entry) => {
        first ??= entry;
        if (entry !== first) throw new Error('the test gave up');
      },
      report: { path },
    });
    await expect(schedule).rejects.toThrow('the test gave up');
    expect(cluster.members.every((member) => member.state === 'running')).toBe(true);
    const page = readFileSync(path, 'utf8');
    expect(page).toContain('<h1>Fault schedule (failed: the test gave up)</h1>');
    // the first fault as a band that ends, the second, never injected, open to the end
    expect(count(timelineOf(page), /<rect class="fault-band" data-fault="stop"/g)).toBe(1);
    expect(count(timelineOf(page), /<rect class="fault-band open" data-fault="stop"/g)).toBe(1);
  }, 30_000);
});
