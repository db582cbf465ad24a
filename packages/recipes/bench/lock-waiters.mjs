// A lock queue for the benches: a holder and `waiters` Lock waiters on one key, on one client with a KeysAPI
// each (so that every one of them queues in etcd, not in-process), counting the sessions lost.
import { KeysAPI } from '@etcdkit/client';
import { Lock } from '../dist/index.js';

/**
 * Queues a holder and `waiters` waiters on `name` through `client`, TTL `ttl`. Resolves once the holder holds
 * (the waits are sent, not yet settled). `lost()`: the waits that ended other than by `stop()`, and the holder
 * if it lost its key (nobody releases it before `stop()`, so an acquire means a key was lost on the way);
 * `firstLoss()`: the first such error, as text. `stop()` aborts the waits, releases the holder and closes the
 * locks (not the client).
 */
export async function queueLockWaiters(client, name, waiters, ttl) {
  const locks = Array.from({ length: waiters + 1 }, () => new Lock(new KeysAPI(client), name, { ttl }));
  const held = await locks[0].acquire();
  let lost = 0;
  let firstLoss = '';
  const stopping = new AbortController();
  held.signal.addEventListener('abort', () => {
    if (!stopping.signal.aborted) lost++;
  });
  const waiting = locks.slice(1).map((lock) =>
    lock.acquire({ signal: stopping.signal }).then(
      () => lost++,
      (error) => {
        if (stopping.signal.aborted) return;
        lost++;
        firstLoss ||= `${error?.name}: ${error?.message}`;
      },
    ),
  );
  return {
    lost: () => lost,
    firstLoss: () => firstLoss,
    async stop() {
      stopping.abort();
      await Promise.all(waiting);
      await held.release().catch(() => {});
      for (const lock of locks) await lock.close();
    },
  };
}
