import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { MetricsReport } from '../src/demo/metrics-file.js';
import type { MetricsSnapshot } from '../src/metrics.js';
import { alive, cli, startCli } from './run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'etcdkit-demo-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Pids of the etcd members and workers the demo printed. */
function pidsIn(output: string): number[] {
  return [...output.matchAll(/\bpid (\d+)|kill -\w+ (\d+)/g)].map((m) => Number(m[1] ?? m[2]));
}

describe('etcdkit demo', () => {
  it('runs every scenario, measures each recovery, finds no safety violation, and cleans up', async () => {
    const metricsFile = join(dir, 'metrics.json');
    const reportFile = join(dir, 'report.html');
    const run = startCli(['demo', '--metrics-file', metricsFile, '--report', reportFile]);
    const code = await run.exited;
    expect(run.stderr).toBe('');
    expect(code, run.stdout).toBe(0);
    for (const heading of ['[1]', '[2]', '[3]', '[4]', '[5]', '[6]', '[7]', '[8]'])
      expect(run.stdout).toContain(heading);
    expect(run.stdout).toMatch(/\| lock acquisitions +\| \d+/);
    expect(run.stdout).toMatch(/\| lock holder SIGKILL → next holder +\| \d+ ms/);
    expect(run.stdout).toMatch(/\| safety violations \(overlap, tokens, fenced writes\) \| 0 /);
    expect(run.stdout).toMatch(/safety violations: 0/);
    expect(run.stdout.includes('\u001b[')).toBe(false); // no colour off a terminal
    const pids = pidsIn(run.stdout);
    expect(pids.length).toBeGreaterThan(3);
    expect(pids.filter(alive)).toEqual([]);

    // --metrics-file: every process's metrics, and their sum
    expect(run.stdout).toMatch(/metrics of \d+ processes written to /);
    const report = JSON.parse(readFileSync(metricsFile, 'utf8')) as MetricsReport;
    expect(report).toMatchObject({ version: 1, complete: true });
    expect(Date.parse(report.endedAt!)).toBeGreaterThan(Date.parse(report.startedAt));
    const workers = Object.entries(report.workers);
    expect(workers.map(([name]) => name)).toContain('demo');
    expect(workers.filter(([name]) => name.startsWith('locker-')).length).toBeGreaterThanOrEqual(4);
    const { total } = report;
    expect(total.requests.total).toBeGreaterThan(0);
    expect(total.requests.durationMs.count).toBeGreaterThan(0);
    expect(total.locks.acquired).toBeGreaterThan(0);
    expect(total.locks.waitMs.count).toBeGreaterThan(0);
    expect(total.locks.waitMs.buckets.reduce((sum, b) => sum + b.count, 0)).toBe(total.locks.waitMs.count);
    expect(total.locks.holdMs.count).toBeGreaterThan(0);
    expect(total.locks.waitMs.p99Ms).toBeGreaterThanOrEqual(total.locks.waitMs.p50Ms);
    expect(total.sessions.lost).toEqual(expect.any(Number));
    expect(total.elections.leaderChanges).toBeGreaterThan(0); // the demo's observer saw leaders come and go
    expect(total.registry.expired).toBeGreaterThan(0); // a service was SIGKILLed
    const sum = (of: (snapshot: MetricsSnapshot) => number): number =>
      workers.reduce((n, [, snapshot]) => n + of(snapshot), 0);
    expect(total.requests.total).toBe(sum((s) => s.requests.total));
    expect(total.locks.acquired).toBe(sum((s) => s.locks.acquired));
    expect(total.locks.waitMs.count).toBe(sum((s) => s.locks.waitMs.count));
    expect(total.sessions.lost).toBe(sum((s) => s.sessions.lost));

    // --report: the history as one HTML page, a row per worker, the five faults as bands, no violation
    expect(run.stdout).toMatch(/history report \(HTML\) written to /);
    const page = readFileSync(reportFile, 'utf8');
    expect(page.startsWith('<!doctype html>')).toBe(true);
    expect(page).toMatch(
      /<title>etcdkit demo: 3 etcd members, \d+ lock acquisitions, 5 faults, 0 safety violations<\/title>/,
    );
    for (const fault of [
      'SIGKILL etcd leader',
      'SIGKILL lock holder',
      'SIGKILL elected leader',
      'SIGKILL service',
      'SIGSTOP etcd leader',
    ])
      expect(page).toContain(`class="fault-band" data-fault="${fault}"`);
    // rows of the processes that held the lock or led (a worker started late may have done neither)
    expect(new Set(page.match(/\b(?:locker|candidate)-\d+\b/g)).size).toBeGreaterThanOrEqual(4);
  }, 120_000);

  it('--metrics-file that cannot be written is an error before anything starts', async () => {
    const run = await cli(['demo', '--metrics-file', join(dir, 'no', 'such', 'dir', 'metrics.json')]);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^etcdkit demo: cannot write --metrics-file .*metrics\.json: ENOENT/);
  });

  it('--report that cannot be written is an error before anything starts', async () => {
    const run = await cli(['demo', '--report', join(dir, 'no', 'such', 'dir', 'report.html')]);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^etcdkit demo: cannot write --report .*report\.html: ENOENT/);
  });

  it('Ctrl-C stops the workers and the cluster and exits 130', async () => {
    const metricsFile = join(dir, 'interrupted.json');
    const run = startCli(['demo', '--metrics-file', metricsFile]);
    await run.waitFor(/\[3\]/, 60_000);
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(130);
    expect(run.stdout).toMatch(/cleaned up/);
    // the metrics so far are written on Ctrl-C too, marked incomplete
    const report = JSON.parse(readFileSync(metricsFile, 'utf8')) as MetricsReport;
    expect(report).toMatchObject({ version: 1, complete: false, endedAt: expect.any(String) });
    expect(report.total.requests.total).toBeGreaterThan(0);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(pidsIn(run.stdout).filter(alive)).toEqual([]);
  }, 120_000);
});
