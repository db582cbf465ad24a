import { recordWarnings, sharedClusterEndpoints, uniqueKeyPrefix } from '@etcdkit/testkit/vitest';
import { describe, expect, it } from 'vitest';
import { Lock } from '../../src/index.js';
import { keysFactory } from './helpers.js';

const endpoints = sharedClusterEndpoints();
const keysAPI = keysFactory(() => endpoints);

/** Node's leak warnings while each test runs. */
const leakWarnings = recordWarnings('MaxListenersExceededWarning');

describe('one caller signal shared by many acquires of a lock in one process', () => {
  it('adds no listener per waiter (no MaxListenersExceededWarning), and its abort ends every waiter', async () => {
    const lock = new Lock(keysAPI(), uniqueKeyPrefix('shared-signal-lock'), { ttl: 5 });
    const shared = new AbortController();
    // 30 acquires at once: one holds, the others wait in the process's local queue
    let holders = 0;
    await Promise.all(
      Array.from({ length: 30 }, async () => {
        const held = await lock.acquire({ signal: shared.signal });
        holders++;
        await held.release();
      }),
    );
    expect(holders).toBe(30);
    // then waiters that never get it: the shared signal's abort ends them all
    const blocker = await lock.acquire();
    const waiting = Array.from({ length: 30 }, () =>
      lock.acquire({ signal: shared.signal }).then(
        () => 'acquired',
        (reason: unknown) => reason,
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    const reason = new Error('shutting down');
    shared.abort(reason);
    expect(await Promise.all(waiting)).toEqual(Array.from({ length: 30 }, () => reason));
    await blocker.release();
    await lock.close();
    await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
    expect(leakWarnings()).toEqual([]);
  });
});
