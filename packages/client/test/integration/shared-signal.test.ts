import { recordWarnings, sharedClusterEndpoints, uniqueKeyPrefix } from '@etcdkit/testkit/vitest';
import { afterAll, describe, expect, it } from 'vitest';
import { Client, KeysAPI } from '../../src/index.js';

const client = new Client({ endpoints: sharedClusterEndpoints() });
const keys = new KeysAPI(client);
afterAll(() => client.close());

/** Node's leak warnings while each test runs. */
const leakWarnings = recordWarnings('MaxListenersExceededWarning');

describe('one caller signal shared by many calls at once', () => {
  it('adds no listener per call (no MaxListenersExceededWarning), plain and retrySafe', async () => {
    const key = `${uniqueKeyPrefix('shared-signal')}/k`;
    await keys.set(key, 'v');
    const shared = new AbortController();
    await Promise.all(Array.from({ length: 50 }, () => keys.get(key, { signal: shared.signal })));
    const safe = new AbortController();
    await Promise.all(
      Array.from({ length: 50 }, () => keys.set(key, 'v', { signal: safe.signal, retrySafe: true })),
    );
    await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
    expect(leakWarnings()).toEqual([]);
  });

  it('an abort of the shared signal still rejects every call waiting on it, with its reason', async () => {
    const key = `${uniqueKeyPrefix('shared-abort')}/k`;
    const shared = new AbortController();
    // watches wait until the abort
    const waits = Array.from({ length: 30 }, () =>
      keys
        .watcher(key)
        .next({ signal: shared.signal })
        .then(
          () => 'event',
          (reason: unknown) => reason,
        ),
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    const reason = new Error('shutting down');
    shared.abort(reason);
    expect(await Promise.all(waits)).toEqual(Array.from({ length: 30 }, () => reason));
    await new Promise((resolve) => setImmediate(resolve));
    expect(leakWarnings()).toEqual([]);
  });
});
