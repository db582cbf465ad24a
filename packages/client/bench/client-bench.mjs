// Client benchmark: this client vs a minimal raw undici client vs node-etcd, on one local etcd, in one run.
// Every figure is a speed ratio against the same-run baseline: >1 means this client is faster.
//
//   npm run bench -w @etcdkit/client          (SCALE=2 for twice the operations)
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { startCluster } from '@etcdkit/testkit';
import { Agent } from 'undici';
import { Client, KeysAPI } from '../dist/index.js';

const scale = Number(process.env.SCALE ?? 1);
const N_SEQ = Math.round(300 * scale);
const N_CONC = Math.round(2000 * scale);
const N_WATCH = Math.round(40 * scale);
const CONCURRENCY = 64;

/** The minimal raw client: undici requests with the same wire format, no failover, no checks. */
function rawClient(origin) {
  const agent = new Agent({ keepAliveTimeout: 30_000 });
  const call = async (method, path, body) => {
    const reply = await agent.request({
      origin,
      path,
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/x-www-form-urlencoded' },
      body: body ?? null,
    });
    return JSON.parse(await reply.body.text());
  };
  return {
    set: (key, value) => call('PUT', `/v2/keys${key}`, `value=${encodeURIComponent(value)}`),
    get: (key) => call('GET', `/v2/keys${key}?quorum=false&recursive=false&sorted=false`),
    createInOrder: (dir, value) => call('POST', `/v2/keys${dir}`, `value=${encodeURIComponent(value)}`),
    watch: (key, waitIndex) => call('GET', `/v2/keys${key}?recursive=false&wait=true&waitIndex=${waitIndex}`),
    close: () => agent.close(),
  };
}

function ourClient(endpoint) {
  const client = new Client({ endpoints: [endpoint] });
  const keys = new KeysAPI(client);
  return {
    set: (key, value) => keys.set(key, value),
    get: (key) => keys.get(key),
    createInOrder: (dir, value) => keys.createInOrder(dir, value),
    watch: (key, waitIndex) => keys.watcher(key, { afterIndex: waitIndex - 1 }).next(),
    close: () => client.close(),
  };
}

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
  ['sequential set', (c, name) => timeSequential(N_SEQ, (i) => c.set(`/bench/${name}/s${i % 50}`, 'v'))],
  ['sequential get', (c, name) => timeSequential(N_SEQ, (i) => c.get(`/bench/${name}/s${i % 50}`))],
  [
    `${CONCURRENCY}-concurrent set`,
    (c, name) => timeConcurrent(N_CONC, (i) => c.set(`/bench/${name}/c${i % 200}`, 'v')),
  ],
  [
    `${CONCURRENCY}-concurrent get`,
    (c, name) => timeConcurrent(N_CONC, (i) => c.get(`/bench/${name}/c${i % 200}`)),
  ],
  [
    'sequential createInOrder',
    (c, name) => timeSequential(N_SEQ, () => c.createInOrder(`/bench/${name}/q`, 'v')),
  ],
  ['watch notify latency (median)', (c, name) => watchLatency(N_WATCH, c, writer, `/bench/${name}/w`)],
];
// Warm up every client, then measure each row for each client, alternating to spread the machine's noise.
for (const [name, client] of Object.entries(clients)) {
  await client.set(`/bench/${name}/s0`, 'v');
  await timeConcurrent(200, (i) => client.get(`/bench/${name}/s${i % 1}`));
}
// Each row runs ROUNDS times per client, the clients' order rotating each round; the median counts.
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const results = [];
for (const [label, run] of rows) {
  const samples = Object.fromEntries(Object.keys(clients).map((name) => [name, []]));
  const names = Object.keys(clients);
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < names.length; k++) {
      const name = names[(round + k) % names.length];
      samples[name].push(await run(clients[name], name));
    }
  }
  results.push([label, Object.fromEntries(names.map((name) => [name, median(samples[name])]))]);
}
for (const client of [...Object.values(clients), writer]) await client.close();
await cluster.close();

const fmt = (ms) => (ms < 10 ? `${ms.toFixed(2)} ms` : `${ms.toFixed(0)} ms`);
console.log(`## @etcdkit/client vs raw undici vs node-etcd (etcd ${cluster.version}, 1 member, one run)\n`);
console.log('Speed ratio = baseline time / this client time (>1: this client is faster).\n');
console.log('| operation | this client | raw undici | node-etcd | vs raw undici | vs node-etcd |');
console.log('|---|---|---|---|---|---|');
for (const [label, t] of results) {
  console.log(
    `| ${label} | ${fmt(t.ours)} | ${fmt(t.raw)} | ${fmt(t['node-etcd'])} | ${(t.raw / t.ours).toFixed(2)}x | ${(t['node-etcd'] / t.ours).toFixed(2)}x |`,
  );
}
console.log(
  `\n(median of ${ROUNDS} rounds; ${N_SEQ} sequential ops, ${N_CONC} concurrent ops, ${N_WATCH} watch events per round; node ${process.version})`,
);
