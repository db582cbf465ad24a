import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ClusterStartError,
  makeTestCertificates,
  type ProcessCluster,
  startProcessCluster,
} from '../../src/index.js';
import { getValue, processAlive, putKey } from './helpers.js';

const dataDirRoot = mkdtempSync(join(tmpdir(), 'etcdkit-cluster-test-'));
afterAll(() => rmSync(dataDirRoot, { recursive: true, force: true }));

describe.each([1, 3, 5])('a %i-member cluster', (size) => {
  it('starts, has one leader and takes writes through every member', async () => {
    await using cluster = await startProcessCluster({ size, dataDirRoot });
    expect(cluster.members).toHaveLength(size);
    expect(new Set(cluster.members.map((m) => m.id)).size).toBe(size);
    const leader = await cluster.waitForLeader();
    expect(cluster.members).toContain(leader);
    for (const [i, member] of cluster.members.entries()) {
      expect(await putKey(member.clientURL, `/k${i}`, `v${i}`)).toBe(201);
    }
    expect(await getValue(cluster.clientURLs[0]!, `/k${size - 1}`)).toBe(`v${size - 1}`);
  });
});

describe('member faults on a 3-member cluster', () => {
  it('SIGKILL of the leader: a new leader, and writes through a survivor', async () => {
    await using cluster = await startProcessCluster({ size: 3, dataDirRoot });
    const leader = await cluster.waitForLeader();
    const pid = leader.pid!;
    await leader.kill();
    expect(leader.state).toBe('exited');
    expect(processAlive(pid)).toBe(false);
    const next = await cluster.waitForLeader({ exclude: [leader], timeoutMs: 5000 });
    expect(next).not.toBe(leader);
    const survivor = cluster.members.find((m) => m !== leader)!;
    expect(await putKey(survivor.clientURL, '/after-kill', 'ok')).toBe(201);
  });

  it('SIGSTOP past the election timeout, then SIGCONT: the cluster moves on and the member rejoins', async () => {
    await using cluster = await startProcessCluster({ size: 3, dataDirRoot });
    const leader = await cluster.waitForLeader();
    await leader.pause();
    expect(leader.state).toBe('paused');
    expect(processAlive(leader.pid!)).toBe(true);
    const next = await cluster.waitForLeader({ exclude: [leader], timeoutMs: 5000 });
    expect(await putKey(next.clientURL, '/while-paused', 'x')).toBe(201);
    await leader.resume();
    expect(leader.state).toBe('running');
    await leader.waitHealthy();
    expect(await getValue(leader.clientURL, '/while-paused')).toBe('x');
  });

  it('isolating the leader cuts its raft traffic both ways until healed', async () => {
    await using cluster = await startProcessCluster({ size: 3, dataDirRoot });
    const leader = await cluster.waitForLeader();
    await leader.isolate();
    expect(leader.isolated).toBe(true);
    const next = await cluster.waitForLeader({ exclude: [leader], timeoutMs: 5000 });
    expect(await putKey(next.clientURL, '/during-partition', 'majority')).toBe(201);
    // The isolated member hears nothing from the majority: a stale read misses the new key...
    expect(await getValue(leader.clientURL, '/during-partition', false)).toBe(404);
    // ...and it cannot commit a write of its own.
    await expect(putKey(leader.clientURL, '/from-minority', 'x', 1500)).rejects.toThrow(/timed out/);
    await leader.heal();
    expect(leader.isolated).toBe(false);
    await leader.waitHealthy();
    await expect.poll(() => getValue(leader.clientURL, '/during-partition', false)).toBe('majority');
  });

  it('restart keeps the data dir and the member rejoins', async () => {
    await using cluster = await startProcessCluster({ size: 3, dataDirRoot });
    const leader = await cluster.waitForLeader();
    const follower = cluster.members.find((m) => m !== leader)!;
    const oldPid = follower.pid;
    expect(await putKey(follower.clientURL, '/before-restart', 'kept')).toBe(201);
    await follower.kill();
    expect(await putKey(leader.clientURL, '/while-down', 'caught-up')).toBe(201);
    await follower.restart();
    expect(follower.state).toBe('running');
    expect(follower.pid).not.toBe(oldPid);
    expect(await getValue(follower.clientURL, '/before-restart')).toBe('kept');
    await expect.poll(() => getValue(follower.clientURL, '/while-down', false)).toBe('caught-up');
  });
});

describe('cleanup', () => {
  it('close leaves no process and no data dir behind, and is idempotent', async () => {
    const root = mkdtempSync(join(dataDirRoot, 'close-'));
    const cluster: ProcessCluster = await startProcessCluster({ size: 3, dataDirRoot: root });
    const pids = cluster.members.map((m) => m.pid!);
    await cluster.members[1]!.pause();
    expect(readdirSync(root)).toHaveLength(1);
    await cluster.close();
    await cluster.close();
    expect(pids.filter(processAlive)).toEqual([]);
    expect(readdirSync(root)).toEqual([]);
  });

  it('a failed start cleans up what it started and says why', async () => {
    const root = mkdtempSync(join(dataDirRoot, 'fail-'));
    const start = startProcessCluster({ size: 3, dataDirRoot: root, extraArgs: ['--no-such-flag'] });
    await expect(start).rejects.toBeInstanceOf(ClusterStartError);
    await expect(start).rejects.toThrow(/a member exited[\s\S]*no-such-flag/);
    expect(readdirSync(root)).toEqual([]);
  });
});

describe('TLS on client URLs', () => {
  it('serves https with client certificate auth', async () => {
    const certs = await makeTestCertificates();
    try {
      await using cluster = await startProcessCluster({
        size: 3,
        dataDirRoot,
        clientTLS: {
          certFile: certs.serverCertFile,
          keyFile: certs.serverKeyFile,
          trustedCAFile: certs.caFile,
        },
      });
      expect(cluster.clientURLs.every((url) => url.startsWith('https://127.0.0.1:'))).toBe(true);
      const leader = await cluster.waitForLeader();
      expect(cluster.members).toContain(leader);
      const tls = {
        ca: Buffer.from(certs.ca),
        cert: Buffer.from(certs.clientCert),
        key: Buffer.from(certs.clientKey),
      };
      expect(await putKey(cluster.clientURLs[1]!, '/tls', 'yes', 2000, tls)).toBe(201);
      // Without a client certificate the server refuses the handshake.
      await expect(
        putKey(cluster.clientURLs[1]!, '/tls', 'no', 2000, { ca: Buffer.from(certs.ca) }),
      ).rejects.toThrow();
    } finally {
      rmSync(certs.dir, { recursive: true, force: true });
    }
  });
});
