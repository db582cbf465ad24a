// A lock contender in its own process, for multi-process tests. Prints one JSON line per event on stdout.
//   node lock-worker.mjs <mode> <endpoints,...> <lock> <ttl> [count]
// mode "loop": acquire, fenced write, hold [holdMs] (default 5 ms), release, <count> times, printing
//              {holding: token} once acquired, then {token, acquired, released, write ('ok' or the error
//              name), writtenAt, lost (the lock was no longer valid at the end of the hold), lostAt (when
//              its holder learnt that: its signal aborted, or it found it invalid; 0 if it was not lost)}.
//   node lock-worker.mjs loop <endpoints,...> <lock> <ttl> <count> [holdMs]
//              SIGUSR1 while it holds: this hold goes on until the lock is lost (at most ttl + 5 s), as a holder
//              that keeps believing it holds while a test cuts it off; it prints {holdingOn: token} when it does
//              (a signal that comes too late for this hold is for no other: no {holdingOn} then).
//              An acquire that fails for any other reason than a lost session prints {acquireError} and is
//              tried again (a contender under network faults goes on).
// mode "lead": campaign in the election <lock> and print {leader, token} once leader; then idle.
// mode "hold": acquire once, print {held, token}, then watch held.signal: once lost, try a fenced write with
//              the old token and print {lost, write} ('ok' or the error name). Used with SIGKILL/SIGSTOP.
import { Client, KeysAPI } from '@etcdkit/client';
import { now } from '@etcdkit/testkit';
import { Election, FencedKey, Lock } from '../../dist/index.js';

const [mode, endpoints, name, ttl, count = '5', holdMs = '5'] = process.argv.slice(2);
const client = new Client({ endpoints: endpoints.split(','), headerTimeoutPerRequest: 1000 });
const keys = new KeysAPI(client);
const lock = new Lock(keys, name, { ttl: Number(ttl) });
const fenced = new FencedKey(keys, `${name}-resource`);
const say = (event) => process.stdout.write(`${JSON.stringify({ pid: process.pid, ...event })}\n`);

if (mode === 'lead') {
  const term = await new Election(keys, name, { ttl: Number(ttl) }).campaign(`worker ${process.pid}`);
  say({ leader: true, token: term.fencingToken });
  setInterval(() => {}, 1000);
} else if (mode === 'loop') {
  let holding; // the token held now, between its acquisition and the end of its hold
  let holdOn; // the token SIGUSR1 asked to hold on to
  process.on('SIGUSR1', () => {
    holdOn = holding;
  });
  for (let i = 0; i < Number(count); i++) {
    let held;
    try {
      held = await lock.acquire();
    } catch (error) {
      // a waiter whose own key was lost gets a typed error and tries again with a new key
      if (error.name === 'SessionLostError' || error.name === 'SessionExpiredError')
        say({ waiterError: error.name });
      else {
        say({ acquireError: error.name, message: error.message });
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      i--;
      continue;
    }
    holding = held.fencingToken;
    const acquired = now();
    // when the signal aborted: the loss, if it is lost before the release below (which aborts it too)
    let abortedAt = held.signal.aborted ? acquired : 0;
    held.signal.addEventListener('abort', () => {
      abortedAt = now();
    });
    say({ holding: held.fencingToken });
    let write = 'ok';
    let writtenAt = 0;
    try {
      await fenced.write(held.fencingToken, `${process.pid}:${i}`);
      writtenAt = now();
    } catch (error) {
      write = error.name;
    }
    await new Promise((resolve) => setTimeout(resolve, Number(holdMs)));
    const holdingOn = holdOn === held.fencingToken;
    holding = undefined;
    if (holdingOn) {
      say({ holdingOn: held.fencingToken });
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, Number(ttl) * 1000 + 5000);
        const done = () => {
          clearTimeout(timer);
          resolve();
        };
        if (held.signal.aborted) done();
        held.signal.addEventListener('abort', done);
      });
    }
    // `valid` tells a loss on the clock, also before the timer that aborts the signal has run (a process
    // starved past the key's validity): the holder learns it now
    const released = now(); // the time first: a stop between the two lines must not stretch a valid hold
    const lost = !held.valid;
    if (lost && abortedAt === 0) abortedAt = released;
    await held.release();
    say({
      token: held.fencingToken,
      acquired,
      released,
      write,
      writtenAt,
      lost,
      lostAt: lost ? abortedAt : 0,
    });
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
