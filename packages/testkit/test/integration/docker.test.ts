import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import { getContainerRuntimeClient } from 'testcontainers';
import { describe, expect, it } from 'vitest';
import {
  ClusterStartError,
  DEFAULT_ETCD_IMAGE,
  startCluster,
  sweepDockerLeftovers,
} from '../../src/index.js';
import { httpRequest } from '../../src/internal/http.js';
import { dockerLeftovers, testImage } from './docker-backend.js';

const testkit = fileURLToPath(new URL('../../dist/index.js', import.meta.url));

describe('the Docker backend', () => {
  it('pins an upstream image that still serves v2', () => {
    expect(DEFAULT_ETCD_IMAGE).toMatch(/^gcr\.io\/etcd-development\/etcd:v3\.[45]\.\d+$/);
  });

  it('is one option of startCluster, and a bridge cluster advertises client URLs the host can use', async () => {
    await using cluster = await startCluster({
      backend: 'docker',
      image: await testImage(),
      network: 'bridge',
    });
    expect(cluster.backend).toBe('docker');
    expect(cluster.version).toMatch(/^3\.[45]\./);
    // what client.sync() reads: every advertised client URL answers from the host
    const reply = await httpRequest(`${cluster.clientURLs[0]}/v2/members`);
    const members = (JSON.parse(reply.body) as { members: { clientURLs: string[] }[] }).members;
    const advertised = members.flatMap((m) => m.clientURLs).sort();
    expect(advertised).toEqual([...cluster.clientURLs].sort());
    for (const url of advertised) expect((await httpRequest(`${url}/health`)).status).toBe(200);
  }, 60_000);

  it('a failed start removes every container and network it made, and says why', async () => {
    const start = startCluster({
      backend: 'docker',
      image: await testImage(),
      network: 'bridge',
      extraArgs: ['--no-such-flag'],
      startTimeoutMs: 10_000,
    });
    await expect(start).rejects.toBeInstanceOf(ClusterStartError);
    await expect(start).rejects.toThrow(/no-such-flag/);
    // other test files run clusters at the same time: look at what this process made
    const docker = (await getContainerRuntimeClient()).container.dockerode;
    const filters = JSON.stringify({ label: [`org.etcdkit.owner=${hostname()}:${process.pid}`] });
    expect(await docker.listContainers({ all: true, filters })).toEqual([]);
    expect(await docker.listNetworks({ filters })).toEqual([]);
  }, 60_000);

  it('the reaper removes the containers and network of a test process that was SIGKILLed', async () => {
    const script = `
      import { startDockerCluster } from ${JSON.stringify(testkit)};
      const cluster = await startDockerCluster({ size: 3, image: ${JSON.stringify(await testImage())}, network: 'bridge' });
      console.log(cluster.token);
      setInterval(() => {}, 1000);
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, TESTCONTAINERS_RYUK_DISABLED: 'true' },
    });
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    const line = await Promise.race([
      once(child.stdout, 'data').then(([data]) => String(data)),
      once(child, 'close').then(([code, signal]) => `exited (${code ?? signal}): ${stderr}`),
    ]);
    expect(line).toMatch(/^etcdkit-/);
    const token = line.trim();
    expect(await dockerLeftovers(token)).toHaveLength(4);
    child.kill('SIGKILL');
    await once(child, 'exit');
    await expect.poll(() => dockerLeftovers(token), { timeout: 15_000, interval: 250 }).toEqual([]);
  }, 60_000);

  it('the sweep removes leftovers whose owner is gone, and spares live ones', async () => {
    // Other test files start Docker clusters meanwhile, and each start sweeps too: the orphan may be removed by
    // their sweep or by ours, so the test checks what is left, not who removed it. The containers are only
    // created, never started, so that no sweep can remove one while it is starting.
    const docker = (await getContainerRuntimeClient()).container.dockerode;
    const labels = { 'org.etcdkit.testkit': 'true', 'org.etcdkit.cluster': 'sweep-test' };
    const image = await testImage();
    const create = (owner: string) =>
      docker.createContainer({
        Image: image,
        Cmd: ['--version'],
        Labels: { ...labels, 'org.etcdkit.owner': owner },
      });
    const orphan = await create(`${hostname()}:999999999`);
    const live = await create(`${hostname()}:${process.pid}`);
    const removed = await sweepDockerLeftovers();
    expect(removed.containers).not.toContain(live.id);
    expect(await dockerLeftovers('sweep-test')).toEqual([`container ${(await live.inspect()).Name}`]);
    await expect(orphan.inspect()).rejects.toThrow(/no such container/i);
    await live.remove({ force: true });
    expect(await dockerLeftovers('sweep-test')).toEqual([]);
  }, 60_000);
});
