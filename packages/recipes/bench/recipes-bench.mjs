// Recipes benchmark, on a local 3-member etcd (testkit, fast raft timings). Figures are medians, each also
// given as a ratio to a baseline measured in the same run:
// - lock handoff (release -> next holder) with 1, 10 and 50 contenders, against one etcd write plus one watch
//   notification; etcd requests per acquisition (herd-free: constant as contenders grow);
// - election failover after SIGKILL of the leader process (against the TTL) and after a graceful resign;
// - registry change propagation (register -> a watching cache sees it), against a write + watch notification.
//
//   npm run bench -w @etcdkit/recipes
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Client, KeysAPI } from '@etcdkit/client';
import { startCluster } from '@etcdkit/testkit';
import { Agent, Dispatcher } from 'undici';
import { Election, Lock, ServiceRegistry } from '../dist/index.js';

const WORKER = fileURLToPath(new URL('../test/workers/lock-worker.mjs', import.meta.url));
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const cluster = await startCluster({ size: 3 });
const endpoints = cluster.clientURLs;

/** A dispatcher that counts the requests it sends. */
class CountingDispatcher extends Dispatcher {
  count = 0;
  #agent = new Agent();
  dispatch(options, handler) {
    this.count++;
    return this.#agent.dispatch(options, handler);
  }
  close() {
    return this.#agent.close();
  }
}

function newKeys(dispatcher) {
  const client = new Client({ endpoints, watchLivenessInterval: 0, ...(dispatcher ? { dispatcher } : {}) });
  return new KeysAPI(client);
}

/** Baseline: a write through one client, seen by a watch of another. */
async function writeAndNotify(rounds = 30) {
  const writer = newKeys();
  const watcherKeys = newKeys();
  const times = [];
  for (let i = 0; i < rounds; i++) {
    const { node } = await writer.set('/bench/baseline', `v${i}`);
    const next = watcherKeys.watcher('/bench/baseline', { afterIndex: node.modifiedIndex }).next();
    await new Promise((resolve) => setTimeout(resolve, 5));
    const t0 = performance.now();
    await writer.set('/bench/baseline', `w${i}`);
    await next;
    times.push(performance.now() - t0);
  }
  return median(times);
}

/**
 * Hand-over with `waiting` contenders queued behind the holder: once every waiter's watch is in place, the
 * holder releases; handoff = time from the release call to the next holder's acquisition. The old holder
 * then queues again, so the number of waiters stays the same.
 */
async function handoff(waiting, rounds) {
  const name = `/bench/lock-${waiting}`;
  const counter = new CountingDispatcher();
  const locks = Array.from({ length: waiting + 1 }, () => new Lock(newKeys(counter), name, { ttl: 10 }));
  let current;
  let acquisitions = 0;
  const acquiredAt = [];
  const stop = { done: false };
  const loops = locks.map(async (lock) => {
    while (!stop.done) {
      const held = await lock.acquire();
      acquiredAt.push(performance.now());
      acquisitions++;
      await new Promise((resolve) => {
        current = { held, resolve };
      });
    }
  });
  const gaps = [];
  for (let round = 0; round <= rounds; round++) {
    while (!current) await new Promise((resolve) => setTimeout(resolve, 1));
    const { held, resolve } = current;
    current = undefined;
    await new Promise((r) => setTimeout(r, 20)); // every waiter is watching by now
    const before = acquiredAt.length;
    const t0 = performance.now();
    if (round === rounds) stop.done = true;
    await held.release();
    if (round === rounds) {
      resolve();
      break;
    }
    while (acquiredAt.length === before) await new Promise((r) => setImmediate(r));
    gaps.push(acquiredAt[before] - t0);
    resolve(); // the old holder queues again only after the hand-over was measured
  }
  // let the remaining waiters through so that every loop ends
  for (;;) {
    while (!current && acquisitions < 10_000) {
      const settled = await Promise.race([
        Promise.all(loops).then(() => true),
        new Promise((r) => setTimeout(() => r(false), 5)),
      ]);
      if (settled) break;
    }
    if (!current) break;
    const { held, resolve } = current;
    current = undefined;
    await held.release();
    resolve();
  }
  await Promise.all(loops);
  for (const lock of locks) await lock.close();
  return { handoff: median(gaps), requestsPerAcquisition: counter.count / acquisitions };
}

function startLeaderProcess(name) {
  const child = spawn(process.execPath, [WORKER, 'lead', endpoints.join(','), name, '2'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve) => {
    createInterface({ input: child.stdout }).once('line', () => resolve(child));
  });
}

async function electionFailover(rounds) {
  const killed = [];
  const resigned = [];
  for (let i = 0; i < rounds; i++) {
    const name = `/bench/election-${i}`;
    const leader = await startLeaderProcess(name);
    const successor = new Election(newKeys(), name, { ttl: 2 });
    const campaign = successor.campaign('successor');
    await new Promise((resolve) => setTimeout(resolve, 200));
    const t0 = performance.now();
    leader.kill('SIGKILL');
    const term = await campaign;
    killed.push(performance.now() - t0);
    const next = new Election(newKeys(), name, { ttl: 2 });
    const nextCampaign = next.campaign('next');
    await new Promise((resolve) => setTimeout(resolve, 100));
    const t1 = performance.now();
    await term.resign();
    const nextTerm = await nextCampaign;
    resigned.push(performance.now() - t1);
    await nextTerm.resign();
    await successor.close();
    await next.close();
  }
  return { killed: median(killed), resigned: median(resigned) };
}

async function registryPropagation(rounds) {
  const registry = new ServiceRegistry(newKeys(), '/bench/services', { ttl: 5 });
  const cache = new ServiceRegistry(newKeys(), '/bench/services', { ttl: 5 }).cache('api');
  await cache.ready();
  const times = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    const reg = await registry.register({ service: 'api', id: `i${i}`, address: '127.0.0.1', port: 1 });
    while (!cache.instances().some((instance) => instance.id === `i${i}`))
      await new Promise((r) => setImmediate(r));
    times.push(performance.now() - t0);
    await reg.close();
  }
  cache.close();
  await registry.close();
  return median(times);
}

// Each round measures its own baseline and every row; a ratio is taken within its round, and the table shows
// the median over the rounds and their spread (min-max), as the machine's noise moves both sides together.
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const rounds = [];
for (let round = 0; round < ROUNDS; round++) {
  const baseline = await writeAndNotify();
  const rows = [];
  for (const waiting of [1, 10, 50]) {
    const { handoff: ms, requestsPerAcquisition } = await handoff(waiting, 30);
    rows.push([`lock handoff, ${waiting} waiting`, ms, 'write + watch notify', ms / baseline]);
    rows.push([`etcd requests per acquisition, ${waiting} waiting`, requestsPerAcquisition, '', undefined]);
  }
  const failover = await electionFailover(5);
  rows.push(['election failover after SIGKILL', failover.killed, 'TTL (2000 ms)', failover.killed / 2000]);
  rows.push([
    'election failover after resign',
    failover.resigned,
    'write + watch notify',
    failover.resigned / baseline,
  ]);
  const propagation = await registryPropagation(20);
  rows.push(['registry change propagation', propagation, 'write + watch notify', propagation / baseline]);
  rounds.push({ baseline, rows });
}
await cluster.close();

const spread = (values, digits, unit = '') =>
  `${median(values).toFixed(digits)}${unit} (${Math.min(...values).toFixed(digits)}-${Math.max(...values).toFixed(digits)})`;
console.log(
  `## @etcdkit/recipes (etcd ${cluster.version}, 3 members, fast raft timings, ${ROUNDS} rounds)\n`,
);
console.log(
  `Baseline, one etcd write + watch notification: ${spread(
    rounds.map((r) => r.baseline),
    2,
  )} ms (median of each round's median, and the rounds' min-max). Each ratio is taken within its round.\n`,
);
console.log('| measure | median | baseline | ratio (min-max) |\n|---|---|---|---|');
for (const [i, [name, , base, firstRatio]] of rounds[0].rows.entries()) {
  const values = rounds.map((r) => r.rows[i][1]);
  const shown = name.startsWith('etcd requests') ? spread(values, 1) : `${median(values).toFixed(1)} ms`;
  const ratio =
    firstRatio === undefined
      ? ''
      : `${spread(
          rounds.map((r) => r.rows[i][3]),
          2,
        ).replace(' (', 'x (')}`;
  console.log(`| ${name} | ${shown} | ${base} | ${ratio} |`);
}
process.exit(0);
