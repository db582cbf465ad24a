// A chaos test with testkit under vitest: a lock used by several clients while a seeded fault schedule kills,
// pauses and isolates etcd members; the history must show no two holders at once and rising tokens.
//   npx vitest run examples/chaos.test.ts
import { Client, KeysAPI } from '@etcdkit/client';
import { Lock } from '@etcdkit/recipes';
import {
  checkNoOverlap,
  checkRisingTokens,
  formatFaultLog,
  History,
  now,
  runFaultSchedule,
  startCluster,
} from '@etcdkit/testkit';
import { expect, it } from 'vitest';

it('a lock stays safe while etcd members are killed, paused and isolated', async () => {
  await using cluster = await startCluster({ size: 3 });
  const history = new History();
  const stop = new AbortController();

  const worker = async (name: string): Promise<void> => {
    const client = new Client({ endpoints: [...cluster.clientURLs], headerTimeoutPerRequest: 1000 });
    const lock = new Lock(new KeysAPI(client), '/chaos/lock', { ttl: 2 });
    while (!stop.signal.aborted) {
      try {
        const held = await lock.acquire({ signal: stop.signal });
        const start = now();
        await new Promise((resolve) => setTimeout(resolve, 10));
        // only trust the hold while its signal is not aborted
        const end = held.signal.aborted ? start : now();
        history.record({
          process: name,
          kind: 'hold',
          start,
          end,
          ok: !held.signal.aborted,
          token: held.fencingToken,
        });
        await held.release();
      } catch {
        // a fault: try again
      }
    }
    await lock.close().catch(() => {});
    client.close();
  };

  const workers = ['w1', 'w2', 'w3'].map(worker);
  const log = await runFaultSchedule(cluster, {
    steps: 'random',
    kinds: ['kill', 'pause', 'isolate'],
    seed: 7,
    durationMs: 4000,
    holdMs: 700,
    intervalMs: 300,
  });
  stop.abort();
  await Promise.all(workers);

  console.log(formatFaultLog(log));
  const holds = history.ofKind('hold');
  expect(holds.length).toBeGreaterThan(10);
  expect(checkNoOverlap(holds)).toEqual([]);
  expect(checkRisingTokens(holds)).toEqual([]);
});
