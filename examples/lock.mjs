// A fenced lock: several workers in one process take turns writing a report; each write carries the
// holder's fencing token, so a holder that paused past its TTL could never overwrite a newer one's report.
//   ETCDCTL_ENDPOINTS=http://127.0.0.1:2379 node examples/lock.mjs
import { Client, KeysAPI } from '@etcdkit/client';
import { FencedKey, Lock } from '@etcdkit/recipes';

const endpoints = (process.env.ETCDCTL_ENDPOINTS ?? 'http://127.0.0.1:2379').split(',');
const prefix = process.env.EXAMPLE_PREFIX ?? '/examples';
const client = new Client({ endpoints });
const keys = new KeysAPI(client);

/** @param {string} name */
async function worker(name) {
  const lock = new Lock(keys, `${prefix}/locks/report`, { ttl: 5 });
  const report = new FencedKey(keys, `${prefix}/report`);
  for (let round = 0; round < 3; round++) {
    const held = await lock.acquire({ signal: AbortSignal.timeout(30_000) });
    try {
      await report.write(held.fencingToken, `${name}, round ${round}`, { signal: held.signal });
      console.log(`${name} wrote with token ${held.fencingToken}`);
    } finally {
      await held.release(); // or, in TypeScript: `await using held = await lock.acquire()`
    }
  }
  await lock.close();
}

await Promise.all(['alice', 'bob', 'carol'].map(worker));
console.log('last report:', (await new FencedKey(keys, `${prefix}/report`).read())?.data);
client.close();
