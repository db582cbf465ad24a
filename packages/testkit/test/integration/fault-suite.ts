/**
 * The fault catalog, run the same way against every backend: each file calls {@link faultSuite} with a way to
 * start clusters and a way to tell that a cluster left nothing behind.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Cluster,
  checkConvergence,
  measureFailover,
  raftTimings,
  resolveTarget,
  runFaultSchedule,
  type StartClusterOptions,
  seededRandom,
} from '../../src/index.js';
import { httpRequest, probeTarget, putKey } from '../../src/internal/http.js';

export interface Backend {
  /** Starts a cluster on this backend. */
  start(options: StartClusterOptions): Promise<Cluster>;
  /** Resolves to what `cluster` left behind after close (processes, containers, networks, dirs): empty when clean. */
  leftovers(cluster: Cluster): Promise<string[]>;
  /**
   * Whether a proxy of testkit's sits in every member's peer link (process, Docker host). Informational: on the
   * netns backend and Docker bridge networks peer delay is netem where the kernel has it, else relays.
   */
  readonly peerProxies: boolean;
}

/** A local (non-quorum) read of `key` on one member: its value, or the HTTP status. */
async function localValue(member: Cluster['members'][number], key: string): Promise<string | number> {
  const { url, tls } = probeTarget(member);
  const reply = await httpRequest(`${url}/v2/keys${key}?quorum=false`, { timeoutMs: 1000, tls }).catch(
    () => undefined,
  );
  if (!reply) return 0;
  if (reply.status !== 200) return reply.status;
  return (JSON.parse(reply.body) as { node: { value: string } }).node.value;
}

/** The highest raft term any member reports. */
async function clusterTerm(cluster: Cluster): Promise<number> {
  return Math.max(...(await cluster.status()).map((s) => s.term ?? 0));
}

/** Writes through the first running, connected member that takes it. */
async function write(cluster: Cluster, key: string, value: string): Promise<void> {
  await expect
    .poll(
      async () => {
        for (const member of cluster.members) {
          if (member.state !== 'running' || member.isolated) continue;
          const { url, tls } = probeTarget(member);
          const status = await putKey(url, key, value, 1000, tls).catch(() => 0);
          if (status === 200 || status === 201) return true;
        }
        return false;
      },
      { timeout: 10_000 },
    )
    .toBe(true);
}

/** What {@link checkRelayedDelay} needs of a kernel-fault network. */
interface DelayNetwork {
  netem(targets: readonly Member[], options: { delayMs: number; jitterMs: number }): Promise<void>;
  cut(from: readonly Member[], to: readonly Member[]): Promise<void>;
  heal(): Promise<void>;
  rules(): Promise<Record<string, string>>;
}

type Member = Cluster['members'][number];

/** The TCP listeners on `host` (the relays, on a network whose host address nothing else listens on). */
export function listenersOn(host: string): string[] {
  const out = execFileSync('ss', ['-Htln'], { encoding: 'utf8' });
  return out.split('\n').filter((line) => line.includes(` ${host}:`));
}

/**
 * A peer delay on a kernel without sch_netem (relays on the host): with every follower delayed, a leader's
 * append and its answer each cross a relay, so a write takes twice the delay at least; a cut still cuts the
 * relayed links; heal restores fast writes and leaves no rule and no relay.
 */
export async function checkRelayedDelay(
  cluster: Cluster,
  network: DelayNetwork,
  relayHost: string,
): Promise<void> {
  const { electionMs } = raftTimings();
  // a heartbeat and its answer, delayed, well inside the election timeout
  const delayMs = 50;
  const jitterMs = 10;
  const timedWrite = async (key: string, timeoutMs = 5000): Promise<{ status: number; ms: number }> => {
    const leader = await cluster.waitForLeader({ timeoutMs: 5000 });
    const t0 = performance.now();
    const status = await putKey(probeTarget(leader).url, key, 'x', timeoutMs).catch(() => 0);
    return { status, ms: performance.now() - t0 };
  };
  const leader = await cluster.waitForLeader();
  const followers = cluster.members.filter((m) => m !== leader);
  expect(listenersOn(relayHost)).toEqual([]);
  await network.netem(followers, { delayMs, jitterMs });
  try {
    // a relay for each connection between two members, one of them delayed: here every pair, both ways
    const n = cluster.members.length;
    expect(listenersOn(relayHost)).toHaveLength(n * (n - 1));
    expect((await network.rules())[leader.name]).toMatch(/-A ETCDKIT-RELAY .* -j DNAT --to-destination/);
    // the connections open before were reset; etcd redials, through the relays (an election may follow, and
    // on a loaded 2-core machine, with fast raft timings and every message late, a few): writes commit again,
    // slowed by the delay (each attempt short: a write to a deposed leader would wait out etcd's request
    // timeout)
    const observed: string[] = [];
    const deadline = performance.now() + 40_000;
    let relayed = false;
    // a new key each attempt: an attempt that timed out may still commit, and a later write of its key would
    // answer 200, not 201
    for (let attempt = 0; !relayed && performance.now() < deadline; attempt++) {
      const first = await timedWrite(`/relay/first/${attempt}`, 1000).catch((error: Error) => error);
      if (first instanceof Error) observed.push(first.message.slice(0, 80));
      else {
        observed.push(`${first.status} in ${Math.round(first.ms)} ms`);
        relayed = first.status === 201 && first.ms >= 2 * delayMs;
      }
      if (!relayed) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // on failure: what the writes met at the start and at the end, the relays and the leader's rules
    const seenFirst = [...observed.slice(0, 5), '...', ...observed.slice(-10)].join('; ');
    expect(
      relayed,
      `${seenFirst}\nrelays: ${listenersOn(relayHost).length}\n${JSON.stringify(await network.rules())}`,
    ).toBe(true);
    // three committed writes (one lost to a late election is tried again)
    const writes: { status: number; ms: number }[] = [];
    const tried: { status: number; ms: number }[] = [];
    for (let i = 0; writes.length < 3 && i < 6; i++) {
      const write = await timedWrite(`/relay/${i}`);
      tried.push(write);
      if (write.status === 201) writes.push(write);
    }
    const seen = JSON.stringify(tried);
    expect(writes, seen).toHaveLength(3);
    // the append and the answer: two delayed crossings; an election would add at most two election timeouts
    expect(Math.min(...writes.map((w) => w.ms)), seen).toBeGreaterThanOrEqual(2 * delayMs);
    expect(Math.min(...writes.map((w) => w.ms)), seen).toBeLessThan(
      2 * (delayMs + jitterMs) + 2 * electionMs,
    );
    // the others' packets to the leader dropped: their relayed answers must stop too
    const current = await cluster.waitForLeader();
    await network.cut(
      cluster.members.filter((m) => m !== current),
      [current],
    );
    const cut = await putKey(probeTarget(current).url, '/relay/cut', 'x', 4 * electionMs).catch(() => 0);
    expect(cut).not.toBe(201);
  } finally {
    await network.heal();
  }
  expect(listenersOn(relayHost)).toEqual([]);
  const rules = Object.values(await network.rules()).join('\n');
  expect(rules).not.toMatch(/-A ETCDKIT-RELAY|-j DROP/);
  // direct again: a write no relay delays, once a leader is back
  await expect
    .poll(
      async () => {
        const { status, ms } = await timedWrite('/relay/after', 2000);
        return status === 200 || status === 201 ? ms : Number.POSITIVE_INFINITY;
      },
      { timeout: 10_000, interval: 50 },
    )
    .toBeLessThan(2 * delayMs);
}

export function faultSuite(name: string, backend: Backend): void {
  describe(`${name}: a 3-member cluster through every fault`, () => {
    let cluster: Cluster;
    beforeAll(async () => {
      cluster = await backend.start({ size: 3, clientProxies: true });
    }, 60_000);
    afterAll(async () => {
      if (!cluster) return;
      await cluster.close();
      expect(await backend.leftovers(cluster)).toEqual([]);
    }, 60_000);

    it('reports one leader and one term across members', async () => {
      const status = await cluster.status();
      expect(status.map((s) => s.role).sort()).toEqual(['follower', 'follower', 'leader']);
      expect(new Set(status.map((s) => s.term)).size).toBe(1);
      const leader = status.find((s) => s.role === 'leader')!;
      expect(status.every((s) => s.leaderId === leader.id)).toBe(true);
    });

    it('SIGKILL of the leader: a new leader and a write within seconds, then it rejoins', async () => {
      await write(cluster, '/suite/before-kill', 'kept');
      const leader = await cluster.waitForLeader();
      const times = await measureFailover(cluster, () => leader.kill());
      expect(leader.state).toBe('exited');
      expect(times.after).not.toBe(leader);
      expect(times.newLeaderMs).toBeLessThan(5000);
      expect(times.firstWriteMs).toBeLessThan(5000);
      await cluster.restoreAll();
      expect(await localValue(leader, '/suite/before-kill')).toBe('kept');
    });

    it('SIGTERM of a follower, then restart on its data', async () => {
      const follower = (await resolveTarget(cluster, 'follower'))[0]!;
      await follower.stop();
      expect(follower.state).toBe('exited');
      await write(cluster, '/suite/while-stopped', 'caught-up');
      await follower.restart();
      expect(follower.state).toBe('running');
      await expect.poll(() => localValue(follower, '/suite/while-stopped')).toBe('caught-up');
    });

    it('pause of the leader past the election timeout, then resume', async () => {
      const leader = await cluster.waitForLeader();
      await leader.pause();
      expect(leader.state).toBe('paused');
      const next = await cluster.waitForLeader({ exclude: [leader], timeoutMs: 5000 });
      expect(next).not.toBe(leader);
      await write(cluster, '/suite/while-paused', 'x');
      await leader.resume();
      await leader.waitHealthy();
      await expect.poll(() => localValue(leader, '/suite/while-paused')).toBe('x');
    });

    it('isolation of the leader: the majority elects another; heal converges', async () => {
      const leader = await cluster.waitForLeader();
      await leader.isolate();
      const next = await cluster.waitForLeader({ exclude: [leader], timeoutMs: 5000 });
      expect(next).not.toBe(leader);
      await write(cluster, '/suite/during-partition', 'majority');
      expect(await localValue(leader, '/suite/during-partition')).not.toBe('majority');
      await cluster.healAll();
      await leader.waitHealthy();
      const convergence = await checkConvergence(cluster, { prefix: '/suite' });
      expect(convergence.differences).toEqual([]);
      expect(convergence.converged).toBe(true);
    });

    it('destroy-and-replace of a follower: wiped, re-added with a new id, caught up', async () => {
      const follower = (await resolveTarget(cluster, 'follower'))[0]!;
      const oldId = follower.id;
      await cluster.replace(follower);
      expect(follower.id).not.toBe(oldId);
      expect(follower.state).toBe('running');
      await expect.poll(() => localValue(follower, '/suite/before-kill')).toBe('kept');
      const status = await cluster.status();
      expect(status.filter((s) => s.role === 'leader')).toHaveLength(1);
    });

    it('peer delay with jitter slows a write by the delayed round trip and raises no election', async () => {
      // raft's timings of these clusters (the default, 'fast'). A new leader steps down at its first quorum
      // check unless a follower has answered it by then, (electionMs - heartbeatMs) after it won at the
      // earliest; an answer crosses two delayed links (the leader's message through one member's proxy, the
      // reply through the other's). 2 x (delay + jitter) is kept to half of that window, the other half being
      // for disk syncs and a loaded machine. At 100 ms (+ jitter) every round trip outlasted the window: once
      // an election began, each leader elected under the delay stepped down again, for seconds.
      const { heartbeatMs, electionMs } = raftTimings();
      const jitterMs = 10;
      const delayMs = (electionMs - heartbeatMs) / 4 - jitterMs;
      // etcd 3.4 answers a v2 write within its request timeout, 5 s + 2 x election timeout, even when an
      // election drops the proposal: wait for its answer, not for a timeout of our own
      const etcdRequestTimeoutMs = 5000 + 2 * electionMs;
      for (const member of cluster.members) await member.delay(delayMs, { jitterMs });
      // A write during an election measures the election, not the delay. The delay causes none (above), but
      // a stalled machine, or a member started just before (etcd fast-forwards its election ticks), may:
      // measure again then, a few times. Elections in every attempt are what a delay too long causes.
      const attempts: string[] = [];
      let quiet: { status: number; elapsedMs: number } | undefined;
      try {
        for (let attempt = 0; attempt < 3 && !quiet; attempt++) {
          const { url, tls } = probeTarget(await cluster.waitForLeader({ timeoutMs: 10_000 }));
          const termBefore = await clusterTerm(cluster);
          const t0 = performance.now();
          const status = await putKey(url, `/suite/slow/${attempt}`, 'x', etcdRequestTimeoutMs + 2000, tls);
          const elapsedMs = performance.now() - t0;
          const termAfter = await clusterTerm(cluster);
          attempts.push(`${Math.round(elapsedMs)} ms, answer ${status}, term ${termBefore} -> ${termAfter}`);
          if (termAfter === termBefore) quiet = { status, elapsedMs };
        }
      } finally {
        await cluster.healAll();
      }
      const seen = attempts.join('; ');
      expect(quiet, `an election during every write: ${seen}`).toBeDefined();
      expect(quiet!.status, seen).toBe(201);
      // committing needs a follower's answer: two delayed crossings at least
      expect(quiet!.elapsedMs, seen).toBeGreaterThanOrEqual(2 * delayMs);
      // the round trip, plus at most the longest randomized election timeout: had the cluster stalled longer,
      // its followers would have elected a new leader and moved the term
      expect(quiet!.elapsedMs, seen).toBeLessThan(2 * (delayMs + jitterMs) + 2 * electionMs);
      // healed: where relays made the delay (kernel backends without netem) their connections were closed and
      // etcd redials; the next tests start once every member answers and a write commits again
      await Promise.all(cluster.members.map((m) => m.waitHealthy()));
      await write(cluster, '/suite/after-delay', 'x');
    }, 60_000);

    it('client-link faults: dropped and reset connections fail requests until healed', async () => {
      const member = cluster.members[0]!;
      await member.dropConnections(1, { link: 'client' });
      await expect(putKey(member.clientURL, '/suite/dropped', 'x', 1000)).rejects.toThrow();
      await member.heal();
      expect(await putKey(member.clientURL, '/suite/dropped', 'x', 2000)).toBe(201);
      // a watch held open through the proxy is cut by a reset
      const watch = httpRequest(`${member.clientURL}/v2/keys/suite/never?wait=true`, { timeoutMs: 5000 });
      await new Promise((resolve) => setTimeout(resolve, 200));
      await member.resetConnections();
      await expect(watch).rejects.toThrow(/ECONNRESET|socket hang up/);
      expect(await putKey(member.clientURL, '/suite/after-reset', 'x', 2000)).toBe(201);
    });

    it('a seeded random fault schedule, always healed at the end, converges', async () => {
      const log = await runFaultSchedule(cluster, {
        steps: 'random',
        seed: 42,
        durationMs: 3000,
        holdMs: 600,
        intervalMs: 200,
      });
      expect(log.length).toBeGreaterThan(0);
      expect(log.every((entry) => entry.members.length > 0 || entry.error)).toBe(true);
      expect(cluster.members.every((m) => m.state === 'running' && !m.isolated)).toBe(true);
      await write(cluster, '/suite/after-schedule', 'x');
      expect((await checkConvergence(cluster, { prefix: '/suite' })).converged).toBe(true);
    });
  });

  describe(`${name}: a 5-member cluster losing a minority, then a majority`, () => {
    it('keeps writing without a minority, stops without a majority, recovers on restore', async () => {
      await using cluster = await backend.start({ size: 5 });
      const minority = await resolveTarget(cluster, 'minority', seededRandom(3));
      expect(minority).toHaveLength(2);
      await Promise.all(minority.map((m) => m.kill()));
      await write(cluster, '/five/without-minority', 'ok');
      await cluster.restoreAll();
      const majority = await resolveTarget(cluster, 'majority', seededRandom(3));
      expect(majority).toHaveLength(3);
      await Promise.all(majority.map((m) => m.kill()));
      await expect(cluster.waitForLeader({ timeoutMs: 1500 })).rejects.toThrow(/no leader/);
      await cluster.restoreAll();
      await cluster.waitForLeader();
      await write(cluster, '/five/after-majority', 'ok');
      expect((await checkConvergence(cluster, { prefix: '/five' })).converged).toBe(true);
      await cluster.close();
      expect(await backend.leftovers(cluster)).toEqual([]);
    }, 60_000);
  });
}
