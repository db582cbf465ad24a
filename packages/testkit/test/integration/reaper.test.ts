import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { startProcessCluster } from '../../src/index.js';
import { reaperPid } from '../../src/internal/reaper.js';
import { processAlive } from './helpers.js';

const testkit = fileURLToPath(new URL('../../dist/index.js', import.meta.url));

describe('the reaper', () => {
  it('runs beside a test process that loads testkit from its sources, and stays up', async () => {
    const cluster = await startProcessCluster({ size: 1 });
    const pid = reaperPid();
    expect(pid).toBeTypeOf('number');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(processAlive(pid!)).toBe(true);
    await cluster.close();
    expect(reaperPid()).toBe(pid);
  });

  it('kills the etcd processes and removes the data of a test process that was SIGKILLed', async () => {
    const root = mkdtempSync(join(tmpdir(), 'etcdkit-reaper-test-'));
    const script = `
      import { startProcessCluster } from ${JSON.stringify(testkit)};
      const cluster = await startProcessCluster({ size: 3, dataDirRoot: ${JSON.stringify(root)} });
      console.log(JSON.stringify(cluster.members.map((m) => m.pid)));
      setInterval(() => {}, 1000);
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const [line] = (await once(child.stdout, 'data')) as [Buffer];
    const pids = JSON.parse(line.toString()) as number[];
    expect(pids.every(processAlive)).toBe(true);
    expect(readdirSync(root)).toHaveLength(1);
    child.kill('SIGKILL');
    await once(child, 'exit');
    await expect.poll(() => pids.filter(processAlive), { timeout: 5000 }).toEqual([]);
    await expect.poll(() => readdirSync(root), { timeout: 5000 }).toEqual([]);
    rmSync(root, { recursive: true, force: true });
  });
});
