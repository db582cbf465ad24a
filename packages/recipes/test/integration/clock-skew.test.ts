import {
  type Cluster,
  checkNoOverlap,
  History,
  now,
  startClockSkewProxy,
  startCluster,
} from '@etcdkit/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FencedKey, type HeldLock, Lock, SessionLostError, StaleTokenError } from '../../src/index.js';
import { expiryBoundMs, keysFactory } from './helpers.js';

// etcd v2 stamps a write's expiration with the clock of the member that received it, and the leader expires
// keys by its own: a key kept through a member SKEW_MS behind the leader lives TTL - SKEW_MS after each
// refresh. The session's margin is 10% of the TTL, at least 500 ms, plus maxClockSkewMs: at TTL 5 that is
// 500 ms, well under the skew, unless maxClockSkewMs covers it.
const TTL = 5;
const SKEW_MS = 2000;

let cluster: Cluster;
beforeAll(async () => {
  cluster = await startCluster({ size: 3 });
});
afterAll(() => cluster?.close());

const keysFor = keysFactory(() => cluster.clientURLs, {
  headerTimeoutPerRequest: 1000,
  watchLivenessInterval: 500,
});

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves with the time (`now()`) `signal` aborts. */
const abortedAt = (signal: AbortSignal): Promise<number> =>
  new Promise((resolve) => signal.addEventListener('abort', () => resolve(now()), { once: true }));

/**
 * The first holder keeps its lock through a member SKEW_MS behind the leader; once it holds and the second
 * waits, its proxy is cut (its refreshes stop) and the second acquires when the first's key expires. `during`
 * runs right after the second acquired, while the first may still believe it holds.
 */
async function skewedHandOver(
  name: string,
  maxClockSkewMs: number,
  during: (first: HeldLock, second: HeldLock) => Promise<void> = async () => {},
): Promise<{ history: History; first: HeldLock; second: HeldLock }> {
  const leader = await cluster.waitForLeader();
  const follower = cluster.members.find((member) => member !== leader)!;
  await using skewed = await startClockSkewProxy(follower, { behindMs: SKEW_MS });
  const firstLock = new Lock(keysFor({ endpoints: [skewed.url] }), name, { ttl: TTL, maxClockSkewMs });
  const secondLock = new Lock(keysFor(), name, { ttl: TTL });
  const history = new History();
  try {
    const first = await firstLock.acquire();
    const firstStart = now();
    const firstEnd = abortedAt(first.signal);
    const waiting = secondLock.acquire({ signal: AbortSignal.timeout(expiryBoundMs(TTL) + 5000) });
    await pause(300); // the second is queued behind the first
    skewed.cut();
    const second = await waiting;
    const secondStart = now();
    await during(first, second);
    const firstEndAt = await firstEnd;
    await second.release();
    history.record({
      process: 'first',
      kind: 'hold',
      start: firstStart,
      end: firstEndAt,
      ok: true,
      token: first.fencingToken,
    });
    history.record({
      process: 'second',
      kind: 'hold',
      start: secondStart,
      end: now(),
      ok: true,
      token: second.fencingToken,
    });
    expect(skewed.rewrittenTtls).toBeGreaterThan(0); // the first's key was created and refreshed with ttl 3
    return { history, first, second };
  } finally {
    skewed.heal();
    await firstLock.close();
    await secondLock.close();
  }
}

describe('Lock with a holder whose etcd member runs 2 s behind the leader (ClockSkewProxy)', () => {
  it('maxClockSkewMs: 2000 covers it: the first learns it lost before the second acquires', async () => {
    const { history, first, second } = await skewedHandOver('/skew/covered', SKEW_MS);
    expect(first.signal.reason).toBeInstanceOf(SessionLostError);
    expect(second.fencingToken).toBeGreaterThan(first.fencingToken);
    const [firstHold, secondHold] = history.ofKind('hold');
    expect(firstHold!.end).toBeLessThan(secondHold!.start);
    expect(checkNoOverlap(history.ofKind('hold'))).toEqual([]);
  });

  it('maxClockSkewMs: 0 does not: both believe they hold at once, and fencing refuses the first’s late write', async () => {
    const name = '/skew/uncovered';
    const resource = new FencedKey(keysFor(), `${name}-resource`);
    let lateWrite: unknown;
    const { history, first, second } = await skewedHandOver(name, 0, async (first, second) => {
      // the first still believes it holds: its validity (TTL - 500 ms) outlasts its key (TTL - 2 s)
      expect(first.signal.aborted).toBe(false);
      await resource.write(second.fencingToken, 'second');
      expect(first.signal.aborted).toBe(false);
      lateWrite = await resource.write(first.fencingToken, 'first').catch((error: unknown) => error);
    });
    expect(lateWrite).toBeInstanceOf(StaleTokenError);
    expect((await resource.read())?.data).toBe('second');
    expect(first.signal.reason).toBeInstanceOf(SessionLostError);
    const overlaps = checkNoOverlap(history.ofKind('hold'));
    expect(overlaps).toHaveLength(1);
    expect(overlaps[0]!.ops.map((op) => op.token)).toEqual([first.fencingToken, second.fencingToken]);
  });
});
