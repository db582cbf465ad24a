import { type Cluster, startCluster } from '@etcdkit/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorker, stopWorker, type Worker } from './helpers.js';

/** One grant as a worker reports it. */
interface Grant {
  token: number;
  acquired: number;
  released: number;
  write: string;
  writtenAt: number;
  lost: boolean;
}

let cluster: Cluster;
beforeAll(async () => {
  cluster = await startCluster({ size: 3 });
});
afterAll(() => cluster?.close());

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The lock-safety checker: the properties every run must keep, whatever the faults.
 * Returns the list of violations (empty when safe).
 */
function checkLockHistory(grants: Grant[]): string[] {
  const violations: string[] = [];
  const byToken = [...grants].sort((a, b) => a.token - b.token);
  for (let i = 1; i < byToken.length; i++) {
    const before = byToken[i - 1]!;
    const after = byToken[i]!;
    if (after.token <= before.token)
      violations.push(`token ${after.token} does not rise after ${before.token}`);
    // overlap is only allowed if the earlier holder could not act on it: it knew it lost, or its write was refused
    const overlap = after.acquired < before.released;
    if (overlap && !(before.lost || before.write !== 'ok' || before.writtenAt <= after.acquired)) {
      violations.push(`holders ${before.token} and ${after.token} overlap while both believe they hold`);
    }
  }
  // no stale fenced write accepted: accepted writes, in time order, carry non-decreasing tokens
  const accepted = grants.filter((g) => g.write === 'ok').sort((a, b) => a.writtenAt - b.writtenAt);
  for (let i = 1; i < accepted.length; i++) {
    if (accepted[i]!.token < accepted[i - 1]!.token) {
      violations.push(`stale write of token ${accepted[i]!.token} accepted after ${accepted[i - 1]!.token}`);
    }
  }
  return violations;
}

describe('lock safety under faults', () => {
  it('4 worker processes loop acquire -> fenced write -> release while the etcd leader dies and a holder pauses past its TTL', async () => {
    const name = '/safety/lock';
    const workers: Worker[] = Array.from({ length: 4 }, () =>
      startWorker(['loop', cluster.clientURLs.join(','), name, '2', '12']),
    );
    try {
      // fault schedule
      await workers[0]!.next((e) => typeof e.token === 'number', 20_000);
      const leader = await cluster.waitForLeader();
      await leader.kill();
      await pause(500);
      // pause whichever worker runs, for longer than the TTL, then let it go on
      const victim = workers[1]!;
      process.kill(victim.child.pid!, 'SIGSTOP');
      await pause(3000);
      process.kill(victim.child.pid!, 'SIGCONT');
      await leader.restart({ waitHealthy: false });

      // liveness: every waiter finishes
      const codes = await Promise.race([
        Promise.all(workers.map((worker) => worker.exited)),
        pause(60_000).then(() => 'timeout'),
      ]);
      expect(codes).toEqual([0, 0, 0, 0]);
      const grants = workers.flatMap(
        (worker) => worker.events.filter((e) => 'token' in e) as unknown as Grant[],
      );
      expect(grants).toHaveLength(4 * 12);
      expect(checkLockHistory(grants)).toEqual([]);
      expect(new Set(grants.map((g) => g.token)).size).toBe(grants.length);
    } finally {
      for (const worker of workers) stopWorker(worker);
      await cluster.healAll();
    }
  });

  it('the checker can fail: it flags overlapping believers and stale accepted writes', () => {
    const ok = { write: 'ok', lost: false };
    expect(
      checkLockHistory([
        { token: 5, acquired: 0, released: 10, writtenAt: 8, ...ok },
        { token: 7, acquired: 5, released: 12, writtenAt: 6, ...ok },
      ]),
    ).toEqual([
      'holders 5 and 7 overlap while both believe they hold',
      'stale write of token 5 accepted after 7',
    ]);
  });
});
