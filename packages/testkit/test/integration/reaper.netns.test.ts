/**
 * The netns backend's clean-up when the test process dies without closing (the reaper), and its refusal to run
 * without root. The reaper's test process loads testkit from dist/, as a user's would.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import { NetnsUnavailableError, startCluster } from '../../src/index.js';
import { processAlive } from './helpers.js';
import { canRunNetns, netnsLeftovers } from './netns-helpers.js';

const testkit = fileURLToPath(new URL('../../dist/index.js', import.meta.url));

describe.skipIf(!canRunNetns)('the netns backend and the reaper', () => {
  it('deletes the namespaces, links, rules and data of a test process that was SIGKILLed', async () => {
    const root = mkdtempSync(join(tmpdir(), 'etcdkit-netns-reaper-'));
    const script = `
      import { startCluster } from ${JSON.stringify(testkit)};
      const cluster = await startCluster({ backend: 'netns', size: 3, dataDirRoot: ${JSON.stringify(root)} });
      const { network } = cluster;
      const client = await network.client('c1');
      const sleeper = client.spawn('sleep', ['600']);
      await network.partition([[cluster.members[0], client], cluster.members.slice(1)]);
      await network.loss([cluster.members[1]], 0.1);
      await network.rate([cluster.members[2]], 1000);
      console.log(JSON.stringify({
        run: { id: network.id, hostLink: network.hostLink, subnet: network.subnet },
        namespaces: network.namespaces,
        pids: [...cluster.members.map((m) => m.pid), sleeper.pid],
      }));
      setInterval(() => {}, 1000);
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const [line] = (await once(child.stdout, 'data')) as [Buffer];
    const { run, namespaces, pids } = JSON.parse(line.toString()) as {
      run: { id: string; hostLink: string; subnet: string };
      namespaces: string[];
      pids: number[];
    };
    expect(namespaces).toHaveLength(5); // hub, 3 members, 1 client
    expect(pids.every(processAlive)).toBe(true);
    expect(netnsLeftovers(run, [])).toHaveLength(7); // 5 namespaces, the host link, the subnet
    expect(readdirSync(root)).toHaveLength(1);
    child.kill('SIGKILL');
    await once(child, 'exit');
    await expect.poll(() => netnsLeftovers(run, pids), { timeout: 10_000, interval: 100 }).toEqual([]);
    await expect.poll(() => readdirSync(root), { timeout: 5000 }).toEqual([]);
    rmSync(root, { recursive: true, force: true });
  }, 30_000);

  it('refuses to start without root, with a typed error that says so', async () => {
    // as another user (the check reads the process's uid each time): in process, so that no file of the
    // checkout needs to be readable by that user
    const uid = vi.spyOn(process, 'getuid').mockReturnValue(65534);
    try {
      const error = await startCluster({ backend: 'netns', size: 1 }).then(
        async (cluster) => {
          await cluster.close();
          return undefined;
        },
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(NetnsUnavailableError);
      expect((error as NetnsUnavailableError).code).toBe('ETCDKIT_NETNS_UNAVAILABLE');
      expect((error as Error).message).toMatch(/needs root/);
    } finally {
      uid.mockRestore();
    }
  });
});
