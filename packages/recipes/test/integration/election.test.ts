import { sharedClusterEndpoints, uniqueKeyPrefix } from '@etcdkit/testkit/vitest';
import { describe, expect, it } from 'vitest';
import { Barrier, BarrierHeldError, Election, type LeaderInfo, SessionLostError } from '../../src/index.js';
import { expiryBoundMs, keysFactory, startWorker, stopWorker } from './helpers.js';

const endpoints = sharedClusterEndpoints();
const keysAPI = keysFactory(() => endpoints);

describe('Election on a real cluster', () => {
  it('elects in order, observes leaders and proclaims, and hands over at once on resign', async () => {
    const name = uniqueKeyPrefix('election');
    const a = new Election(keysAPI(), name, { ttl: 5 });
    const b = new Election(keysAPI(), name, { ttl: 5 });
    const watcher = new Election(keysAPI(), name, { ttl: 5 });
    expect(await watcher.leader()).toBeNull();

    const seen: (LeaderInfo | null)[] = [];
    const controller = new AbortController();
    const observing = (async () => {
      for await (const leader of watcher.observe({ signal: controller.signal })) seen.push(leader);
    })();

    await expect.poll(() => seen).toEqual([null]); // observing before anyone campaigns
    const termA = await a.campaign('node-a');
    const campaignB = b.campaign('node-b');
    expect((await watcher.leader())?.value).toBe('node-a');
    await termA.proclaim('node-a v2');
    await expect.poll(() => seen.at(-1)?.value).toBe('node-a v2');

    const t0 = performance.now();
    await termA.resign();
    const termB = await campaignB;
    // handed over by the resign's delete, not by the TTL (5 s) running out
    expect(performance.now() - t0).toBeLessThan(5000 / 2);
    expect(termB.fencingToken).toBeGreaterThan(termA.fencingToken);
    await expect.poll(() => seen.at(-1)?.value).toBe('node-b');
    await termB.resign();
    await expect.poll(() => seen.at(-1)).toBeNull();

    controller.abort();
    await observing;
    expect(seen.map((leader) => leader?.value ?? null)).toEqual([
      null,
      'node-a',
      'node-a v2',
      'node-b',
      null,
    ]);
    for (const election of [a, b, watcher]) await election.close();
  });

  it('a leader whose key is deleted by someone else loses at once', async () => {
    const name = uniqueKeyPrefix('deposed');
    const keys = keysAPI();
    const election = new Election(keys, name, { ttl: 5 });
    const term = await election.campaign('me');
    await keys.delete(term.key);
    await expect.poll(() => term.signal.reason, { timeout: 5000 }).toBeInstanceOf(SessionLostError);
    await election.close();
  });

  it('SIGKILL of the leader process: the next candidate leads once the TTL runs out', async () => {
    const name = uniqueKeyPrefix('killed-leader');
    const worker = startWorker(['lead', endpoints.join(','), name, '2']);
    try {
      const { token } = await worker.next((e) => e.leader === true);
      const election = new Election(keysAPI(), name, { ttl: 2 });
      const campaign = election.campaign('successor');
      await new Promise((resolve) => setTimeout(resolve, 200));
      const t0 = performance.now();
      worker.child.kill('SIGKILL');
      const term = await campaign;
      expect(performance.now() - t0).toBeLessThan(expiryBoundMs(2));
      expect(term.fencingToken).toBeGreaterThan(token as number);
      await term.resign();
      await election.close();
    } finally {
      stopWorker(worker);
    }
  });

  it('an aborted campaign removes the candidate', async () => {
    const name = uniqueKeyPrefix('abort-campaign');
    const keys = keysAPI();
    const leader = await new Election(keys, name, { ttl: 5 }).campaign('first');
    const controller = new AbortController();
    const pending = new Election(keysAPI(), name, { ttl: 5 }).campaign('second', {
      signal: controller.signal,
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    controller.abort(new Error('stop'));
    await expect(pending).rejects.toThrow('stop');
    expect((await keys.get(name, { quorum: true })).node?.nodes?.map((n) => n.key)).toEqual([leader.key]);
    await leader.resign();
  });
});

describe('Barrier on a real cluster', () => {
  it('blocks waiters while held and wakes them all on release', async () => {
    const key = `${uniqueKeyPrefix('barrier')}/b`;
    const barrier = new Barrier(keysAPI(), key);
    await barrier.wait();
    await barrier.hold();
    await expect(new Barrier(keysAPI(), key).hold()).rejects.toBeInstanceOf(BarrierHeldError);
    let released = 0;
    const waiters = Array.from({ length: 5 }, () =>
      new Barrier(keysAPI(), key).wait().then(() => {
        released++;
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(released).toBe(0);
    await barrier.release();
    await Promise.all(waiters);
    expect(released).toBe(5);
    await barrier.release();
  });

  it('with a TTL, a holder that stops refreshing cannot block waiters forever', async () => {
    const key = `${uniqueKeyPrefix('barrier-ttl')}/b`;
    const keys = keysAPI();
    await keys.set(key, 'crashed holder', { ttl: 2, prevExist: false });
    const t0 = performance.now();
    await new Barrier(keys, key, { ttl: 2 }).wait({ signal: AbortSignal.timeout(10_000) });
    expect(performance.now() - t0).toBeLessThan(expiryBoundMs(2));
  });
});
