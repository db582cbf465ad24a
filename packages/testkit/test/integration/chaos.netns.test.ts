/**
 * Chaos on the netns backend: concurrent clients run quorum reads, sets, compare-and-swaps, creates, deletes
 * and createInOrder on a few keys of a 3-member cluster (and local reads beside them) while a seeded schedule
 * partitions the leader from the rest both ways, then one way, loses packets on a member, and SIGKILLs the
 * leader and restarts it. The quorum operations must be linearizable; local reads may be stale (etcd v2 allows
 * it) and are reported as a statistic. Needs root; skipped otherwise.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import {
  checkKvLinearizability,
  FaultRecorder,
  KvHistory,
  type KvOperation,
  type Member,
  type NetnsCluster,
  type ReportFault,
  raftTimings,
  reportViolations,
  seededRandom,
  startCluster,
} from '../../src/index.js';
import { importClient, type KvWorkload, runKvWorker } from './kv-workload.js';
import { canRunNetns, netnsLeftovers, runFacts } from './netns-helpers.js';

const dataDirRoot = mkdtempSync(join(tmpdir(), 'etcdkit-chaos-'));
afterAll(() => rmSync(dataDirRoot, { recursive: true, force: true }));
/** Where the history report goes when the checker finds a violation (printed then). */
const reportDir = mkdtempSync(join(tmpdir(), 'etcdkit-chaos-report-'));
/** Set when the run's own history failed the check: its report then stays, for whoever reads the failure. */
let reportKept = false;
afterAll(() => {
  if (!reportKept) rmSync(reportDir, { recursive: true, force: true });
});

/** The schedule's seed (targets, directions, hold times); set ETCDKIT_CHAOS_SEED to replay another. */
const SEED = Number(process.env.ETCDKIT_CHAOS_SEED ?? 15);
const WORKERS = 6;
const KEYS = ['/chaos/k0', '/chaos/k1', '/chaos/k2'];
const DIR = '/chaos/queue';

const { electionMs } = raftTimings(); // the netns cluster's timings: 'fast'
/** An election takes one or two election timeouts; 40 of them is headroom for a loaded 2-core machine. */
const leaderTimeoutMs = 40 * electionMs;
/**
 * A client gives up on a request after this: long enough for a request to wait out an election (one or two
 * election timeouts), short enough that a worker stuck on a cut-off member goes on. A write it gives up on is
 * recorded as pending, which the checker handles at any value of this bound.
 */
const requestTimeoutMs = 4 * electionMs;

/** The workload of each process (paced: about 40 operations a second a worker keeps the search small). */
const WORKLOAD: KvWorkload = { keys: KEYS, dir: DIR, pauseMs: (random) => 10 + random * 30 };

/** Waits until a leader is agreed on and every member answers, after a fault is healed. */
async function settle(cluster: NetnsCluster): Promise<void> {
  await cluster.waitForLeader({ timeoutMs: leaderTimeoutMs });
  await Promise.all(cluster.members.map((m) => m.waitHealthy({ timeoutMs: leaderTimeoutMs })));
}

/**
 * The seeded schedule, each fault healed before the next: the leader partitioned from the rest (both ways),
 * a one-way partition between the leader and the rest (the seed picks the direction), packet loss on a member
 * (the seed picks it), and a SIGKILL of the leader, restarted on its data. Each fault that takes the leader
 * away waits for the others to elect a new one. Resolves to what was done, as text and as the history
 * report's fault bands.
 */
async function chaos(
  cluster: NetnsCluster,
  seed: number,
): Promise<{ log: string[]; faults: readonly ReportFault[] }> {
  const random = seededRandom(seed);
  const { network } = cluster;
  const log: string[] = [];
  const recorder = new FaultRecorder();
  let end = (): void => {};
  const t0 = performance.now();
  const note = (text: string): void => {
    log.push(`${Math.round(performance.now() - t0)} ms ${text}`);
  };
  /** A fault begins now; the next `healed()` (or restart) ends it. */
  const begin = (name: string, target: string): void => {
    end = recorder.begin(name, target);
  };
  /** A fault lasts 4 to 8 election timeouts: long enough for an election and some writes behind it. */
  const hold = (): Promise<void> => sleep((4 + 4 * random()) * electionMs);
  /** Healthy time between faults, for operations on a whole cluster. */
  const gap = (): Promise<void> => sleep(2 * electionMs);
  const newLeader = async (old: Member): Promise<void> => {
    const next = await cluster.waitForLeader({ exclude: [old], timeoutMs: leaderTimeoutMs });
    note(`${next.name} leads`);
  };
  /** Undoes the network fault, waits for the cluster to settle and leaves a healthy gap. */
  const healed = async (): Promise<void> => {
    await network.heal();
    end();
    note('healed');
    await settle(cluster);
    await gap();
  };

  await gap();
  let leader = await cluster.waitForLeader({ timeoutMs: leaderTimeoutMs });
  let others = cluster.members.filter((m) => m !== leader);
  note(`partition ${leader.name} | ${others.map((m) => m.name).join(', ')}`);
  begin('partition', `${leader.name} | ${others.map((m) => m.name).join(', ')}`);
  await network.partition([[leader], others]);
  await newLeader(leader);
  await hold();
  await healed();

  leader = await cluster.waitForLeader({ timeoutMs: leaderTimeoutMs });
  others = cluster.members.filter((m) => m !== leader);
  if (random() < 0.5) {
    note(`one-way: ${leader.name} hears nothing from ${others.map((m) => m.name).join(', ')}`);
    begin('cut', `${others.map((m) => m.name).join(', ')} -> ${leader.name}`);
    await network.cut(others, [leader]);
  } else {
    note(`one-way: ${others.map((m) => m.name).join(', ')} hear nothing from ${leader.name}`);
    begin('cut', `${leader.name} -> ${others.map((m) => m.name).join(', ')}`);
    await network.cut([leader], others);
  }
  await newLeader(leader);
  await hold();
  await healed();

  const lossy = cluster.members[Math.floor(random() * cluster.members.length)]!;
  const fraction = 0.2 + 0.1 * Math.floor(random() * 3);
  note(
    `loss ${fraction.toFixed(1)} on ${lossy.name}${lossy === (await cluster.leader()) ? ' (the leader)' : ''}`,
  );
  begin('loss', lossy.name);
  await network.loss([lossy], fraction);
  await hold();
  await healed();

  leader = await cluster.waitForLeader({ timeoutMs: leaderTimeoutMs });
  note(`SIGKILL ${leader.name}`);
  begin('kill', leader.name);
  await leader.kill();
  await newLeader(leader);
  await hold();
  await leader.restart();
  end();
  note(`restarted ${leader.name}`);
  await settle(cluster);
  await gap();
  return { log, faults: recorder.faults };
}

/**
 * The history with one fabricated quorum read of a key, invoked just after the key's second successful write
 * completed, that returns what its first one wrote: a stale read, which no linearization explains.
 */
function withStaleQuorumRead(ops: readonly KvOperation[]): { key: string; ops: KvOperation[] } | undefined {
  for (const key of KEYS) {
    const writes = ops
      .filter(
        (op) => ['set', 'cas', 'create'].includes(op.input.type) && 'key' in op.input && op.input.key === key,
      )
      .filter((op) => op.output?.status === 'ok' && op.output.index !== undefined)
      .sort((a, b) => a.end - b.end);
    const [first, second] = writes;
    if (!first || !second || !('value' in first.input)) continue;
    const index = (op: KvOperation): number => (op.output?.status === 'ok' && op.output.index) || 0;
    if (!(index(second) > index(first))) continue;
    const read: KvOperation = {
      process: 'fabricated',
      start: second.end + 0.001,
      end: second.end + 0.002,
      input: { type: 'get', key },
      output: { status: 'ok', value: first.input.value, index: index(first) },
    };
    return { key, ops: [...ops, read] };
  }
  return undefined;
}

describe.skipIf(!canRunNetns)('chaos on the netns backend', () => {
  it('quorum operations stay linearizable under partitions, packet loss and leader kills', {
    timeout: 60_000,
  }, async () => {
    const { Client, KeysAPI } = await importClient();
    const cluster = await startCluster({ backend: 'netns', size: 3, dataDirRoot });
    const run = runFacts(cluster.network);
    const pids = new Set<number>();
    const remember = setInterval(() => {
      for (const member of cluster.members) if (member.pid) pids.add(member.pid);
    }, 20);
    const history = new KvHistory();
    const stop = new AbortController();
    // One endpoint a client: the client never sends a write twice, so each write takes effect at most once.
    const clients = Array.from(
      { length: WORKERS },
      (_, i) =>
        new Client({
          endpoints: [cluster.clientURLs[i % cluster.clientURLs.length]!],
          headerTimeoutPerRequest: requestTimeoutMs,
        }),
    );
    let log: string[] = [];
    let faults: readonly ReportFault[] = [];
    try {
      const workers = clients.map((client, i) =>
        runKvWorker(
          `p${i}`,
          history.recorder(`p${i}`, new KeysAPI(client)),
          SEED * 100 + i,
          WORKLOAD,
          stop.signal,
        ),
      );
      try {
        ({ log, faults } = await chaos(cluster, SEED));
      } finally {
        stop.abort();
        await Promise.all(workers);
      }
    } finally {
      await Promise.all(clients.map((client) => client.close()));
      clearInterval(remember);
      for (const member of cluster.members) if (member.pid) pids.add(member.pid);
      await cluster.close();
    }
    expect(netnsLeftovers(run, pids, dataDirRoot)).toEqual([]);

    const ops = history.operations;
    const started = performance.now();
    const result = checkKvLinearizability(history, { timeoutMs: 20_000 });
    const checkMs = performance.now() - started;
    const count = (type: string): number =>
      ops.filter((op) => op.input.type === type && op.output?.status === 'ok').length;
    const { localReads, staleLocalReads } = result.stats;
    const share = localReads ? ((100 * staleLocalReads) / localReads).toFixed(1) : '0';
    console.log(
      `seed ${SEED}: ${log.join('; ')}\n` +
        `${ops.length} operations (gets ${count('get')}, sets ${count('set')}, cas ${count('cas')}, ` +
        `creates ${count('create')}, deletes ${count('delete')}, createInOrder ${count('createInOrder')} ok); ` +
        `stats ${JSON.stringify(result.stats)}; checked in ${Math.round(checkMs)} ms\n` +
        `local reads: ${staleLocalReads} of ${localReads} stale (${share}%): older than a write or quorum ` +
        'read of the key that had completed before they began (allowed by etcd v2)',
    );
    if (result.ok === false) console.log(result.counterexample.text);
    const report = join(reportDir, `chaos-${SEED}.html`);
    const title = `chaos, seed ${SEED}`;
    if (await reportViolations(report, { title, operations: history, faults, linearizability: result })) {
      reportKept = true;
      console.log(`history report: ${report}`);
    }
    expect(result).toMatchObject({ ok: true });
    expect(result.stats.checked).toBeGreaterThan(300);
    expect(count('cas')).toBeGreaterThan(0);
    expect(count('createInOrder')).toBeGreaterThan(0);
    expect(localReads).toBeGreaterThan(0);

    // The same check fails on the same history with one stale quorum read in it.
    const broken = withStaleQuorumRead(ops);
    expect(broken).toBeDefined();
    const failed = checkKvLinearizability(broken!.ops, { timeoutMs: 10_000, shrinkChecks: 50 });
    expect(failed).toMatchObject({ ok: false, key: broken!.key });
    if (failed.ok === false)
      expect(failed.counterexample.ops.some((op) => op.process === 'fabricated')).toBe(true);
    // ... and its report shows the faults as bands and outlines the counterexample
    const input = { title, operations: broken!.ops, faults, linearizability: failed };
    const fabricated = join(reportDir, `chaos-${SEED}-fabricated.html`);
    expect(await reportViolations(fabricated, input)).toBe(true);
    const page = readFileSync(fabricated, 'utf8');
    const timeline = page.slice(page.indexOf('<svg class="timeline"'));
    expect(faults.map((fault) => fault.name)).toEqual(['partition', 'cut', 'loss', 'kill']);
    expect(faults.every((fault) => fault.end !== undefined && fault.end > fault.start)).toBe(true);
    for (const fault of faults)
      expect(timeline).toContain(`<rect class="fault-band" data-fault="${fault.name}"`);
    expect(timeline).toMatch(/<rect class="op [^"]* cx"/);
  });
});
