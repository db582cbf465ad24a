/**
 * `waitForEvent`, the one watch the recipes wait on, with fake keys: an event, "read again" after a transient
 * failure (after a pause), and a closed client, which ends the wait at once.
 */
import { ClientClosedError } from '@etcdkit/client';
import { describe, expect, it } from 'vitest';
import { RetryPacing } from '../../src/core/retry.js';
import { waitForEvent } from '../../src/core/wait.js';
import { FakeKeys, node, reply, settle } from './fake-keys.js';

describe('waitForEvent', () => {
  it('resolves to the event, and closes its watcher', async () => {
    const keys = new FakeKeys();
    const waiting = waitForEvent(keys, '/w', { afterIndex: 4 });
    await settle();
    const [watcher] = keys.watchers;
    expect(watcher).toMatchObject({ key: '/w', afterIndex: 4 });
    watcher!.push(reply('set', node('/w', 5, 5)));
    expect((await waiting)?.action).toBe('set');
    expect(watcher!.closed).toBe(true);
  });

  it('after a transient failure: "read again" (undefined), after the retry pause', async () => {
    const keys = new FakeKeys();
    const t0 = performance.now();
    const waiting = waitForEvent(keys, '/w', { afterIndex: 4 });
    await settle();
    keys.watchers[0]!.fail(new Error('socket hang up'));
    expect(await waiting).toBeUndefined();
    // (half: a timer fires against the event loop's cached time, and can look a few ms early)
    expect(performance.now() - t0).toBeGreaterThanOrEqual(RetryPacing.transientPauseMs / 2);
  });

  it('a closed client rejects with its ClientClosedError, at once', async () => {
    const keys = new FakeKeys();
    const waiting = waitForEvent(keys, '/w', { afterIndex: 4 });
    await settle();
    keys.watchers[0]!.fail(new ClientClosedError());
    const ended = await Promise.race([
      waiting.then(
        () => 'resolved',
        (error: unknown) => error,
      ),
      new Promise((resolve) => setTimeout(() => resolve('still waiting'), RetryPacing.transientPauseMs / 2)),
    ]);
    expect(ended).toBeInstanceOf(ClientClosedError);
  });
});
