// Several contenders of one recipe in this process, for multi-process contention tests. Each has its own
// client, loops <count> times: take, hold a moment, give back; prints one JSON line per grant.
//   node recipe-worker.mjs <semaphore|election|rwlock> <endpoints,...> <name> <contenders> <count>
import { Client, KeysAPI } from '@etcdkit/client';
import { Election, RWLock, Semaphore } from '../../dist/index.js';

const [kind, endpoints, name, contenders, count] = process.argv.slice(2);
const now = () => performance.timeOrigin + performance.now();
const say = (event) => process.stdout.write(`${JSON.stringify({ pid: process.pid, ...event })}\n`);

async function contender(index) {
  const client = new Client({ endpoints: endpoints.split(',') });
  const keys = new KeysAPI(client);
  const options = { ttl: 5 };
  for (let i = 0; i < Number(count); i++) {
    let grant;
    let mode = 'x';
    if (kind === 'semaphore') grant = await new Semaphore(keys, name, 3, options).acquire();
    else if (kind === 'election') {
      const term = await new Election(keys, name, options).campaign(`${process.pid}/${index}`);
      grant = { fencingToken: term.fencingToken, release: () => term.resign() };
    } else {
      mode = (index + i) % 3 === 0 ? 'w' : 'r';
      const lock = new RWLock(keys, name, options);
      grant = mode === 'w' ? await lock.writeLock() : await lock.readLock();
    }
    const acquired = now();
    // hold long enough that holders that may share (permits, readers) really overlap
    await new Promise((resolve) => setTimeout(resolve, 25));
    const released = now();
    await grant.release();
    say({ token: grant.fencingToken, mode, acquired, released });
  }
  await client.close();
}

await Promise.all(Array.from({ length: Number(contenders) }, (_, i) => contender(i)));
process.exit(0);
