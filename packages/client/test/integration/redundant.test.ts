import { randomBytes } from 'node:crypto';
import diagnostics_channel from 'node:diagnostics_channel';
import { type Cluster, type Member, startCluster } from '@etcdkit/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  Client,
  ClientChannels,
  type ClientConfig,
  type MemberHealthMessage,
  type Watcher,
} from '../../src/index.js';
import { leaderAndFollowers, pinnedClient } from '../order.js';

// Redundant watches (`WatcherOptions.redundant`) and fanned-out writes (`CallOptions.fanOut`) against a member
// frozen with SIGSTOP, on a 3-member cluster with 'fast' raft timings (heartbeat 50 ms, election 250 ms). The
// clients' health checks are set far out (60 s) and their hedges too (10 s): neither can be what frees a call
// here, so every bound below is the mechanism's (the other member tells the event, or answers, at once) with
// headroom for a loaded CI machine.

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

/** Far beyond every bound of these tests. */
const NEVER_MS = 60_000;
/** The retrySafeTimeout of the watchers' clients: a wait behind by twice this, at least 1 s, is reported. */
const RETRY_SAFE_MS = 200;
/** Time for a wait to reach etcd before the fault. */
const SETTLE_MS = 150;
/** The most an event may take through the member that was not frozen, on a loaded 2-core machine. */
const PROMPT_MS = 1500;

const watcherConfig: Partial<ClientConfig> = {
  watchLivenessInterval: NEVER_MS,
  retrySafeTimeout: RETRY_SAFE_MS,
  headerTimeoutPerRequest: 20_000,
};

const clientWith = (order: readonly Member[], config: Partial<ClientConfig> = watcherConfig) =>
  pinnedClient(order, config, clients);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const unique = (name: string) => `/redundant-${name}-${randomBytes(3).toString('hex')}`;

/** A watcher's next wait, and whether it has told an event yet (it settles on close too, without telling). */
function nextOf(watcher: Watcher): { told: () => boolean; ended: Promise<void> } {
  let told = false;
  const ended = watcher.next().then(
    () => {
      told = true;
    },
    () => {},
  );
  return { told: () => told, ended };
}

/** Runs `work` with the member:health messages published meanwhile. */
async function withHealthMessages(work: (health: MemberHealthMessage[]) => Promise<void>): Promise<void> {
  const health: MemberHealthMessage[] = [];
  const onHealth = (message: unknown) => health.push(message as MemberHealthMessage);
  diagnostics_channel.subscribe(ClientChannels.memberHealth, onHealth);
  try {
    await work(health);
  } finally {
    diagnostics_channel.unsubscribe(ClientChannels.memberHealth, onHealth);
  }
}

describe('redundant watchers', () => {
  it('tell an event through another member while the pinned one is frozen; a plain watcher does not', async () => {
    const { leader, a, b } = await leaderAndFollowers(cluster);
    const { keys } = clientWith([a, b, leader]);
    const { keys: plainKeys } = clientWith([a, b, leader]);
    const { keys: writer } = clientWith([leader], {});
    const key = unique('alone');
    const start = await writer.set(key, 'start');
    await withHealthMessages(async (health) => {
      const redundant = keys.watcher(key, { afterIndex: start.node!.modifiedIndex, redundant: true });
      const plain = plainKeys.watcher(key, { afterIndex: start.node!.modifiedIndex });
      const told = redundant.next();
      const plainNext = nextOf(plain);
      await sleep(SETTLE_MS);
      await a.pause();
      const t0 = performance.now();
      await writer.set(key, 'v');
      expect(await told).toMatchObject({ node: { value: 'v' } });
      expect(performance.now() - t0).toBeLessThan(PROMPT_MS);
      // the frozen member had not told it within the grace (2 x retrySafeTimeout, at least 1 s): now suspect
      await sleep(Math.max(2 * RETRY_SAFE_MS, 1000) + 500);
      expect(health).toContainEqual(expect.objectContaining({ endpoint: a.clientURL, state: 'suspect' }));
      // the plain watcher of the other client waits on the frozen member, with nothing to tell it
      expect(plainNext.told()).toBe(false);
      plain.close();
      await plainNext.ended;
      redundant.close();
    });
  });

  it("on a healthy cluster, and with no timeouts of the client's own: no member is found behind", async () => {
    const { leader, a, b } = await leaderAndFollowers(cluster);
    const { keys } = clientWith([a, b, leader], { headerTimeoutPerRequest: 0, retrySafeTimeout: 0 });
    const { keys: writer } = clientWith([leader], {});
    const key = unique('healthy');
    await withHealthMessages(async (health) => {
      const start = await writer.set(key, 'start');
      const watcher = keys.watcher(key, { afterIndex: start.node!.modifiedIndex, redundant: true });
      for (let i = 0; i < 5; i++) {
        const next = watcher.next();
        await writer.set(key, String(i));
        expect(await next).toMatchObject({ node: { value: String(i) } });
      }
      await sleep(500);
      expect(health).toEqual([]);
      watcher.close();
    });
  });

  it('shared in one long-poll: every watcher gets every event exactly once, in order, across the freeze', async () => {
    const { leader, a, b } = await leaderAndFollowers(cluster);
    const { keys } = clientWith([a, b, leader], { ...watcherConfig, sharedWatchThreshold: 1 });
    const { keys: writer } = clientWith([leader], {});
    const dir = unique('shared');
    const KEYS = 20;
    const ROUNDS = 4;
    const start = await writer.set(`${dir}/k0`, 'start');
    const watchers = Array.from({ length: KEYS }, (_, k) =>
      keys.watcher(`${dir}/k${k}`, { afterIndex: start.index, shared: true, redundant: true }),
    );
    const seen = watchers.map(() => [] as number[]);
    const loops = watchers.map(async (watcher, k) => {
      for (let n = 0; n < ROUNDS; n++) seen[k]!.push(Number((await watcher.next()).node!.value));
    });
    const round = (n: number) =>
      Promise.all(Array.from({ length: KEYS }, (_, k) => writer.set(`${dir}/k${k}`, String(n))));
    await round(0);
    await round(1);
    await sleep(SETTLE_MS);
    await a.pause();
    const t0 = performance.now();
    await round(2);
    await round(3);
    await Promise.all(loops);
    expect(performance.now() - t0).toBeLessThan(PROMPT_MS);
    for (const events of seen) expect(events).toEqual([0, 1, 2, 3]);
    for (const watcher of watchers) watcher.close();
  });
});

describe('fanOut', () => {
  it('a retrySafe delete sent to two members at once answers at once while the pinned member is frozen', async () => {
    const { leader, a, b } = await leaderAndFollowers(cluster);
    const { keys } = clientWith([a, b, leader], {
      retrySafeTimeout: 10_000,
      headerTimeoutPerRequest: 20_000,
    });
    const key = unique('release');
    const written = await keys.set(key, 'held');
    await a.pause();
    const t0 = performance.now();
    const deleted = await keys.delete(key, {
      prevIndex: written.node!.modifiedIndex,
      retrySafe: true,
      fanOut: 2,
    });
    // one copy alone would have waited its 10 s hedge on the frozen member
    expect(performance.now() - t0).toBeLessThan(PROMPT_MS);
    expect(deleted).toMatchObject({ action: 'compareAndDelete' });
  });

  it('on a healthy cluster: one copy deletes, the other meets its effect; the first reply wins', async () => {
    const { leader, a, b } = await leaderAndFollowers(cluster);
    const { keys } = clientWith([a, b, leader], {});
    for (let i = 0; i < 5; i++) {
      const key = unique(`healthy-${i}`);
      const written = await keys.set(key, 'held');
      const outcome = await keys
        .delete(key, { prevIndex: written.node!.modifiedIndex, retrySafe: true, fanOut: 2 })
        .catch((error: unknown) => error);
      // the copy applied second finds the key gone (100): as the docs say, a repeat meets its own effect
      if ((outcome as { errorCode?: number }).errorCode !== 100)
        expect(outcome).toMatchObject({ action: 'compareAndDelete' });
      expect(await keys.get(key, { quorum: true }).catch((error: unknown) => error)).toMatchObject({
        errorCode: 100,
      });
    }
  });
});

describe('redundancy: false', () => {
  it('is a boolean; fanOut a whole number >= 1', async () => {
    expect(() => new Client({ endpoints: cluster.clientURLs, redundancy: 'no' as never })).toThrow(
      RangeError,
    );
    const { keys } = clientWith(cluster.members, {});
    for (const fanOut of [Number.NaN, 0, 1.5])
      await expect(keys.delete('/redundant-odd', { retrySafe: true, fanOut })).rejects.toThrow(RangeError);
  });

  it('sends every wait and call to one member at a time, whatever its options ask', async () => {
    const { leader, a, b } = await leaderAndFollowers(cluster);
    const { keys } = clientWith([a, b, leader], {
      ...watcherConfig,
      retrySafeTimeout: 1000,
      redundancy: false,
    });
    const { keys: writer } = clientWith([leader], {});
    const key = unique('off');
    const start = await writer.set(key, 'start');
    const watcher = keys.watcher(key, { afterIndex: start.node!.modifiedIndex, redundant: true });
    const next = nextOf(watcher);
    await sleep(SETTLE_MS);
    await a.pause();
    const written = await writer.set(key, 'v');
    const t0 = performance.now();
    const deleted = await keys.delete(key, {
      prevIndex: written.node!.modifiedIndex,
      retrySafe: true,
      fanOut: 2,
    });
    // one copy: it waited its hedge (retrySafeTimeout) on the frozen member
    expect(performance.now() - t0).toBeGreaterThanOrEqual(1000 - 2);
    expect(deleted).toMatchObject({ action: 'compareAndDelete' });
    expect(next.told()).toBe(false); // the one wait is on the frozen member
    watcher.close();
    await next.ended;
  });
});
