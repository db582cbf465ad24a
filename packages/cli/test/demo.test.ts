import { describe, expect, it } from 'vitest';
import { alive, startCli } from './run-cli.js';

/** Pids of the etcd members and workers the demo printed. */
function pidsIn(output: string): number[] {
  return [...output.matchAll(/\bpid (\d+)|kill -\w+ (\d+)/g)].map((m) => Number(m[1] ?? m[2]));
}

describe('etcdkit demo', () => {
  it('runs every scenario, measures each recovery, finds no safety violation, and cleans up', async () => {
    const run = startCli(['demo']);
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
  }, 120_000);

  it('Ctrl-C stops the workers and the cluster and exits 130', async () => {
    const run = startCli(['demo']);
    await run.waitFor(/\[3\]/, 60_000);
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(130);
    expect(run.stdout).toMatch(/cleaned up/);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(pidsIn(run.stdout).filter(alive)).toEqual([]);
  }, 120_000);
});
