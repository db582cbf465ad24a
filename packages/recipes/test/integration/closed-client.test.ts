/**
 * A client closed under a recipe that waits: each blocking call ends with the client's `ClientClosedError`,
 * at once, instead of retrying until its signal aborts, its TTL's validity deadline passes or forever.
 */
import { isClientClosed, type KeysAPI } from '@etcdkit/client';
import { sharedClusterEndpoints, uniqueKeyPrefix } from '@etcdkit/testkit/vitest';
import { describe, expect, it } from 'vitest';
import {
  Barrier,
  DoubleBarrier,
  Election,
  Lock,
  Queue,
  Semaphore,
  ServiceRegistry,
} from '../../src/index.js';
import { keysFactory } from './helpers.js';

const endpoints = sharedClusterEndpoints();
const keysAPI = keysFactory(() => endpoints);
/** Long enough that a call ended by its key's validity deadline cannot pass for one ended by the close. */
const TTL = 20;
/**
 * A close fails the client's requests at once and a recipe does not pause to retry: well under this, on a loaded
 * machine.
 */
const ENDS_WITHIN_MS = 3000;

/**
 * Starts `wait` on a client of its own, closes that client once the call is waiting, and returns how the
 * call ended and when.
 */
async function closedUnder(
  wait: (keys: KeysAPI) => Promise<unknown>,
): Promise<{ error: unknown; ms: number }> {
  const keys = keysAPI();
  const call = wait(keys).then(
    () => new Error('the call resolved'),
    (error: unknown) => error,
  );
  await new Promise((resolve) => setTimeout(resolve, 500)); // it reads, then waits
  const t0 = performance.now();
  await keys.client.close();
  const error = await call;
  return { error, ms: performance.now() - t0 };
}

describe('a client closed under a waiting recipe ends the wait with ClientClosedError', () => {
  const cases: [string, (keys: KeysAPI, name: string, other: KeysAPI) => Promise<unknown>][] = [
    [
      'Lock.acquire behind a holder',
      async (keys, name, other) => {
        await new Lock(other, name, { ttl: TTL }).acquire();
        return new Lock(keys, name, { ttl: TTL }).acquire();
      },
    ],
    [
      'Semaphore.acquire past its permits',
      async (keys, name, other) => {
        await new Semaphore(other, name, 1, { ttl: TTL }).acquire();
        return new Semaphore(keys, name, 1, { ttl: TTL }).acquire();
      },
    ],
    [
      'Election.observe',
      async (keys, name) => {
        const observing = new Election(keys, name).observe();
        for (;;) if ((await observing.next()).done) throw new Error('observe ended without an error');
      },
    ],
    ['Queue.take on an empty queue', (keys, name) => new Queue(keys, name).take()],
    [
      'Barrier.wait on a held barrier',
      async (keys, name, other) => {
        await new Barrier(other, name).hold();
        return new Barrier(keys, name).wait();
      },
    ],
    [
      'DoubleBarrier.enter short of its count',
      (keys, name) => new DoubleBarrier(keys, name, 2, { ttl: TTL }).enter(),
    ],
    [
      'ServiceRegistry.watch',
      async (keys, name) => {
        for await (const _ of new ServiceRegistry(keys, name).watch('api'));
      },
    ],
  ];
  for (const [what, wait] of cases)
    it(what, async () => {
      const other = keysAPI();
      const name = uniqueKeyPrefix('closed-client');
      const { error, ms } = await closedUnder((keys) => wait(keys, name, other));
      expect(isClientClosed(error), String(error)).toBe(true);
      expect(ms).toBeLessThan(ENDS_WITHIN_MS);
    });
});
