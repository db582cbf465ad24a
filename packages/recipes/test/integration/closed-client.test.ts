/**
 * A client closed under a recipe that waits: each blocking call ends with the client's `ClientClosedError`,
 * at once, instead of retrying until its signal aborts, its TTL's validity deadline passes or forever.
 */
import { isClientClosed, type KeysAPI } from '@etcdkit/client';
import { sharedClusterEndpoints, uniqueKeyPrefix } from '@etcdkit/testkit/vitest';
import { Agent, Dispatcher } from 'undici';
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
 * A dispatcher that notes when its client last sent a request and how many of them were waits (long-polls):
 * a recipe that sent a wait and then nothing for a while is waiting (an idle waiter sends nothing but its
 * key's refreshes, every TTL / 3).
 */
class RequestLog extends Dispatcher {
  readonly #agent = new Agent();
  lastAt = performance.now();
  waits = 0;

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    this.lastAt = performance.now();
    if (String(options.path).includes('wait=true')) this.waits++;
    return this.#agent.dispatch(options, handler);
  }

  override close(): Promise<void> {
    return this.#agent.close();
  }
}

/** How long a recipe sends nothing, after a wait, before it counts as waiting. */
const QUIET_MS = 300;

/**
 * Starts `wait` on a client of its own, closes that client once the call is waiting (it sent a wait, then
 * nothing for {@link QUIET_MS}), and returns how the call ended and when.
 */
async function closedUnder(
  wait: (keys: KeysAPI) => Promise<unknown>,
): Promise<{ error: unknown; ms: number }> {
  const log = new RequestLog();
  const keys = keysAPI({ dispatcher: log });
  try {
    const call = wait(keys).then(
      () => new Error('the call resolved'),
      (error: unknown) => error,
    );
    await expect
      .poll(() => log.waits > 0 && performance.now() - log.lastAt > QUIET_MS, {
        timeout: 10_000,
        interval: 20,
      })
      .toBe(true);
    const t0 = performance.now();
    await keys.client.close();
    const error = await call;
    return { error, ms: performance.now() - t0 };
  } finally {
    await log.close();
  }
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
