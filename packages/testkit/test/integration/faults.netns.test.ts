/**
 * The netns backend: the shared fault suite, then faults only the kernel can inject (one-way and minority
 * partitions, a bridge, packet loss, rate limits, a client namespace cut from the leader). Needs root; skipped
 * otherwise.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Cluster,
  checkConvergence,
  injectFault,
  kernelHasNetem,
  type Member,
  type NetnsClient,
  type NetnsCluster,
  raftTimings,
  resolveTarget,
  seededRandom,
  startCluster,
  UnsupportedFaultError,
  undoFault,
} from '../../src/index.js';
import { httpRequest } from '../../src/internal/http.js';
import { checkRelayedDelay, faultSuite, listenersOn } from './fault-suite.js';
import { etcdRequestTimeoutMs, moveLeader, putVia, writeThrough } from './helpers.js';
import { canRunNetns, netnsLeftovers, runFacts } from './netns-helpers.js';

const dataDirRoot = mkdtempSync(join(tmpdir(), 'etcdkit-netns-faults-'));
afterAll(() => rmSync(dataDirRoot, { recursive: true, force: true }));

const { electionMs } = raftTimings();
/** Whether peer delay is netem here (else relays), known before the tests are collected. */
const netem = canRunNetns && (await kernelHasNetem());

if (canRunNetns) {
  /** Every pid a cluster's members ever had, and the run's names. */
  const seen = new WeakMap<Cluster, { pids: Set<number>; run: ReturnType<typeof runFacts> }>();
  faultSuite('netns backend', {
    // peer delay is netem where the kernel has sch_netem, else relays on the host
    peerProxies: false,
    async start(options) {
      const cluster = await startCluster({ ...options, backend: 'netns', dataDirRoot });
      const pids = new Set<number>();
      seen.set(cluster, { pids, run: runFacts(cluster.network) });
      const remember = (): void => {
        for (const member of cluster.members) if (member.pid) pids.add(member.pid);
      };
      remember();
      setInterval(remember, 20).unref();
      return cluster;
    },
    async leftovers(cluster) {
      const facts = seen.get(cluster)!;
      return netnsLeftovers(facts.run, facts.pids, dataDirRoot);
    },
  });
}

/** Runs `script` with this Node.js in the client namespace; resolves with what it printed once it exits. */
function nodeIn(client: NetnsClient, script: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = client.spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.once('error', reject);
    child.once('exit', () => resolve(out));
  });
}

/** The number of DROP rules in each member's namespace. */
async function dropRules(cluster: NetnsCluster): Promise<Record<string, number>> {
  const rules = await cluster.network.rules();
  return Object.fromEntries(
    Object.entries(rules).map(([name, text]) => [
      name,
      text.split('\n').filter((l) => l.endsWith('-j DROP')).length,
    ]),
  );
}

describe.skipIf(!canRunNetns)('netns backend: faults in the kernel', () => {
  let cluster: NetnsCluster;
  beforeAll(async () => {
    cluster = await startCluster({ backend: 'netns', size: 5, dataDirRoot });
  }, 60_000);
  afterAll(async () => {
    if (!cluster) return;
    const run = runFacts(cluster.network);
    const pids = cluster.members.flatMap((m) => (m.pid ? [m.pid] : []));
    await cluster.close();
    expect(netnsLeftovers(run, pids)).toEqual([]);
  }, 60_000);

  it('one-way: a leader that can still send but hears nothing loses the lead to the majority', async () => {
    const leader = await cluster.waitForLeader();
    const others = cluster.members.filter((m) => m !== leader);
    await cluster.network.cut(others, [leader]);
    try {
      const rules = await dropRules(cluster);
      expect(rules[leader.name]).toBe(others.length);
      expect(others.every((m) => rules[m.name] === 0)).toBe(true);
      const next = await cluster.waitForLeader({ exclude: [leader], timeoutMs: 10_000 });
      expect(others).toContain(next);
      await writeThrough(others, '/netns/one-way');
      // the old leader hears nothing, so it cannot commit
      expect(await putVia(leader, '/netns/one-way-old', electionMs * 4)).not.toBe(201);
    } finally {
      await cluster.network.heal();
    }
    await leader.waitHealthy();
    await expect
      .poll(async () => (await checkConvergence(cluster, { prefix: '/netns' })).converged, {
        timeout: 10_000,
      })
      .toBe(true);
  }, 60_000);

  it('minority partition with the leader: the majority elects and writes, the minority cannot', async () => {
    const leader = await cluster.waitForLeader();
    const rest = cluster.members.filter((m) => m !== leader);
    const minority = [leader, rest[0]!];
    const majority = rest.slice(1);
    await cluster.network.partition([minority, majority]);
    try {
      const next = await cluster.waitForLeader({ exclude: minority, timeoutMs: 10_000 });
      expect(majority).toContain(next);
      await writeThrough(majority, '/netns/majority');
      const answers = await Promise.all(minority.map((m) => putVia(m, '/netns/minority', electionMs * 4)));
      expect(answers.filter((status) => status === 201)).toEqual([]);
    } finally {
      await cluster.network.heal();
    }
    await Promise.all(cluster.members.map((m) => m.waitHealthy()));
    await expect
      .poll(async () => (await checkConvergence(cluster, { prefix: '/netns' })).converged, {
        timeout: 10_000,
      })
      .toBe(true);
    expect(Object.values(await dropRules(cluster)).every((n) => n === 0)).toBe(true);
  }, 60_000);

  it('bridge and ring: the rules Jepsen describes; the bridged cluster still commits', async () => {
    const [bridge] = await resolveTarget(cluster, 'follower', seededRandom(5));
    await cluster.network.bridge(bridge!);
    try {
      const rules = await dropRules(cluster);
      // 4 others in halves of 2: each drops the other half
      expect(rules[bridge!.name]).toBe(0);
      expect(cluster.members.filter((m) => m !== bridge).map((m) => rules[m.name])).toEqual([2, 2, 2, 2]);
      await writeThrough(cluster.members, '/netns/bridged');
    } finally {
      await cluster.network.heal();
    }
    await cluster.network.ring();
    try {
      // 5 in a ring: each sees itself and its two neighbours (a majority), and drops the other two
      expect(Object.values(await dropRules(cluster))).toEqual([2, 2, 2, 2, 2]);
    } finally {
      await cluster.network.heal();
    }
    await Promise.all(cluster.members.map((m) => m.waitHealthy()));
  }, 60_000);

  it('packet loss on every member: writes still commit; heal removes the rules', async () => {
    // 10% each way on every member: about 19% on each link between two members
    await cluster.network.loss(cluster.members, 0.1);
    try {
      const rules = Object.values(await cluster.network.rules()).join('\n');
      expect(rules).toMatch(/statistic --mode random --probability 0\.1/);
      // progress, not speed: a write may meet an election the loss caused, and is tried again
      for (let i = 0; i < 3; i++) {
        await expect
          .poll(
            async () => {
              const leader = await cluster.leader();
              return leader ? putVia(leader, `/netns/lossy/${i}`, etcdRequestTimeoutMs) : 0;
            },
            { timeout: 30_000, interval: 100 },
          )
          .toBe(201);
      }
    } finally {
      await cluster.network.heal();
    }
    expect(Object.values(await cluster.network.rules()).join('\n')).not.toMatch(/statistic/);
    // the same through the fault catalog, as a schedule injects it; undoFault heals it
    const member = cluster.members[1]!;
    await injectFault(cluster, member, 'loss', { lossFraction: 0.1 });
    expect((await cluster.network.rules())[member.name]).toMatch(/--probability 0\.1/);
    await undoFault(member);
    expect((await cluster.network.rules())[member.name]).not.toMatch(/statistic/);
    const processCluster = { backend: 'process' } as Cluster;
    await expect(injectFault(processCluster, member, 'loss')).rejects.toThrow(UnsupportedFaultError);
    await Promise.all(cluster.members.map((m) => m.waitHealthy()));
  }, 120_000);

  it('a rate limit is a tbf qdisc; duplication and reordering need sch_netem', async () => {
    const member = cluster.members[0]!;
    await cluster.network.rate([member], 512);
    await writeThrough(cluster.members, '/netns/rate-limited');
    await cluster.network.heal();
    if (!(await kernelHasNetem())) {
      await expect(cluster.network.netem([member], { duplicate: 0.1 })).rejects.toThrow(
        UnsupportedFaultError,
      );
      await expect(cluster.network.netem([member], { delayMs: 20, reorder: 0.1 })).rejects.toThrow(
        /sch_netem/,
      );
    }
    await expect(member.dropConnections(0.5)).rejects.toThrow(UnsupportedFaultError);
  });

  // the relay path, registered only where the kernel lacks sch_netem (a skipped test fails the run); with it,
  // netem makes the delay, which the shared suite's delay test checks
  if (!netem)
    it('without sch_netem, a peer delay goes through relays: writes slowed, cuts still cut, nothing left', async () => {
      await checkRelayedDelay(cluster, cluster.network, cluster.network.hostAddress);
      await Promise.all(cluster.members.map((m) => m.waitHealthy()));
      // one member's delay (as the fault catalog injects it): a relay each way to each other member; its heal
      // ends them
      const [member] = cluster.members;
      await member!.delay(20, { jitterMs: 5 });
      expect(listenersOn(cluster.network.hostAddress)).toHaveLength(2 * (cluster.members.length - 1));
      await member!.heal();
      expect(listenersOn(cluster.network.hostAddress)).toEqual([]);
    }, 90_000);

  if (!netem)
    it('close() stops the relays of a delay still on', async () => {
      const small = await startCluster({ backend: 'netns', size: 2, dataDirRoot });
      const host = small.network.hostAddress;
      try {
        await small.members[0]!.delay(20);
        expect(listenersOn(host)).toHaveLength(2);
      } finally {
        await small.close();
      }
      expect(listenersOn(host)).toEqual([]);
    }, 60_000);

  it("a link delay slows that link only: the far end of the leader's delayed link applies a write late, the others do not", async () => {
    // inside the election timeout, so that the late heartbeats start no election (the reset of the link's
    // connections as its relays start may cost one: then the roles are taken again)
    const delayMs = 80;
    const host = cluster.network.hostAddress;
    /** When `member` applies a write of `key` (a watch on it from the host, whose link is not delayed). */
    const applied = (member: Member, key: string): Promise<number> =>
      httpRequest(`${member.clientURL}/v2/keys${key}?wait=true`, { timeoutMs: 5000 }).then(() =>
        performance.now(),
      );
    let rounds: { far: number; near: number }[] = [];
    // why a try ended short (for the failure's message)
    const notes: string[] = [];
    for (let tries = 0; rounds.length < 5 && tries < 5; tries++) {
      rounds = [];
      const first = await cluster.waitForLeader();
      const other = cluster.members.find((m) => m !== first)!;
      await cluster.network.linkDelay([first], [other], { delayMs });
      try {
        // one relay each way between the two, a DNAT rule in each of them and in no other member
        expect(listenersOn(host)).toHaveLength(2);
        const rules = await cluster.network.rules();
        for (const member of cluster.members)
          expect(rules[member.name]!.includes('-j DNAT'), member.name).toBe(
            member === first || member === other,
          );
        // The reset of the link's connections as its relays start may cost an election (election timeout
        // 250 ms), which the third member wins as often as not: let it settle, then hand the leadership back to
        // an end of the link (a transfer takes no election timeout, so it lands). The delay is both ways, so
        // either end may lead.
        await sleep(1000);
        let leader = await cluster.waitForLeader();
        if (leader !== first && leader !== other) {
          const status = await moveLeader(leader, first, etcdRequestTimeoutMs);
          leader = await cluster.waitForLeader();
          if (leader !== first && leader !== other) {
            notes.push(
              `try ${tries}: the leader moved off the delayed link, and a transfer back answered ${status}`,
            );
            continue;
          }
          notes.push(`try ${tries}: the leader moved off the delayed link and was handed back`);
        }
        const far = leader === first ? other : first;
        const near = cluster.members.find((m) => m !== first && m !== other)!;
        for (let i = 0; rounds.length < 5 && i < 10; i++) {
          const key = `/netns/link-delay/${tries}-${i}`;
          const [farApplied, nearApplied] = [applied(far, key), applied(near, key)];
          await sleep(50); // the watches are in place
          const t0 = performance.now();
          const status = await putVia(leader, key, 2000);
          const [farAt, nearAt] = await Promise.all([farApplied, nearApplied]).catch(() => [0, 0]);
          if ((await cluster.waitForLeader()) !== leader) {
            notes.push(`try ${tries}: an election after ${rounds.length} rounds`);
            break; // take the roles again
          }
          if (status === 201 && farAt > 0) rounds.push({ far: farAt - t0, near: nearAt - t0 });
          else notes.push(`try ${tries}: write ${status}, far applied ${farAt > 0}`);
        }
      } finally {
        await cluster.network.heal();
      }
    }
    const seen = JSON.stringify({ rounds, notes });
    expect(rounds.length, seen).toBe(5);
    // the far end cannot have the entry before the relay held it delayMs; the near one, not delayed, has it first
    for (const round of rounds) expect(round.far, seen).toBeGreaterThanOrEqual(delayMs);
    const median = (values: number[]): number => values.sort((a, b) => a - b)[2]!;
    expect(median(rounds.map((r) => r.near)), seen).toBeLessThan(
      median(rounds.map((r) => r.far)) - delayMs / 2,
    );
    expect(listenersOn(host)).toEqual([]);
    await Promise.all(cluster.members.map((m) => m.waitHealthy()));
  }, 120_000);

  it('a link delay is between members: a client namespace has no peer links to relay', async () => {
    await using outsider = await cluster.network.client('outsider');
    await expect(
      cluster.network.linkDelay(cluster.members.slice(0, 1), [outsider], { delayMs: 20 }),
    ).rejects.toThrow(UnsupportedFaultError);
  });

  it('a link rate slows what one node sends to one peer, not to the others', async () => {
    await using client = await cluster.network.client('uploader');
    const [slow, fast] = cluster.members;
    const kbit = 256;
    const bytes = 64 * 1024;
    /** How long a PUT of `bytes` from the client namespace to `member` takes, in ms (-1: it failed). */
    const upload = async (member: Member): Promise<number> =>
      Number(
        await nodeIn(
          client,
          `const body = 'value=' + 'x'.repeat(${bytes}); const t0 = performance.now();
          fetch(${JSON.stringify(`${member.clientURL}/v2/keys/netns/link-rate`)}, { method: 'PUT', body,
            headers: { 'content-type': 'application/x-www-form-urlencoded' }, signal: AbortSignal.timeout(20000) })
          .then((r) => r.text().then(() => r.status < 300 ? performance.now() - t0 : -1), () => -1)
          .then((ms) => process.stdout.write(String(ms), () => process.exit(0)))`,
        ),
      );
    await cluster.network.linkRate([client], [slow!], kbit, { oneWay: true });
    let slowMs = 0;
    try {
      slowMs = await upload(slow!);
      const fastMs = await upload(fast!);
      // the body cannot leave faster than the rate (an htb class lets a burst of a few kB through first)
      const floorMs = (((bytes - 4096) * 8) / (kbit * 1000)) * 1000;
      expect(slowMs).toBeGreaterThanOrEqual(floorMs);
      expect(fastMs).toBeGreaterThan(0);
      expect(fastMs).toBeLessThan(slowMs / 2);
    } finally {
      await cluster.network.heal();
    }
    const healedMs = await upload(slow!);
    expect(healedMs).toBeGreaterThan(0);
    expect(healedMs).toBeLessThan(slowMs / 2);
  }, 60_000);

  it('a client namespace cut from the leader times out there, and reaches a follower', async () => {
    await using client = await cluster.network.client('cli');
    // a client namespace has no peer links: without sch_netem there is nothing to relay, and saying so beats
    // doing nothing
    if (!netem)
      await expect(cluster.network.netem([client], { delayMs: 50 })).rejects.toThrow(UnsupportedFaultError);
    const leader = await cluster.waitForLeader();
    const follower = cluster.members.find((m) => m !== leader)!;
    await cluster.network.partition([[client], [leader]]);
    // exit at once: a connect the timeout abandoned would keep the process up for undici's 10 s
    const probe = (url: string): Promise<string> =>
      nodeIn(
        client,
        `fetch(${JSON.stringify(`${url}/version`)}, { signal: AbortSignal.timeout(1000) })
          .then((r) => r.text(), (e) => e.name).then((t) => process.stdout.write(t, () => process.exit(0)))`,
      );
    try {
      expect(await probe(leader.clientURL)).toBe('TimeoutError');
      expect(await probe(follower.clientURL)).toMatch(/etcdserver/);
      // the host, the control node, still reaches the leader
      expect((await httpRequest(`${leader.clientURL}/version`)).status).toBe(200);
    } finally {
      await cluster.network.heal();
    }
    expect(await probe(leader.clientURL)).toMatch(/etcdserver/);
  }, 30_000);
});
