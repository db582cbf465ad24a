import { randomBytes } from 'node:crypto';
import diagnostics_channel from 'node:diagnostics_channel';
import { type Cluster, type Member, startCluster } from '@etcdkit/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type Client,
  ClientChannels,
  type ClientConfig,
  ClusterError,
  DEFAULT_RETRY_SAFE_TIMEOUT,
  type FailoverMessage,
  HeaderTimeoutError,
  MIN_RETRY_SAFE_TIMEOUT,
} from '../../src/index.js';
import { leaderAndFollowers, pinnedClient, pinOrder } from '../order.js';

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

/** A client whose endpoints are `order` (the first pinned). */
const clientWith = (order: readonly Member[], config: Partial<ClientConfig> = {}) =>
  pinnedClient(order, config, clients);

/** Two followers and the leader. */
const roles = () => leaderAndFollowers(cluster);

/** Puts the pin back on the first of `urls` (pinOrder alone keeps the pin when the order already fits). */
function repin(client: Client, urls: readonly string[]): void {
  client.setEndpoints(urls);
  pinOrder(client, urls);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** How long `work` takes, in ms, and what it gave (a rejection is returned, not thrown). */
async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; value: T | unknown }> {
  const t0 = performance.now();
  const value = await work().catch((error: unknown) => error);
  return { ms: performance.now() - t0, value };
}

/**
 * A precise header timer fires this close to a plain Node timer of the same deadline (undici's coarse timer was
 * up to 500 ms late). Against a plain timer run alongside, not the clock: on a loaded machine every timer can
 * be late, and that is not the client's doing.
 */
const PRECISION_MS = 50;

/**
 * Resolves with how long plain Node timers of `delays`, one after the other, took from now: the time a timer
 * chain of those lengths needs on this machine right now.
 */
async function plainTimers(delays: readonly number[]): Promise<number> {
  const t0 = performance.now();
  for (const ms of delays) await sleep(ms);
  return performance.now() - t0;
}

describe('header timeouts against a SIGSTOPed member', () => {
  it('fire within 50 ms of a plain timer of their deadline, for plain and retrySafe calls', async () => {
    const { a } = await roles();
    const { keys } = clientWith([a], { headerTimeoutPerRequest: 1000, retrySafeTimeout: 600 });
    await keys.set('/fx/precise', 'v');
    await a.pause();
    const plainTimer = plainTimers([1000]);
    const plain = await timed(() => keys.create('/fx/precise-create', 'x'));
    expect(plain.value).toBeInstanceOf(HeaderTimeoutError);
    expect(plain.ms).toBeGreaterThanOrEqual(1000 - 2);
    expect(plain.ms).toBeLessThan((await plainTimer) + PRECISION_MS);
    // retrySafe, hedged: another attempt (the only endpoint again) goes out after 600 ms without an answer, or
    // at once when one fails, up to 3 attempts (the first, the hedge due within the 1000 ms header timeout, and
    // a round of the members): at 0, at 600, and at 1000 when the first times out; each waits its whole header timeout, so the call fails at 1000 + 1000 ms
    const safeTimers = plainTimers([1000, 1000]);
    const safe = await timed(() => keys.set('/fx/precise', 'y', { prevValue: 'v', retrySafe: true }));
    expect(safe.value).toBeInstanceOf(ClusterError);
    expect((safe.value as ClusterError).errors).toHaveLength(3);
    for (const error of (safe.value as ClusterError).errors) expect(error).toBeInstanceOf(HeaderTimeoutError);
    expect(safe.ms).toBeGreaterThanOrEqual(2000 - 2);
    expect(safe.ms).toBeLessThan((await safeTimers) + PRECISION_MS);
  });
});

describe('suspect members', () => {
  it('a one-shot call after a failure never goes to a known-dead member', async () => {
    const { leader, a, b } = await roles();
    const { client, keys } = clientWith([a, b, leader], { headerTimeoutPerRequest: 1000 });
    await keys.set('/fx/one-shot', 'v');
    await a.pause();
    await keys.get('/fx/one-shot'); // a times out (now suspect), b answers
    repin(client, [b.clientURL, a.clientURL, leader.clientURL]);
    await b.pause();
    // One-shot: b's timeout is thrown as is, and the pin moves on, past the frozen a (Go would pin a).
    expect(await keys.create('/fx/one-shot-1', 'x').catch((e: unknown) => e)).toBeInstanceOf(
      HeaderTimeoutError,
    );
    await b.resume();
    const next = await timed(() => keys.create('/fx/one-shot-2', 'y'));
    expect(next.value).toMatchObject({ action: 'create' });
    expect(next.ms).toBeLessThan(1000);
  });

  it('are tried last, and return to normal once they answer a probe', async () => {
    const { leader, a, b } = await roles();
    const LIVENESS_MS = 200; // suspects are probed at this interval (at most every 1000 ms)
    const order = [a, b, leader];
    const urls = order.map((m) => m.clientURL);
    const { client, keys } = clientWith(order, {
      headerTimeoutPerRequest: 1000,
      watchLivenessInterval: LIVENESS_MS,
    });
    await keys.set('/fx/suspect', 'v');
    await a.pause();
    const found = await timed(() => keys.get('/fx/suspect'));
    expect(found.ms).toBeGreaterThanOrEqual(1000 - 2); // a timed out first
    repin(client, urls); // the pin is back on the frozen a
    const last = await timed(() => keys.get('/fx/suspect'));
    expect(last.value).toMatchObject({ node: { value: 'v' } });
    expect(last.ms).toBeLessThan(1000); // a, suspect, was not tried first
    await a.resume();
    await sleep(LIVENESS_MS * 10); // several probes: a answers one of them
    await b.pause();
    repin(client, urls);
    const back = await timed(() => keys.get('/fx/suspect'));
    expect(back.value).toMatchObject({ node: { value: 'v' } });
    expect(back.ms).toBeLessThan(1000); // a first again; had it still been suspect, b would have timed out first
  });
});

describe('retrySafe writes', () => {
  it('fail over from a SIGSTOPed member well before the header timeout; the late first attempt is harmless', async () => {
    const { leader, a, b } = await roles();
    const config = { headerTimeoutPerRequest: 5000 };
    const { keys } = clientWith([a, b, leader], config);
    const first = await keys.set('/fx/safe', 'v1');
    await a.pause();
    const cas = await timed(() =>
      keys.set('/fx/safe', 'v2', { prevIndex: first.node!.modifiedIndex, retrySafe: true }),
    );
    expect(cas.value).toMatchObject({ action: 'compareAndSwap', node: { value: 'v2' } });
    expect(cas.ms).toBeLessThan(DEFAULT_RETRY_SAFE_TIMEOUT + 1500);
    // A one-shot delete, from a fresh client pinned to the frozen member.
    const fresh = clientWith([a, b, leader], config);
    const casIndex = (cas.value as { node: { modifiedIndex: number } }).node.modifiedIndex;
    const deleted = await timed(() =>
      fresh.keys.delete('/fx/safe', { prevIndex: casIndex, retrySafe: true }),
    );
    expect(deleted.value).toMatchObject({ action: 'compareAndDelete' });
    expect(deleted.ms).toBeLessThan(DEFAULT_RETRY_SAFE_TIMEOUT + 1500);
    // The abandoned attempts reach a once it runs again: their conditions no longer hold.
    await a.resume();
    await a.waitHealthy();
    await sleep(500);
    const reader = clientWith([leader]);
    expect(await reader.keys.get('/fx/safe', { quorum: true }).catch((e: unknown) => e)).toMatchObject({
      errorCode: 100,
    });
  });

  it('a write stuck on a survivor after the leader is SIGKILLed moves to another member', async () => {
    const { leader, a, b } = await roles();
    const { keys } = clientWith([a, b], { headerTimeoutPerRequest: 5000 });
    const first = await keys.set('/fx/stuck', 'v1');
    await leader.kill();
    // etcd 3.4 holds a proposal forwarded to a dead leader for 5 s + 2 x election timeout.
    const write = await timed(() =>
      keys.set('/fx/stuck', 'v2', { prevIndex: first.node!.modifiedIndex, retrySafe: true }),
    );
    expect(write.value).toMatchObject({ node: { value: 'v2' } });
    expect(write.ms).toBeLessThan(5000);
  });
});

describe('the adaptive retrySafeTimeout (the default)', () => {
  it.each([
    ['retry-safe compare-and-swaps', true],
    ['plain sets', false],
  ])(
    'once a few writes are timed (%s), a write stuck on a SIGSTOPed member is hedged after about 150 ms, not 1000',
    async (_, retrySafe) => {
      const { leader, a, b } = await roles();
      const { keys } = clientWith([a, b, leader]);
      let index = (await keys.set('/fx/adaptive', 'v0')).node!.modifiedIndex;
      // a healthy member answers in a few ms: the timeout comes down from its 1000 ms start to the floor
      for (let i = 1; i <= 20; i++) {
        const options = retrySafe ? { prevIndex: index, retrySafe } : {};
        const reply = await keys.set('/fx/adaptive', `v${i}`, options);
        index = reply.node!.modifiedIndex;
      }
      const hedges: number[] = [];
      const started = { at: 0 };
      const onFailover = (message: unknown): void => {
        if ((message as FailoverMessage).kind === 'hedge') hedges.push(performance.now() - started.at);
      };
      diagnostics_channel.subscribe(ClientChannels.failover, onFailover);
      try {
        await a.pause();
        started.at = performance.now();
        const cas = await timed(() =>
          keys.set('/fx/adaptive', 'stuck', { prevIndex: index, retrySafe: true }),
        );
        expect(cas.value).toMatchObject({ action: 'compareAndSwap', node: { value: 'stuck' } });
        // the first hedge left the frozen member after the adaptive timeout: at least its floor, and far below
        // the 1000 ms a fixed default waited (a loaded machine's slower writes may lift it above the floor)
        expect(hedges[0]).toBeGreaterThanOrEqual(MIN_RETRY_SAFE_TIMEOUT - 2);
        expect(hedges[0]).toBeLessThan(DEFAULT_RETRY_SAFE_TIMEOUT - 50);
        expect(cas.ms).toBeLessThan(DEFAULT_RETRY_SAFE_TIMEOUT + 500);
      } finally {
        diagnostics_channel.unsubscribe(ClientChannels.failover, onFailover);
      }
    },
  );
});

describe('watches share the view', () => {
  it('a member found dead by a request is not where the next watch waits', async () => {
    const { leader, a, b } = await roles();
    const LIVENESS_MS = 1000;
    const order = [a, b, leader];
    const { client, keys } = clientWith(order, {
      headerTimeoutPerRequest: 500,
      watchLivenessInterval: LIVENESS_MS,
    });
    const writer = clientWith([leader]).keys;
    const start = await writer.set('/fx/watch-a', 'start');
    await a.pause();
    await keys.get('/fx/watch-a'); // a times out: suspect
    repin(
      client,
      order.map((m) => m.clientURL),
    );
    const next = keys.watcher('/fx/watch-a', { afterIndex: start.node!.modifiedIndex }).next();
    await sleep(100);
    const event = await timed(async () => {
      await writer.set('/fx/watch-a', 'v');
      return next;
    });
    expect(event.value).toMatchObject({ node: { value: 'v' } });
    // On the frozen a it would have taken two failed probes (2 x LIVENESS_MS).
    expect(event.ms).toBeLessThan(LIVENESS_MS);
  });

  it('a member found dead by a watch is not tried first by the next request', async () => {
    const { leader, a, b } = await roles();
    const LIVENESS_MS = 200;
    const order = [a, b, leader];
    const { client, keys } = clientWith(order, {
      headerTimeoutPerRequest: 2000,
      watchLivenessInterval: LIVENESS_MS,
    });
    const writer = clientWith([leader]).keys;
    const start = await writer.set('/fx/watch-b', 'start');
    const next = keys.watcher('/fx/watch-b', { afterIndex: start.node!.modifiedIndex }).next();
    await sleep(100);
    await a.pause();
    await sleep(LIVENESS_MS * 4); // two failed probes: the watch moves, a is suspect
    await writer.set('/fx/watch-b', 'v');
    expect(await next).toMatchObject({ node: { value: 'v' } });
    repin(
      client,
      order.map((m) => m.clientURL),
    );
    const read = await timed(() => keys.get('/fx/watch-b'));
    expect(read.value).toMatchObject({ node: { value: 'v' } });
    expect(read.ms).toBeLessThan(2000); // a is tried last, not first
  });
});

const WATCHERS = 1000;
const KEYS = 50;
const ROUNDS = 4;

/**
 * 1000 shared watchers below one directory wait on the member their client is pinned to; the member fails
 * (`fault`) and the writes go on through the leader. Every watcher must get every write to its key exactly
 * once, in order (the watch hub's one long-poll moves to another member with its index).
 */
async function everyEventOnce(fault: (member: Member) => Promise<void>): Promise<void> {
  const { leader, a, b } = await roles();
  // the watchers' client is pinned to a follower; the writer to the leader
  const { keys } = clientWith([a, b, leader], { watchLivenessInterval: 500 });
  const { keys: writer } = clientWith([leader, b, a]);
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
