// Client benchmark: this client vs a minimal raw undici client vs node-etcd, on one local etcd, in one run.
// Every figure is a speed ratio against the same-run baseline: >1 means this client is faster.
//
//   npm run bench -w @etcdkit/client          (SCALE=2 for twice the operations)
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { startCluster } from '@etcdkit/testkit';
import { ourClient, rawClient } from './clients.mjs';

const scale = Number(process.env.SCALE ?? 1);
const N_SEQ = Math.round(300 * scale);
const N_CONC = Math.round(2000 * scale);
const N_WATCH = Math.round(160 * scale);
const CONCURRENCY = 64;

function nodeEtcdClient(endpoint) {
  const Etcd = createRequire(import.meta.url)('node-etcd');
  const etcd = new Etcd([endpoint.replace('http://', '')]);
  const set = promisify(etcd.set.bind(etcd));
  const get = promisify(etcd.get.bind(etcd));
  const create = promisify(etcd.create.bind(etcd));
  const watch = promisify(etcd.watchIndex.bind(etcd));
  return {
    set: (key, value) => set(key, value),
    get: (key) => get(key),
    createInOrder: (dir, value) => create(dir, value),
    watch: (key, waitIndex) => watch(key, waitIndex, {}),
    close: async () => {},
  };
}

async function timeSequential(n, op) {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await op(i);
  return performance.now() - t0;
}

async function timeConcurrent(n, op) {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < n) await op(next++);
    }),
  );
  return performance.now() - t0;
}

/** Median time from a write leaving to its watch event arriving, over n events. */
async function watchLatency(n, client, writer, key) {
  const times = [];
  for (let i = 0; i < n; i++) {
    const { node } = await writer.set(key, `w${i}`);
    const waiting = client.watch(key, node.modifiedIndex + 1);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const t0 = performance.now();
    await writer.set(key, `x${i}`);
    await waiting;
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

const cluster = await startCluster({ size: 1 });
const endpoint = cluster.clientURLs[0];
const clients = {
  ours: ourClient(endpoint),
  raw: rawClient(endpoint),
  'node-etcd': nodeEtcdClient(endpoint),
};
const writer = rawClient(endpoint);
const rows = [
  [
    'sequential set',
    (c, name) => timeSequential(N_SEQ, (i) => c.set(`/bench/${name}/s${i % 50}`, 'v')),
    N_SEQ,
  ],
  ['sequential get', (c, name) => timeSequential(N_SEQ, (i) => c.get(`/bench/${name}/s${i % 50}`)), N_SEQ],
  [
    `${CONCURRENCY}-concurrent set`,
    (c, name) => timeConcurrent(N_CONC, (i) => c.set(`/bench/${name}/c${i % 200}`, 'v')),
    N_CONC,
  ],
  [
    `${CONCURRENCY}-concurrent get`,
    (c, name) => timeConcurrent(N_CONC, (i) => c.get(`/bench/${name}/c${i % 200}`)),
    N_CONC,
  ],
  [
    'sequential createInOrder',
    (c, name) => timeSequential(N_SEQ, () => c.createInOrder(`/bench/${name}/q`, 'v')),
    N_SEQ,
  ],
  [
    'watch notify latency (median)',
    (c, name) => watchLatency(N_WATCH, c, writer, `/bench/${name}/w`),
    N_WATCH,
  ],
];
// Warm up every client, then measure each row for each client, alternating to spread the machine's noise.
for (const [name, client] of Object.entries(clients)) {
  await client.set(`/bench/${name}/s0`, 'v');
  await timeConcurrent(200, (i) => client.get(`/bench/${name}/s${i % 1}`));
}
// Each row runs ROUNDS times per client, the clients' order rotating each round. A round gives each client a
// time and the CPU time this process used meanwhile (the clients share the process, one runs at a time; etcd
// runs in its own); ratios are taken within a round, and the table shows their median and spread.
const ROUNDS = Number(process.env.ROUNDS ?? 11);
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const results = [];
for (const [label, run, ops] of rows) {
  const names = Object.keys(clients);
  const times = Object.fromEntries(names.map((name) => [name, []]));
  const cpu = Object.fromEntries(names.map((name) => [name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < names.length; k++) {
      const name = names[(round + k) % names.length];
      const cpu0 = process.cpuUsage();
      times[name].push(await run(clients[name], name));
      const used = process.cpuUsage(cpu0);
      cpu[name].push((used.user + used.system) / ops);
    }
  }
  results.push({ label, times, cpu });
}
for (const client of [...Object.values(clients), writer]) await client.close();
await cluster.close();

const fmt = (ms) => (ms < 10 ? `${ms.toFixed(2)} ms` : `${ms.toFixed(0)} ms`);
/** Median and min-max of per-round ratios `a[i] / b[i]`. */
function ratio(a, b) {
  const values = a.map((value, round) => value / b[round]);
  return `${median(values).toFixed(2)}x (${Math.min(...values).toFixed(2)}-${Math.max(...values).toFixed(2)})`;
}
console.log(`## @etcdkit/client vs raw undici vs node-etcd (etcd ${cluster.version}, 1 member, one run)\n`);
console.log(
  "Speed ratio = the baseline's time / this client's time in the same round (>1: this client is faster); median and (min-max) over the rounds.\n",
);
console.log('| operation | this client | raw undici | node-etcd | vs raw undici | vs node-etcd |');
console.log('|---|---|---|---|---|---|');
for (const { label, times } of results) {
  console.log(
    `| ${label} | ${fmt(median(times.ours))} | ${fmt(median(times.raw))} | ${fmt(median(times['node-etcd']))} | ${ratio(times.raw, times.ours)} | ${ratio(times['node-etcd'], times.ours)} |`,
  );
}
console.log(
  "\nClient CPU per operation: this process's CPU time (user + system) while one client ran a row, per operation (the watch row also counts the two writes per event, the same for every client). Ratio = this client's / raw undici's in the same round (<1: this client uses less).\n",
);
console.log('| operation | this client | raw undici | node-etcd | this client / raw undici |');
console.log('|---|---|---|---|---|');
const us = (value) => `${value.toFixed(1)} µs`;
for (const { label, cpu } of results) {
  console.log(
    `| ${label} | ${us(median(cpu.ours))} | ${us(median(cpu.raw))} | ${us(median(cpu['node-etcd']))} | ${ratio(cpu.ours, cpu.raw)} |`,
  );
}
console.log(
  `\n(${ROUNDS} rounds; ${N_SEQ} sequential ops, ${N_CONC} concurrent ops (${CONCURRENCY} at a time), ${N_WATCH} watch events per round; node ${process.version})`,
);
