import type { KeysAPI } from '@etcdkit/client';
import { type Cluster, startCluster } from '@etcdkit/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FencedKey, Lock, SessionLostError } from '../../src/index.js';
import { keysFactory, startWorker, stopWorker } from './helpers.js';

let cluster: Cluster;
beforeAll(async () => {
  cluster = await startCluster({ size: 3 });
});
afterAll(() => cluster?.close());

const keysFor = keysFactory(() => cluster.clientURLs, {
  headerTimeoutPerRequest: 1000,
  watchLivenessInterval: 500,
});
const keysAPI = (endpoints?: readonly string[]): KeysAPI => keysFor(endpoints ? { endpoints } : {});

const healthy = (): Promise<void> => cluster.restoreAll();

describe('Lock under process and etcd faults', () => {
  it('SIGKILL of the holder process: the next waiter acquires within TTL + watchdog', async () => {
    const holder = startWorker(['hold', cluster.clientURLs.join(','), '/faults/killed', '2']);
    const { token } = await holder.next((e) => e.held === true);
    const lock = new Lock(keysAPI(), '/faults/killed', { ttl: 2 });
    const waiting = lock.acquire();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const t0 = performance.now();
    holder.child.kill('SIGKILL');
    const held = await waiting;
    const waited = performance.now() - t0;
    expect(waited).toBeLessThan(2000 + 2000 + 500);
    expect(held.fencingToken).toBeGreaterThan(token as number);
    await held.release();
    await lock.close();
  });

  it('SIGSTOP of the holder past its TTL: the next holder takes over, the old one learns it lost and its fenced write is refused', async () => {
    const name = '/faults/paused';
    const holder = startWorker(['hold', cluster.clientURLs.join(','), name, '2']);
    try {
      const { token } = await holder.next((e) => e.held === true);
      process.kill(holder.child.pid!, 'SIGSTOP');
      const keys = keysAPI();
      const lock = new Lock(keys, name, { ttl: 2 });
      const held = await lock.acquire({ signal: AbortSignal.timeout(10_000) });
      expect(held.fencingToken).toBeGreaterThan(token as number);
      await new FencedKey(keys, `${name}-resource`).write(held.fencingToken, 'new holder');
      process.kill(holder.child.pid!, 'SIGCONT');
      const lost = await holder.next((e) => e.lost !== undefined, 10_000);
      expect(lost).toMatchObject({ lost: 'SessionLostError', write: 'StaleTokenError' });
      expect((await new FencedKey(keys, `${name}-resource`).read())?.data).toBe('new holder');
      await held.release();
      await lock.close();
    } finally {
      stopWorker(holder);
    }
  });

  it('SIGKILL of the etcd leader while holding and while acquiring: the lock stays valid and is handed over', async () => {
    const name = '/faults/leader';
    const a = new Lock(keysAPI(), name, { ttl: 3 });
    const b = new Lock(keysAPI(), name, { ttl: 3 });
    const held = await a.acquire();
    const waiting = b.acquire({ signal: AbortSignal.timeout(15_000) });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const leader = await cluster.waitForLeader();
    await leader.kill();
    await cluster.waitForLeader({ exclude: [leader] });
    await new Promise((resolve) => setTimeout(resolve, 3500)); // longer than the TTL: refreshes must go on
    expect(held.signal.aborted).toBe(false);
    await held.release();
    const next = await waiting;
    expect(next.signal.aborted).toBe(false);
    await next.release();
    await a.close();
    await b.close();
    await healthy();
  });

  it('a waiter whose client is pinned to an isolated member still acquires (its watch moves)', async () => {
    const name = '/faults/isolated';
    const leader = await cluster.waitForLeader();
    const isolated = cluster.members.find((m) => m !== leader)!;
    const holder = new Lock(keysAPI([leader.clientURL]), name, { ttl: 3 });
    const held = await holder.acquire();
    const order = [isolated.clientURL, ...cluster.clientURLs.filter((url) => url !== isolated.clientURL)];
    const waiterKeys = keysAPI(order);
    const waiter = new Lock(waiterKeys, name, { ttl: 3 });
    const waiting = waiter.acquire({ signal: AbortSignal.timeout(15_000) });
    await new Promise((resolve) => setTimeout(resolve, 300));
    await isolated.isolate();
    await new Promise((resolve) => setTimeout(resolve, 300));
    await held.release();
    const next = await waiting;
    expect(next.fencingToken).toBeGreaterThan(held.fencingToken);
    await next.release();
    await holder.close();
    await waiter.close();
    await healthy();
  });

  it('a holder whose refreshes cannot reach etcd loses the lock before its key expires', async () => {
    const name = '/faults/unreachable';
    const lonely = await startCluster({ size: 1 });
    try {
      const lock = new Lock(keysAPI(lonely.clientURLs), name, { ttl: 3 });
      const held = await lock.acquire();
      const t0 = performance.now();
      await lonely.members[0]!.pause();
      await new Promise<void>((resolve) =>
        held.signal.addEventListener('abort', () => resolve(), { once: true }),
      );
      const lostAfter = performance.now() - t0;
      expect(held.signal.reason).toBeInstanceOf(SessionLostError);
      // reported before the server-side TTL (3 s) could run out
      expect(lostAfter).toBeLessThan(3000);
      await lonely.members[0]!.resume();
      await lock.close();
    } finally {
      await lonely.close();
    }
  });
});
