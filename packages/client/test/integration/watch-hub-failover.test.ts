import { randomBytes } from 'node:crypto';
import { type Cluster, type Member, startCluster } from '@etcdkit/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '../../src/index.js';
import { leaderAndFollowers, pinnedClient } from '../order.js';

// 'fast' raft timings: heartbeat 50 ms, election timeout 250 ms.
let cluster: Cluster;
beforeAll(async () => {
  cluster = await startCluster({ size: 3 });
});
afterAll(() => cluster?.close());

const clients: Client[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) await client.close();
  await cluster.restoreAll();
});

const WATCHERS = 1000;
const KEYS = 50;
const ROUNDS = 4;

/**
 * 1000 shared watchers below one directory wait on the member their client is pinned to; the member fails
 * (`fault`) and the writes go on through a survivor. Every watcher must get every write to its key exactly once,
 * in order, and the client must hold a handful of long-polls, not one per watcher.
 */
async function everyEventOnce(fault: (member: Member) => Promise<void>): Promise<void> {
  const { leader, a, b } = await leaderAndFollowers(cluster);
  // the watchers' client is pinned to a follower; the writer to the leader
  const { keys } = pinnedClient([a, b, leader], { watchLivenessInterval: 500 }, clients);
  const { keys: writer } = pinnedClient([leader, b, a], {}, clients);
  const base = `/hub-failover-${randomBytes(4).toString('hex')}`;
  const start = await writer.set(`${base}/k0`, 'start');
  const watchers = Array.from({ length: WATCHERS }, (_, i) =>
    keys.watcher(`${base}/k${i % KEYS}`, { afterIndex: start.index, shared: true }),
  );
  const seen = watchers.map(() => [] as number[]);
  const loops = watchers.map(async (watcher, i) => {
    for (let n = 0; n < ROUNDS; n++) seen[i]!.push(Number((await watcher.next()).node!.value));
  });
  const written = async (round: number) => {
    await Promise.all(Array.from({ length: KEYS }, (_, k) => writer.set(`${base}/k${k}`, String(round))));
  };
  await written(0);
  await fault(a);
  for (let round = 1; round < ROUNDS; round++) await written(round);
  await Promise.all(loops);
  for (const events of seen) expect(events).toEqual([0, 1, 2, 3]);
  for (const watcher of watchers) watcher.close();
}

describe('1000 shared watchers when the member their long-poll is on fails', () => {
  it('SIGKILL: every watcher gets every later event exactly once', async () => {
    await everyEventOnce((member) => member.kill());
  });

  it('SIGSTOP: every watcher gets every later event exactly once', async () => {
    await everyEventOnce((member) => member.pause());
  });
});
