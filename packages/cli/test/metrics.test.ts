import { channel } from 'node:diagnostics_channel';
import { ClientChannels } from '@etcdkit/client';
import { RecipeChannels } from '@etcdkit/recipes';
import { describe, expect, it } from 'vitest';
import { Histogram, MetricsCollector, mergeSnapshots } from '../src/metrics.js';

const call = (operation: string) => ({
  id: 1,
  operation,
  key: '/k',
  oneShot: false,
  retrySafe: false,
  watch: undefined,
});
const request = (operation: string) => ({
  call: call(operation),
  endpoint: 'http://127.0.0.1:2379',
  attempt: 1,
  hop: 0,
  method: 'GET',
  origin: 'http://127.0.0.1:2379',
  path: '/v2/keys/k',
});
const publish = (name: string, message: object): void => channel(name).publish(message);

describe('Histogram', () => {
  it('counts into fixed log buckets and estimates quantiles within a bucket', () => {
    const histogram = new Histogram();
    for (let ms = 1; ms <= 100; ms++) histogram.record(ms);
    histogram.record(-1); // ignored
    histogram.record(Number.NaN); // ignored
    const json = histogram.toJSON();
    expect(json.count).toBe(100);
    expect(json.sumMs).toBe(5050);
    expect(json.minMs).toBe(1);
    expect(json.maxMs).toBe(100);
    expect(json.buckets.reduce((sum, bucket) => sum + bucket.count, 0)).toBe(100);
    // a bucket is 19 % wide: the estimates are within that of the true quantiles
    expect(json.p50Ms).toBeGreaterThan(50 / 1.19);
    expect(json.p50Ms).toBeLessThan(50 * 1.19);
    expect(json.p90Ms).toBeGreaterThan(90 / 1.19);
    expect(json.p90Ms).toBeLessThan(90 * 1.19);
    expect(json.p99Ms).toBeLessThanOrEqual(100);
    expect(new Histogram().toJSON()).toMatchObject({ count: 0, minMs: 0, maxMs: 0, p50Ms: 0, buckets: [] });
  });

  it('merges bucket by bucket: two halves make the whole', () => {
    const whole = new Histogram();
    const low = new Histogram();
    const high = new Histogram();
    for (let ms = 0; ms < 2000; ms += 7) {
      whole.record(ms);
      (ms < 300 ? low : high).record(ms);
    }
    const merged = new Histogram();
    merged.add(low.toJSON());
    merged.add(high.toJSON());
    merged.add(new Histogram().toJSON());
    expect(merged.toJSON()).toEqual(whole.toJSON());
  });
});

describe('MetricsCollector', () => {
  it('counts the client and recipe events of this process, and stops at close', () => {
    const collector = new MetricsCollector();
    publish(ClientChannels.requestEnd, { ...request('get'), status: 200, durationMs: 4, bytes: 10 });
    publish(ClientChannels.requestEnd, { ...request('get'), status: 404, durationMs: 2, bytes: 10 });
    publish(ClientChannels.requestEnd, { ...request('watch'), status: 200, durationMs: 5000, bytes: 10 });
    publish(ClientChannels.requestError, {
      ...request('set'),
      error: new Error('timeout'),
      durationMs: 1000,
    });
    publish(ClientChannels.failover, {
      call: call('set'),
      from: 'a',
      to: 'b',
      kind: 'retry',
      error: new Error('x'),
    });
    publish(ClientChannels.memberHealth, { endpoint: 'a', state: 'suspect', reason: 'failed a request' });
    publish(ClientChannels.memberHealth, { endpoint: 'a', state: 'healthy', reason: 'answered a request' });
    publish(ClientChannels.watchMove, { watch: { id: 1, key: '/k', recursive: false }, from: 'a', to: 'b' });
    publish(RecipeChannels.enqueue, { recipe: 'lock', name: '/l', key: '/l/1', createdIndex: 1 });
    publish(RecipeChannels.acquired, {
      recipe: 'lock',
      name: '/l',
      key: '/l/1',
      fencingToken: 1,
      waitMs: 12,
    });
    publish(RecipeChannels.released, { recipe: 'lock', name: '/l', key: '/l/1', holdMs: 30 });
    publish(RecipeChannels.handoff, {
      recipe: 'lock',
      name: '/l',
      key: '/l/2',
      previousKey: '/l/1',
      handoffMs: 3,
    });
    publish(RecipeChannels.atRisk, {
      key: '/l/2',
      why: 'a refresh failed',
      error: undefined,
      validForMs: 900,
    });
    publish(RecipeChannels.lost, { key: '/l/2', why: 'the key is gone', error: undefined });
    publish(RecipeChannels.electionLeader, { recipe: 'election', name: '/e', key: '/e/3', createdIndex: 3 });
    for (const name of [
      RecipeChannels.registryAdd,
      RecipeChannels.registryRemove,
      RecipeChannels.registryExpire,
    ])
      publish(name, { recipe: 'registry', service: 'api', id: 'a', key: '/s/api/a', instance: {} });
    const snapshot = collector.snapshot();
    collector.close();
    collector.close(); // idempotent
    publish(RecipeChannels.lost, { key: '/l/3', why: 'the key is gone', error: undefined });
    expect(collector.snapshot()).toEqual(snapshot); // nothing counted after close
    expect(JSON.parse(JSON.stringify(snapshot))).toEqual(snapshot); // plain JSON
    expect(snapshot.requests.total).toBe(4);
    expect(snapshot.requests.byOperation).toEqual({
      get: { '2xx': 1, '4xx': 1 },
      watch: { '2xx': 1 },
      set: { error: 1 },
    });
    expect(snapshot.requests.durationMs.count).toBe(3); // the watch wait is not a request duration
    expect(snapshot.failovers).toEqual({ total: 1, byKind: { retry: 1 } });
    expect(snapshot.members).toEqual({ suspect: 1, healthy: 1 });
    expect(snapshot.watch).toEqual({ events: 0, moves: 1, resyncs: 0 });
    expect(snapshot.locks).toMatchObject({
      enqueued: 1,
      acquired: 1,
      released: 1,
      acquiredByRecipe: { lock: 1 },
      handoffs: 1,
      waitMs: { count: 1, minMs: 12 },
      holdMs: { count: 1, maxMs: 30 },
      handoffMs: { count: 1 },
    });
    expect(snapshot.sessions).toEqual({ atRisk: 1, lost: 1, lostByReason: { 'the key is gone': 1 } });
    expect(snapshot.elections).toEqual({ leaderChanges: 1 });
    expect(snapshot.registry).toEqual({ added: 1, removed: 1, expired: 1 });
  });

  it('snapshots of several processes merge: counters add, histograms add', () => {
    const snapshots = [1, 2, 3].map((n) => {
      using collector = new MetricsCollector();
      for (let i = 0; i < n; i++) {
        publish(RecipeChannels.acquired, {
          recipe: 'lock',
          name: '/l',
          key: '/l/1',
          fencingToken: 1,
          waitMs: n,
        });
        publish(RecipeChannels.lost, { key: '/l/1', why: `why ${n % 2}`, error: undefined });
        publish(ClientChannels.requestEnd, { ...request('get'), status: 200, durationMs: n, bytes: 1 });
      }
      return collector.snapshot();
    });
    const total = mergeSnapshots(snapshots);
    expect(total.locks.acquired).toBe(6);
    expect(total.locks.waitMs.count).toBe(6);
    expect(total.locks.waitMs.sumMs).toBe(1 + 4 + 9);
    expect(total.locks.waitMs.minMs).toBe(1);
    expect(total.locks.waitMs.maxMs).toBe(3);
    expect(total.sessions.lostByReason).toEqual({ 'why 0': 2, 'why 1': 4 });
    expect(total.requests.byOperation).toEqual({ get: { '2xx': 6 } });
    expect(mergeSnapshots([])).toMatchObject({ requests: { total: 0 }, locks: { acquired: 0 } });
  });
});
