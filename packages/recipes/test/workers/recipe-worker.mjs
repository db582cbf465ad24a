// Several contenders of one recipe in this process, for multi-process contention tests. Each has its own
// client, loops <count> times: take, hold a moment, give back; prints one JSON line per grant.
//   node recipe-worker.mjs <semaphore|election|rwlock> <endpoints,...> <name> <contenders> <count>
// Other kinds print one line per contender: queue (takes <count> items), barrier (waits once),
// double-barrier (<count> = members in all: enter, hold, leave), registry (registers, holds, closes).
import { Client, KeysAPI } from '@etcdkit/client';
import { now } from '@etcdkit/testkit';
import {
  Barrier,
  DoubleBarrier,
  Election,
  Queue,
  RWLock,
  Semaphore,
  ServiceRegistry,
} from '../../dist/index.js';

const [kind, endpoints, name, contenders, count] = process.argv.slice(2);
const say = (event) => process.stdout.write(`${JSON.stringify({ pid: process.pid, ...event })}\n`);

async function once(keys, index) {
  if (kind === 'queue') {
    const queue = new Queue(keys, name);
    for (let i = 0; i < Number(count); i++)
      say({ item: (await queue.take({ signal: AbortSignal.timeout(20_000) })).value });
  } else if (kind === 'barrier') {
    await new Barrier(keys, name).wait({ signal: AbortSignal.timeout(20_000) });
    say({ passed: now() });
  } else if (kind === 'double-barrier') {
    const barrier = new DoubleBarrier(keys, name, Number(count), { ttl: 5 });
    const entering = now();
    await barrier.enter({ signal: AbortSignal.timeout(20_000) });
    const entered = now();
    await new Promise((resolve) => setTimeout(resolve, 20 + index * 5));
    const leaving = now();
    await barrier.leave({ signal: AbortSignal.timeout(20_000) });
    say({ entering, entered, leaving, left: now() });
    await barrier.close();
  } else {
    const registry = new ServiceRegistry(keys, name, { ttl: 5 });
    const reg = await registry.register({
      service: 'api',
      id: `${process.pid}-${index}`,
      address: '127.0.0.1',
      port: 1,
    });
    say({ registered: reg.instance.id });
    await new Promise((resolve) => setTimeout(resolve, 300));
    await reg.close();
    await registry.close();
  }
}

async function contender(index) {
  const client = new Client({ endpoints: endpoints.split(',') });
  const keys = new KeysAPI(client);
  const options = { ttl: 5 };
  if (!['semaphore', 'election', 'rwlock'].includes(kind)) {
    await once(keys, index);
    await client.close();
    return;
  }
  for (let i = 0; i < Number(count); i++) {
    let grant;
    let mode = 'x';
    if (kind === 'semaphore') grant = await new Semaphore(keys, name, 3, options).acquire();
    else if (kind === 'election') {
      const term = await new Election(keys, name, options).campaign(`${process.pid}/${index}`);
      grant = {
        fencingToken: term.fencingToken,
        signal: term.signal,
        get valid() {
          return term.valid;
        },
        release: () => term.resign(),
      };
    } else {
      mode = (index + i) % 3 === 0 ? 'w' : 'r';
      const lock = new RWLock(keys, name, options);
      grant = mode === 'w' ? await lock.writeLock() : await lock.readLock();
    }
    const acquired = now();
    // hold long enough that holders that may share (permits, readers) really overlap
    await new Promise((resolve) => setTimeout(resolve, 25));
    const released = now();
    // A holder may trust its grant only while it is valid (not so when its key's validity ran out while this
    // process was starved: `valid` tells that on the clock, before the timer that aborts the signal has run):
    // the checks count only the grants that were trusted to the end.
    const trusted = grant.valid;
    await grant.release();
    say({ token: grant.fencingToken, mode, acquired, released, trusted });
  }
  await client.close();
}

await Promise.all(Array.from({ length: Number(contenders) }, (_, i) => contender(i)));
process.exit(0);
