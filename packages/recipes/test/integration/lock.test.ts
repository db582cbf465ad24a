import { now } from '@etcdkit/testkit';
import { sharedClusterEndpoints, uniqueKeyPrefix } from '@etcdkit/testkit/vitest';
import { describe, expect, it } from 'vitest';
import { FencedKey, Lock, StaleTokenError } from '../../src/index.js';
import { keysFactory, startWorker, stopWorker, type Worker } from './helpers.js';

const endpoints = sharedClusterEndpoints();
const keysAPI = keysFactory(() => endpoints);

describe('Lock on a real cluster', () => {
  it('is held by one at a time, hands over on release, and tryAcquire says null while held', async () => {
    const name = uniqueKeyPrefix('lock');
    const a = new Lock(keysAPI(), name, { ttl: 5 });
    const b = new Lock(keysAPI(), name, { ttl: 5 });
    const held = await a.acquire();
    expect(held.signal.aborted).toBe(false);
    expect(await b.tryAcquire()).toBeNull();
    const waiting = b.acquire();
    let got = false;
    void waiting.then(() => {
      got = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(got).toBe(false);
    const t0 = performance.now();
    await held.release();
    await held.release();
    const next = await waiting;
    // handed over by the release's delete, not by the TTL (5 s) running out
    expect(performance.now() - t0).toBeLessThan(5000 / 2);
    expect(next.fencingToken).toBeGreaterThan(held.fencingToken);
    await next.release();
    const free = await b.tryAcquire();
    expect(free).not.toBeNull();
    await free!.release();
    await a.close();
    await b.close();
  });

  it('keeps the key alive past its TTL while held (refresh), without waking the waiter', async () => {
    const name = uniqueKeyPrefix('keepalive');
    const keys = keysAPI();
    const lock = new Lock(keys, name, { ttl: 2 });
    const held = await lock.acquire();
    await new Promise((resolve) => setTimeout(resolve, 3500));
    expect(held.signal.aborted).toBe(false);
    const listing = await keys.get(name, { quorum: true });
    expect(listing.node?.nodes?.map((n) => n.key)).toEqual([held.key]);
    await held.release();
    await lock.close();
  });

  it('an aborted waiter removes its key and rejects with the reason', async () => {
    const name = uniqueKeyPrefix('abort');
    const keys = keysAPI();
    const holder = new Lock(keysAPI(), name, { ttl: 5 });
    const held = await holder.acquire();
    const controller = new AbortController();
    const waiter = new Lock(keys, name, { ttl: 5 }).acquire({ signal: controller.signal });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await keys.get(name, { quorum: true })).node?.nodes).toHaveLength(2);
    const reason = new Error('give up');
    controller.abort(reason);
    await expect(waiter).rejects.toBe(reason);
    expect((await keys.get(name, { quorum: true })).node?.nodes?.map((n) => n.key)).toEqual([held.key]);
    await held.release();
    await holder.close();
  });

  it('queues acquires of one process locally: one key in etcd at a time', async () => {
    const name = uniqueKeyPrefix('local');
    const keys = keysAPI();
    const lock = new Lock(keys, name, { ttl: 5 });
    let maxKeys = 0;
    let inside = 0;
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        const held = await lock.acquire();
        inside++;
        expect(inside).toBe(1);
        const listing = await keys.get(name, { quorum: true });
        maxKeys = Math.max(maxKeys, listing.node?.nodes?.length ?? 0);
        inside--;
        await held.release();
      }),
    );
    expect(maxKeys).toBe(1);
    await lock.close();
  });

  it('12 contenders in 4 processes: never two holders, tokens strictly rising, fenced writes all accepted', async () => {
    const name = uniqueKeyPrefix('contention');
    const workers: Worker[] = Array.from({ length: 4 }, () =>
      startWorker(['loop', endpoints.join(','), name, '5', '4']),
    );
    // and 8 more contenders in this process, on separate clients
    const local = Array.from({ length: 8 }, () => new Lock(keysAPI(), name, { ttl: 5 }));
    const fenced = new FencedKey(keysAPI(), `${name}-resource`);
    const grants: { token: number; acquired: number; released: number }[] = [];
    await Promise.all([
      ...workers.map((worker) => worker.exited),
      ...local.map(async (lock) => {
        for (let i = 0; i < 2; i++) {
          const held = await lock.acquire();
          const acquired = now();
          await fenced.write(held.fencingToken, `local:${i}`);
          const released = now();
          await held.release();
          grants.push({ token: held.fencingToken, acquired, released });
        }
        await lock.close();
      }),
    ]);
    for (const worker of workers) {
      expect(await worker.exited).toBe(0);
      grants.push(...(worker.events.filter((e) => 'token' in e) as unknown as typeof grants));
    }
    expect(grants).toHaveLength(4 * 4 + 8 * 2);
    grants.sort((x, y) => x.token - y.token);
    for (let i = 1; i < grants.length; i++) {
      expect(grants[i]!.token).toBeGreaterThan(grants[i - 1]!.token);
      // no overlap: each holder acquired after the previous one released (in token order)
      expect(grants[i]!.acquired).toBeGreaterThanOrEqual(grants[i - 1]!.released);
    }
    expect((await fenced.read())?.fence).toBe(grants.at(-1)!.token);
    await expect(fenced.write(grants[0]!.token, 'late')).rejects.toBeInstanceOf(StaleTokenError);
    for (const worker of workers) stopWorker(worker);
  });
});
