/**
 * Lock safety under one-way partitions (issue #15), on the netns backend: 4 lock worker processes, each in a
 * client namespace of its own, loop acquire -> fenced write -> hold -> release on a 3-member cluster while a
 * schedule cuts, one way at a time: the leader's packets to the followers, the followers' to the leader, a
 * holder's client's packets to every member (its requests lost), every member's to a holder's client (its
 * replies lost), and a bridge (two members that reach only the third). Each is healed before the next.
 * Safety: no two holders overlap while both believe they hold, tokens rise, no stale fenced write is
 * accepted. Liveness: after each heal, every worker holds the lock again within a bound from the mechanism.
 * Needs root; skipped otherwise. On a violation, the history report is written and its path printed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Client, KeysAPI } from '@etcdkit/client';
import {
  checkFencedWrites,
  checkNoOverlap,
  checkRisingTokens,
  FaultRecorder,
  type Member,
  type NetnsClient,
  type NetnsCluster,
  now,
  type Operation,
  raftTimings,
  reportViolations,
  startCluster,
  type Violation,
} from '@etcdkit/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import type { FencedValue } from '../../src/index.js';
import { expiryBoundMs, followWorker, stopWorker, type Worker } from './helpers.js';

const canRunNetns = process.platform === 'linux' && process.getuid?.() === 0;
const LOCK_WORKER = fileURLToPath(new URL('../workers/lock-worker.mjs', import.meta.url));
const reportDir = mkdtempSync(join(tmpdir(), 'etcdkit-lock-one-way-'));
/** Set when a violation's report was written: its directory then stays, for whoever reads the failure. */
let reportWritten = false;
afterAll(() => {
  if (!reportWritten) rmSync(reportDir, { recursive: true, force: true });
});

const WORKERS = 4;
/** The lock's TTL, s: the shortest a session allows, so that a cut-off holder's key expires within a step. */
const TTL = 2;
/** How long a worker holds the lock: long enough that a cut aimed at the holder lands while it holds. */
const HOLD_MS = 150;
/** The lock worker's client gives up on a request after this (its `headerTimeoutPerRequest`). */
const HEADER_TIMEOUT_MS = 1000;
const { electionMs } = raftTimings(); // the netns cluster's timings: 'fast'
/** An election takes one or two election timeouts; 40 of them is headroom for a loaded 2-core machine. */
const leaderTimeoutMs = 40 * electionMs;
/**
 * How long a cut of a holder lasts, so that the lock passes on to another worker during it. With its replies
 * lost, the holder's requests still reach etcd: its refreshes apply (unanswered) until its validity deadline
 * stops them, up to a refresh interval after its last answered one, plus a retry after a header timeout;
 * then its key expires (TTL, then the leader's expiry tick) and the next worker is told (headroom).
 */
const CUT_MS = Math.round((TTL * 1000) / 3) + HEADER_TIMEOUT_MS + expiryBoundMs(TTL);
/**
 * After a heal, each worker holds the lock again within: its own key's or a cut-off holder's key's expiry
 * (TTL + expiry tick + a loaded machine's headroom), a request in flight at the heal waiting out its header
 * timeout, and the other workers' holds ahead of it in the queue (each HOLD_MS and a few round trips).
 */
const LIVENESS_MS = expiryBoundMs(TTL) + HEADER_TIMEOUT_MS + WORKERS * (HOLD_MS + 100);

/** One grant as a lock worker reports it once released. */
interface Grant {
  readonly worker: string;
  readonly token: number;
  readonly acquired: number;
  readonly released: number;
  readonly write: string;
  readonly writtenAt: number;
  readonly lost: boolean;
  readonly lostAt: number;
}

/**
 * The safety checks on the workers' grants, with testkit's checkers: each hold runs from its acquisition to
 * its release, or to when its holder learnt it was lost (its signal aborted) if that was first; each fenced
 * write from the acquisition to the write's reply.
 */
function checkGrants(grants: readonly Grant[]): {
  holds: Operation[];
  writes: Operation[];
  violations: Violation[];
} {
  const holds = grants.map((g) => ({
    process: g.worker,
    kind: 'hold',
    start: g.acquired,
    end: g.lost ? g.lostAt : g.released,
    ok: true,
    token: g.token,
  }));
  const writes = grants.map((g) => ({
    process: g.worker,
    kind: 'write',
    start: g.acquired,
    end: g.writtenAt || g.released,
    ok: g.write === 'ok',
    token: g.token,
  }));
  const violations = [...checkNoOverlap(holds), ...checkRisingTokens(holds), ...checkFencedWrites(writes)];
  return { holds, writes, violations };
}

/**
 * Records the fencing token of every write etcd applies to the resource key from now on (a watch from the
 * host, which no fault cuts), until `stop()`, which resolves to them in the order they were applied.
 */
function recordFences(
  endpoints: readonly string[],
  key: string,
): { readonly from: Promise<number>; stop(): Promise<number[]> } {
  const client = new Client({ endpoints: [...endpoints] });
  const keys = new KeysAPI(client);
  const fences: number[] = [];
  const end = new AbortController();
  let started: (at: number) => void = () => {};
  const from = new Promise<number>((resolve) => {
    started = resolve;
  });
  const done = (async () => {
    const read = await keys.get('/', { quorum: true });
    started(now()); // every write acknowledged to a grant acquired after this is recorded
    const watcher = keys.watcher(key, { afterIndex: read.index });
    try {
      for (;;) {
        const event = await watcher.next({ signal: end.signal });
        fences.push((JSON.parse(event.node!.value) as FencedValue).fence);
      }
    } catch (error) {
      if (!end.signal.aborted) throw error;
    } finally {
      watcher.close();
    }
  })();
  return {
    from,
    async stop() {
      end.abort();
      await done;
      await client.close();
      return fences;
    },
  };
}

/** Waits until a leader is agreed on and every member answers, after a heal. */
async function settle(cluster: NetnsCluster): Promise<Member> {
  const leader = await cluster.waitForLeader({ timeoutMs: leaderTimeoutMs });
  await Promise.all(cluster.members.map((m) => m.waitHealthy({ timeoutMs: leaderTimeoutMs })));
  return leader;
}

/** The next worker to announce it holds the lock after now: its index, and the grant's token. */
async function nextHolder(workers: readonly Worker[]): Promise<{ index: number; token: number }> {
  const marks = workers.map((w) => w.events.length);
  const deadline = performance.now() + LIVENESS_MS;
  while (performance.now() < deadline) {
    for (const [index, worker] of workers.entries()) {
      const event = worker.events.slice(marks[index]).find((e) => 'holding' in e);
      if (event) return { index, token: event.holding as number };
    }
    await sleep(2);
  }
  throw new Error(`no worker acquired the lock in ${LIVENESS_MS} ms`);
}

/** Resolves once every worker has acquired the lock after `since` (wall-clock ms); rejects after LIVENESS_MS. */
async function everyoneHoldsAgain(workers: readonly Worker[], since: number): Promise<number> {
  const acquiredAfter = (e: Record<string, unknown>): boolean =>
    typeof e.acquired === 'number' && e.acquired > since;
  await Promise.all(workers.map((w) => w.next(acquiredAfter, LIVENESS_MS)));
  return now() - since;
}

describe.skipIf(!canRunNetns)('lock safety under one-way partitions (netns)', () => {
  it('holders never overlap while both believe they hold, tokens rise, stale writes are refused, and every worker holds again after each heal', {
    timeout: 90_000,
  }, async () => {
    await using cluster = await startCluster({ backend: 'netns', size: 3 });
    const { network } = cluster;
    const name = '/one-way/lock';
    const endpoints = cluster.clientURLs.join(',');
    const clients: NetnsClient[] = [];
    const workers: Worker[] = [];
    const recorder = new FaultRecorder();
    const recovery: Record<string, number> = {};
    try {
      for (let i = 0; i < WORKERS; i++) {
        const client = await network.client(`w${i}`);
        clients.push(client);
        const args = [LOCK_WORKER, 'loop', endpoints, name, String(TTL), '1000000', String(HOLD_MS)];
        workers.push(
          followWorker(client.spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] })),
        );
      }
      await everyoneHoldsAgain(workers, 0);
      // every write etcd applies to the fenced resource, as the host (never cut) sees it: also a write whose
      // reply was lost, or that a cut-off worker's kernel sent again after the worker gave up on it
      const applied = recordFences(cluster.clientURLs, `${name}-resource`);
      const members = cluster.members;

      /**
       * Applies `cut` (recorded as `fault` on `target`), keeps it `holdMs`, heals, and checks that every worker
       * holds the lock again in time. Resolves to when the cut began and ended.
       */
      const step = async (
        name: string,
        fault: string,
        target: string,
        cut: () => Promise<void>,
        holdMs: number,
      ): Promise<{ start: number; end: number }> => {
        const start = now();
        const end = recorder.begin(fault, target, start);
        await cut();
        await sleep(holdMs);
        await network.heal();
        const healedAt = now();
        end(healedAt);
        await settle(cluster);
        recovery[name] = Math.round(await everyoneHoldsAgain(workers, healedAt));
        return { start, end: healedAt };
      };
      /**
       * Cuts off the next holder while it holds (`direction`: its packets to the members, or theirs to it) and
       * tells it to go on holding until it learns it lost the lock. Resolves to its grant and the cut's times.
       */
      const cutHolder = async (direction: 'requests' | 'replies') => {
        const { index, token } = await holderHoldingOn();
        const client = clients[index]!;
        const cut =
          direction === 'requests'
            ? await step(
                'holder -> members',
                'cut',
                `w${index} -> members (its requests lost)`,
                () => network.cut([client], members),
                CUT_MS,
              )
            : await step(
                'members -> holder',
                'cut',
                `members -> w${index} (its replies lost)`,
                () => network.cut(members, [client]),
                CUT_MS,
              );
        const grant = await workers[index]!.next((e) => e.token === token, LIVENESS_MS);
        return { worker: `w${index}`, grant: grant as unknown as Grant, cut };
      };
      /**
       * The next holder, told to hold on until it learns it lost the lock, once it has said it does (a signal
       * that reaches a worker after its hold ended is for no other hold: then the next holder is asked).
       */
      const holderHoldingOn = async (): Promise<{ index: number; token: number }> => {
        for (let attempt = 1; ; attempt++) {
          const { index, token } = await nextHolder(workers);
          process.kill(workers[index]!.child.pid!, 'SIGUSR1');
          const answer = await workers[index]!.next((e) => e.holdingOn === token || e.token === token);
          if (answer.holdingOn === token) return { index, token };
          if (attempt >= 5) throw new Error('no holder took the signal to hold on in 5 tries');
        }
      };
      /** Cuts between members last long enough for an election and some grants behind it. */
      const clusterCutMs = 8 * electionMs;

      let leader = await settle(cluster);
      let followers = members.filter((m) => m !== leader);
      const names = (list: readonly Member[]): string => list.map((m) => m.name).join(', ');
      await step(
        'leader -> followers',
        'cut',
        `${leader.name} -> ${names(followers)}`,
        () => network.cut([leader], followers),
        clusterCutMs,
      );

      leader = await settle(cluster);
      followers = members.filter((m) => m !== leader);
      await step(
        'followers -> leader',
        'cut',
        `${names(followers)} -> ${leader.name}`,
        () => network.cut(followers, [leader]),
        clusterCutMs,
      );

      const cutOff = [await cutHolder('requests'), await cutHolder('replies')];

      leader = await settle(cluster);
      await step(
        'bridge',
        'bridge',
        `${leader.name} bridges ${names(members.filter((m) => m !== leader))}`,
        () => network.bridge(leader),
        clusterCutMs,
      );

      const grants = workers.flatMap((w, i) =>
        w.events.filter((e) => 'token' in e).map((e) => ({ ...(e as unknown as Grant), worker: `w${i}` })),
      );
      const { holds, writes, violations } = checkGrants(grants);
      const report = join(reportDir, 'lock-one-way.html');
      const input = {
        title: 'lock under one-way partitions',
        operations: [...holds, ...writes],
        holds,
        faults: recorder.faults,
        violations,
      };
      if (await reportViolations(report, input)) {
        reportWritten = true;
        console.log(`history report: ${report}`);
      }
      const lost = grants.filter((g) => g.lost).length;
      const refused = grants.filter((g) => g.write !== 'ok').length;
      console.log(
        `${grants.length} grants (${lost} lost by their holder, ${refused} fenced writes refused); ` +
          `every worker held again after each heal in ${JSON.stringify(recovery)} ms (bound ${LIVENESS_MS} ms)`,
      );
      expect(violations).toEqual([]);
      const recordedFrom = await applied.from;
      const fences = await applied.stop();
      const acknowledged = grants.filter((g) => g.write === 'ok' && g.acquired > recordedFrom);
      expect(fences.length).toBeGreaterThanOrEqual(acknowledged.length);
      expect(
        fences.filter((fence, i) => i > 0 && fence < fences[i - 1]!),
        'applied writes whose token fell',
      ).toEqual([]);
      // each cut-off holder learnt it lost the lock (the validity deadline), and meanwhile another worker took it
      for (const { worker, grant, cut } of cutOff) {
        expect(grant, worker).toMatchObject({ lost: true });
        const taken = grants.filter(
          (g) => g.worker !== worker && g.acquired > cut.start && g.acquired < cut.end,
        );
        expect(taken.length, `grants to others while ${worker} was cut off`).toBeGreaterThan(0);
      }
      expect(new Set(grants.map((g) => g.token)).size).toBe(grants.length);
      expect(grants.length).toBeGreaterThan(5 * WORKERS);
      expect(workers.every((w) => w.child.exitCode === null)).toBe(true);
    } finally {
      for (const worker of workers) stopWorker(worker);
      await Promise.all(clients.map((client) => client.close()));
    }
  });

  it('the checks can fail: an overlap of two believers, a falling token and a stale accepted write', () => {
    const grant = { write: 'ok', lost: false, lostAt: 0 };
    const { violations } = checkGrants([
      { worker: 'w0', token: 5, acquired: 0, released: 10, writtenAt: 8, ...grant },
      { worker: 'w1', token: 7, acquired: 5, released: 12, writtenAt: 6, ...grant },
      { worker: 'w2', token: 6, acquired: 20, released: 30, writtenAt: 25, ...grant },
    ]);
    expect(new Set(violations.map((v) => v.checker))).toEqual(
      new Set(['fenced-writes', 'no-overlap', 'rising-tokens']),
    );
    // a holder that learnt it lost the lock before the next one acquired it is no overlap
    const { violations: none } = checkGrants([
      { worker: 'w0', token: 5, acquired: 0, released: 10, writtenAt: 2, write: 'ok', lost: true, lostAt: 4 },
      { worker: 'w1', token: 7, acquired: 5, released: 12, writtenAt: 6, ...grant },
    ]);
    expect(none).toEqual([]);
  });
});
