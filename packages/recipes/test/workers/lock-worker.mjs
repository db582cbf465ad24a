// A lock contender in its own process, for multi-process tests. Prints one JSON line per event on stdout.
//   node lock-worker.mjs <mode> <endpoints,...> <lock> <ttl> [count]
// mode "loop": acquire, fenced write, release, <count> times, printing
//              {token, acquired, released, write ('ok' or the error name), writtenAt, lost}.
// mode "lead": campaign in the election <lock> and print {leader, token} once leader; then idle.
// mode "hold": acquire once, print {held, token}, then watch held.signal: once lost, try a fenced write with
//              the old token and print {lost, write} ('ok' or the error name). Used with SIGKILL/SIGSTOP.
import { Client, KeysAPI } from '@etcdkit/client';
import { Election, FencedKey, Lock } from '../../dist/index.js';

const [mode, endpoints, name, ttl, count = '5'] = process.argv.slice(2);
const client = new Client({ endpoints: endpoints.split(','), headerTimeoutPerRequest: 1000 });
const keys = new KeysAPI(client);
const lock = new Lock(keys, name, { ttl: Number(ttl) });
const fenced = new FencedKey(keys, `${name}-resource`);
const now = () => performance.timeOrigin + performance.now();
const say = (event) => process.stdout.write(`${JSON.stringify({ pid: process.pid, ...event })}\n`);

if (mode === 'lead') {
  const term = await new Election(keys, name, { ttl: Number(ttl) }).campaign(`worker ${process.pid}`);
  say({ leader: true, token: term.fencingToken });
  setInterval(() => {}, 1000);
} else if (mode === 'loop') {
  for (let i = 0; i < Number(count); i++) {
    let held;
    try {
      held = await lock.acquire();
    } catch (error) {
      // a waiter whose own key was lost gets a typed error and tries again with a new key
      if (error.name !== 'SessionLostError' && error.name !== 'SessionExpiredError') throw error;
      say({ waiterError: error.name });
      i--;
      continue;
    }
    const acquired = now();
    let write = 'ok';
    let writtenAt = 0;
    try {
      await fenced.write(held.fencingToken, `${process.pid}:${i}`);
      writtenAt = now();
    } catch (error) {
      write = error.name;
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
    const lost = held.signal.aborted;
    const released = now();
    await held.release();
    say({ token: held.fencingToken, acquired, released, write, writtenAt, lost });
  }
  await lock.close();
  await client.close();
} else {
  const held = await lock.acquire();
  say({ held: true, token: held.fencingToken });
  held.signal.addEventListener('abort', async () => {
    let write = 'ok';
    try {
      await fenced.write(held.fencingToken, `stale from ${process.pid}`);
    } catch (error) {
      write = error.name;
    }
    say({ lost: held.signal.reason?.name, write });
    process.exit(0);
  });
  setInterval(() => {}, 1000);
}
