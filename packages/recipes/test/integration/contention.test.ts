import { sharedClusterEndpoints, uniqueKeyPrefix } from '@etcdkit/testkit/vitest';
import { describe, expect, it } from 'vitest';
import { RECIPE_WORKER, startWorker } from './helpers.js';

const endpoints = sharedClusterEndpoints();

interface Grant {
  token: number;
  mode: string;
  acquired: number;
  released: number;
}

/** Runs 3 processes of 4 contenders each (12 in all), `count` grants each, and returns every grant. */
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
  return grants;
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
      expect(overlapping).toEqual([]);
    }
    expect(maxConcurrent(grants, (g) => g.mode === 'r')).toBeGreaterThan(1);
  });
});
