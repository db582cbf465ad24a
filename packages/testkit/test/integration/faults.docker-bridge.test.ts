/**
 * Docker on a bridge network: the shared fault suite, then the kernel faults made in the containers' network
 * namespaces from the host (loss, a one-way cut, a partition, a rate limit), which need root on the Docker host.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkConvergence,
  type DockerBridgeCluster,
  injectFault,
  kernelHasNetem,
  type Member,
  raftTimings,
  startDockerCluster,
  UnsupportedFaultError,
  undoFault,
} from '../../src/index.js';
import { httpRequest } from '../../src/internal/http.js';
import { dockerBackend, dockerLeftovers, testImage } from './docker-backend.js';
import { checkRelayedDelay, faultSuite } from './fault-suite.js';
import { etcdRequestTimeoutMs, putVia, writeThrough } from './helpers.js';

faultSuite('Docker, bridge network', dockerBackend('bridge'));

const { electionMs } = raftTimings();
/** Whether peer delay is netem here (else relays), known before the tests are collected. */
const netem = process.getuid?.() === 0 && (await kernelHasNetem());

/** `file args` in `member`'s container's network namespace, from the host. */
const inContainer = (member: Member, file: string, ...args: string[]): string =>
  execFileSync('nsenter', [`--net=/proc/${member.pid}/ns/net`, file, ...args], { encoding: 'utf8' });

/** Packets the DROP rules in `member`'s namespace have dropped so far, and how many such rules there are. */
function drops(member: Member): { rules: number; packets: number } {
  const lines = inContainer(member, 'iptables-save', '-c', '-t', 'filter')
    .split('\n')
    .filter((line) => line.endsWith('-j DROP'));
  const packets = lines.reduce((sum, line) => sum + Number(/^\[(\d+):/.exec(line)?.[1] ?? 0), 0);
  return { rules: lines.length, packets };
}

async function converges(cluster: DockerBridgeCluster): Promise<void> {
  await Promise.all(cluster.members.map((m) => m.waitHealthy()));
  await expect
    .poll(async () => (await checkConvergence(cluster, { prefix: '/bridge' })).converged, { timeout: 10_000 })
    .toBe(true);
}

describe.skipIf(process.getuid?.() !== 0)('Docker bridge network: faults in the containers’ kernel', () => {
  let cluster: DockerBridgeCluster;
  beforeAll(async () => {
    cluster = await startDockerCluster({ size: 3, image: await testImage(), network: 'bridge' });
  }, 60_000);
  afterAll(async () => {
    if (!cluster) return;
    await cluster.close();
    expect(await dockerLeftovers(cluster.token)).toEqual([]);
  }, 60_000);

  it('a partition: the isolated leader loses the lead and cannot commit; the host still reaches it', async () => {
    const leader = await cluster.waitForLeader();
    const others = cluster.members.filter((m) => m !== leader);
    await cluster.network.partition([[leader], others]);
    try {
      expect(drops(leader).rules).toBe(2);
      expect(others.map((m) => drops(m).rules)).toEqual([1, 1]);
      // nothing on the host's own iptables
      expect(execFileSync('iptables-save', { encoding: 'utf8' })).not.toContain(cluster.token);
      const next = await cluster.waitForLeader({ exclude: [leader], timeoutMs: 10_000 });
      expect(others).toContain(next);
      await writeThrough(others, '/bridge/majority');
      expect(await putVia(leader, '/bridge/minority', electionMs * 4)).not.toBe(201);
      // the gateway (testkit's probes, the test's requests) is exempt
      expect((await httpRequest(`${leader.clientURL}/version`, { timeoutMs: 2000 })).status).toBe(200);
    } finally {
      await cluster.network.heal();
    }
    expect(cluster.members.map((m) => drops(m).rules)).toEqual([0, 0, 0]);
    await converges(cluster);
  }, 60_000);

  it('a one-way cut: a leader that hears nothing loses the lead; it holds across a restart', async () => {
    const leader = await cluster.waitForLeader();
    const others = cluster.members.filter((m) => m !== leader);
    await cluster.network.cut(others, [leader]);
    try {
      expect(drops(leader).rules).toBe(2);
      expect(others.map((m) => drops(m).rules)).toEqual([0, 0]);
      await cluster.waitForLeader({ exclude: [leader], timeoutMs: 10_000 });
      await writeThrough(others, '/bridge/one-way');
      // a restarted container has a new namespace: the cut is applied to it again
      const pid = leader.pid;
      await leader.restart({ waitHealthy: false });
      expect(leader.pid).not.toBe(pid);
      expect(drops(leader).rules).toBe(2);
      expect(await putVia(leader, '/bridge/one-way-old', electionMs * 4)).not.toBe(201);
    } finally {
      await cluster.network.heal();
    }
    await converges(cluster);
  }, 60_000);

  it('packet loss drops packets and writes still commit; heal removes it; member.heal() too', async () => {
    const follower = cluster.members.find((m) => m !== cluster.members[0])!;
    await cluster.network.loss([follower], 0.3);
    try {
      for (let i = 0; i < 5; i++) {
        await expect
          .poll(
            async () => {
              const leader = await cluster.leader();
              return leader ? putVia(leader, `/bridge/lossy/${i}`, etcdRequestTimeoutMs) : 0;
            },
            { timeout: 30_000, interval: 100 },
          )
          .toBe(201);
      }
      // heartbeats every 50 ms each way: about 30% of them dropped
      await expect.poll(() => drops(follower).packets, { timeout: 5000 }).toBeGreaterThan(5);
    } finally {
      await cluster.network.heal();
    }
    expect(drops(follower)).toEqual({ rules: 0, packets: 0 });
    // all of its packets lost, but not the host's (the gateway's): testkit's probes still reach it
    await cluster.network.loss([follower], 1);
    try {
      for (let i = 0; i < 3; i++)
        expect((await httpRequest(`${follower.clientURL}/version`, { timeoutMs: 1000 })).status).toBe(200);
    } finally {
      await cluster.network.heal();
    }
    await cluster.network.linkLoss([follower], [cluster.members[0]!], 0.5, { oneWay: true });
    expect(drops(cluster.members[0]!).rules).toBe(1);
    await cluster.members[0]!.heal();
    expect(drops(cluster.members[0]!).rules).toBe(0);
    // the same through the fault catalog, as a schedule injects it; undoFault heals it
    await injectFault(cluster, follower, 'loss', { lossFraction: 0.1 });
    expect((await cluster.network.rules())[follower.name]).toMatch(/--probability 0\.1/);
    await undoFault(follower);
    expect((await cluster.network.rules())[follower.name]).not.toMatch(/statistic/);
    await converges(cluster);
  }, 60_000);

  it('a rate limit is a tbf qdisc, a link rate an htb class; duplication needs sch_netem; peer drops need a proxy', async () => {
    const member = cluster.members[0]!;
    await cluster.network.rate([member], 512);
    try {
      expect(inContainer(member, 'tc', 'qdisc', 'show', 'dev', 'eth0')).toMatch(/tbf .*rate 512Kbit/);
      await writeThrough(cluster.members, '/bridge/rate-limited');
      // a link rate: an htb leaf for the one peer, under the member's own rate
      const peer = cluster.members[1]!;
      await cluster.network.linkRate([member], [peer], 256, { oneWay: true });
      expect(inContainer(member, 'tc', 'class', 'show', 'dev', 'eth0')).toMatch(
        /class htb 1:2 .*ceil 256Kbit/,
      );
      expect(inContainer(member, 'tc', 'filter', 'show', 'dev', 'eth0')).toMatch(/flowid 1:2/);
      expect(inContainer(peer, 'tc', 'qdisc', 'show', 'dev', 'eth0')).not.toMatch(/htb/);
      await writeThrough(cluster.members, '/bridge/link-rate-limited');
    } finally {
      await cluster.network.heal();
    }
    expect(inContainer(member, 'tc', 'qdisc', 'show', 'dev', 'eth0')).not.toMatch(/tbf|htb/);
    if (!netem)
      await expect(cluster.network.netem([member], { duplicate: 0.1 })).rejects.toThrow(/sch_netem/);
    await expect(member.dropConnections(0.5)).rejects.toThrow(UnsupportedFaultError);
  });

  // the relay path, registered only where the kernel lacks sch_netem (a skipped test fails the run); with it,
  // netem makes the delay, which the shared suite's delay test checks
  if (!netem)
    it('without sch_netem, a peer delay goes through relays on the gateway: writes slowed, cuts still cut, nothing left', async () => {
      await checkRelayedDelay(cluster, cluster.network, cluster.network.hostAddress);
      await converges(cluster);
    }, 90_000);
});
