import { now } from '@etcdkit/testkit';
import { sharedClusterEndpoints, uniqueKeyPrefix } from '@etcdkit/testkit/vitest';
import { describe, expect, it } from 'vitest';
import { Barrier, Queue, type ServiceChange, ServiceRegistry } from '../../src/index.js';
import { keysFactory, RECIPE_WORKER, startWorker, type Worker } from './helpers.js';

const endpoints = sharedClusterEndpoints();
const keysAPI = keysFactory(() => endpoints);

/** 3 processes of 4 contenders (12 in all) of `kind` on `name`. */
function startContenders(kind: string, name: string, count: number): Worker[] {
  return Array.from({ length: 3 }, () =>
    startWorker([kind, endpoints.join(','), name, '4', String(count)], RECIPE_WORKER),
  );
}

async function finished(workers: Worker[]): Promise<Record<string, unknown>[]> {
  expect(await Promise.all(workers.map((worker) => worker.exited))).toEqual([0, 0, 0]);
  return workers.flatMap((worker) => worker.events);
}

interface Grant {
  token: number;
  mode: string;
  acquired: number;
  released: number;
  /** The grant's signal was not aborted when it was released: the holder could trust it throughout. */
  trusted: boolean;
}

/** Runs 3 processes of 4 contenders each (12 in all), `count` grants each; returns the trusted grants. */
async function run(kind: string, count: number): Promise<Grant[]> {
  const name = uniqueKeyPrefix(kind);
  const workers = Array.from({ length: 3 }, () =>
    startWorker([kind, endpoints.join(','), name, '4', String(count)], RECIPE_WORKER),
  );
  const codes = await Promise.all(workers.map((worker) => worker.exited));
  expect(codes).toEqual([0, 0, 0]);
  const grants = workers.flatMap((worker) => worker.events as unknown as Grant[]);
  expect(grants).toHaveLength(12 * count);
  expect(new Set(grants.map((g) => g.token)).size).toBe(grants.length);
  // Safety is promised for trusted grants; on a healthy cluster nearly all are (only a process starved for
  // a whole TTL loses its key), so the checks below still cover the run.
  const trusted = grants.filter((g) => g.trusted);
  expect(trusted.length).toBeGreaterThan(grants.length / 2);
  return trusted;
}

/** The most grants holding at the same moment (`among` limits which grants count). */
function maxConcurrent(grants: Grant[], among: (g: Grant) => boolean = () => true): number {
  const points = grants
    .filter(among)
    .flatMap((g) => [
      [g.acquired, 1],
      [g.released, -1],
    ])
    .sort((a, b) => a[0]! - b[0]! || a[1]! - b[1]!);
  let inside = 0;
  let max = 0;
  for (const [, step] of points) {
    inside += step!;
    max = Math.max(max, inside);
  }
  return max;
}

describe('contention across processes (12 contenders in 3 processes)', () => {
  it('Semaphore(3): never more than 3 holders, and permits are really shared', async () => {
    const grants = await run('semaphore', 3);
    expect(maxConcurrent(grants)).toBeLessThanOrEqual(3);
    expect(maxConcurrent(grants)).toBeGreaterThan(1);
  });

  it('Election: one leader at a time, terms in token order', async () => {
    const grants = await run('election', 2);
    expect(maxConcurrent(grants)).toBe(1);
    const byToken = [...grants].sort((a, b) => a.token - b.token);
    for (let i = 1; i < byToken.length; i++)
      expect(byToken[i]!.acquired).toBeGreaterThanOrEqual(byToken[i - 1]!.released);
  });

  it('RWLock: a writer is always alone; readers overlap', async () => {
    const grants = await run('rwlock', 3);
    for (const writer of grants.filter((g) => g.mode === 'w')) {
      const overlapping = grants.filter(
        (g) => g !== writer && g.acquired < writer.released && writer.acquired < g.released,
      );
      expect(overlapping, `overlaps the writer ${JSON.stringify(writer)}`).toEqual([]);
    }
    expect(maxConcurrent(grants, (g) => g.mode === 'r')).toBeGreaterThan(1);
  });

  it('Queue: 60 items to 12 takers, each item taken exactly once', async () => {
    const name = uniqueKeyPrefix('queue');
    const queue = new Queue(keysAPI(), name);
    const items = Array.from({ length: 60 }, (_, i) => `job-${i}`);
    for (const item of items) await queue.put(item);
    const taken = (await finished(startContenders('queue', name, 5))).map((e) => e.item as string);
    expect(taken.sort()).toEqual([...items].sort());
    expect(await queue.size()).toBe(0);
  });

  it('Barrier: 12 waiters pass only once it is released', async () => {
    const name = `${uniqueKeyPrefix('barrier')}/b`;
    const barrier = new Barrier(keysAPI(), name);
    await barrier.hold();
    const workers = startContenders('barrier', name, 1);
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(workers.flatMap((w) => w.events)).toEqual([]);
    const releasedAt = now();
    await barrier.release();
    const passed = (await finished(workers)).map((e) => e.passed as number);
    expect(passed).toHaveLength(12);
    expect(Math.min(...passed)).toBeGreaterThanOrEqual(releasedAt);
  });

  it('DoubleBarrier(12): nobody is in before all 12 arrive, nobody is out before all 12 leave', async () => {
    const name = uniqueKeyPrefix('double');
    const events = await finished(startContenders('double-barrier', name, 12));
    const at = (field: string): number[] => events.map((e) => e[field] as number);
    expect(events).toHaveLength(12);
    expect(Math.min(...at('entered'))).toBeGreaterThanOrEqual(Math.max(...at('entering')));
    expect(Math.min(...at('left'))).toBeGreaterThanOrEqual(Math.max(...at('leaving')));
  });

  it('ServiceRegistry: 12 instances from 3 processes come and go, a watcher sees each once', async () => {
    const prefix = uniqueKeyPrefix('registry');
    const registry = new ServiceRegistry(keysAPI(), prefix, { ttl: 5 });
    const changes: ServiceChange[] = [];
    const controller = new AbortController();
    const watching = (async () => {
      for await (const change of registry.watch('api', { signal: controller.signal })) changes.push(change);
    })();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const ids = (await finished(startContenders('registry', prefix, 1))).map((e) => e.registered as string);
    expect(new Set(ids).size).toBe(12);
    await expect.poll(() => changes.filter((c) => c.type === 'removed').length, { timeout: 5000 }).toBe(12);
    controller.abort();
    await watching;
    const added = changes.filter((c) => c.type === 'added').map((c) => c.instance.id);
    expect(added.sort()).toEqual([...ids].sort());
    expect(await registry.list('api')).toEqual([]);
    await registry.close();
  });
});
