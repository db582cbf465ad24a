// Watch CPU benchmark (issue #13): where the client's CPU per watch event goes, against the minimal raw undici
// client the client bench compares with (`clients.mjs`), in one run. The client bench's watch row (each event after 5 ms of idle, a
// few thousand events in all) finds this client's CPU per event about 1.1x raw's; this bench separates what
// that ratio is made of:
//   1. in process: each client's own CPU per call, against an in-process dispatcher that answers at once (no
//      network, no etcd), once its code is warm (V8 has optimised it);
//   2. against etcd, events back to back, once warm (WARM events of each client first);
//   3. against etcd, each event after 5 ms of idle (the client bench's watch row), once warm.
// Against etcd an event counts from the watch call, so that building and sending the request counts too (until
// 2026-12-02 it counted from the write that makes the event, which left the request's cost out).
// Rounds alternate the clients' order; ratios (this client's CPU / raw's) are taken within a round, and the
// tables give their median and spread (min-max) over the rounds.
//
//   node bench/watch-cpu-bench.mjs   (ROUNDS=9, EVENTS=160 per round, WARM=20000 events, CALLS=100000)
import { startCluster } from '@etcdkit/testkit';
import { Dispatcher } from 'undici';
import { ourClient, rawClient } from './clients.mjs';

const ROUNDS = Number(process.env.ROUNDS ?? 9);
const EVENTS = Number(process.env.EVENTS ?? 160);
const WARM = Number(process.env.WARM ?? 20_000);
const CALLS = Number(process.env.CALLS ?? 100_000);
const KEY = '/bench/watch-cpu';

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const ratio = (values) =>
  `${median(values).toFixed(2)}x (${Math.min(...values).toFixed(2)}-${Math.max(...values).toFixed(2)})`;
const cpuMicros = (since) => {
  const used = process.cpuUsage(since);
  return used.user + used.system;
};

/** An in-process dispatcher: every request gets etcd's reply to a watch at once, on the next microtask. */
class Instant extends Dispatcher {
  static body = Buffer.from(
    `${JSON.stringify({
      action: 'set',
      node: { key: KEY, value: 'x1', modifiedIndex: 12, createdIndex: 12 },
      prevNode: { key: KEY, value: 'w1', modifiedIndex: 11, createdIndex: 11 },
    })}\n`,
  );
  static headers = [
    ['Content-Type', 'application/json'],
    ['X-Etcd-Cluster-Id', 'cdf818194e3a8c32'],
    ['X-Etcd-Index', '12'],
    ['X-Raft-Index', '13'],
    ['X-Raft-Term', '2'],
    ['Date', 'Wed, 02 Dec 2026 07:00:00 GMT'],
    ['Content-Length', String(Instant.body.length)],
  ].flatMap(([name, value]) => [Buffer.from(name), Buffer.from(value)]);

  dispatch(_options, handler) {
    queueMicrotask(() => {
      handler.onConnect?.(() => {});
      handler.onHeaders?.(200, Instant.headers, () => {}, 'OK');
      handler.onData?.(Instant.body);
      handler.onComplete?.([]);
    });
    return true;
  }

  async close() {}
  async destroy() {}
}

/** Part 1: CPU per call of each client against {@link Instant}, in µs, per round; both warm first. */
async function inProcess() {
  const origin = 'http://127.0.0.1:2379';
  const clients = { ours: ourClient(origin, new Instant()), raw: rawClient(origin, new Instant()) };
  for (const { watch } of Object.values(clients)) for (let i = 0; i < WARM; i++) await watch(KEY, 12);
  const cpu = { ours: [], raw: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of round % 2 ? ['raw', 'ours'] : ['ours', 'raw']) {
      const since = process.cpuUsage();
      for (let i = 0; i < CALLS / ROUNDS; i++) await clients[name].watch(KEY, 12);
      cpu[name].push(cpuMicros(since) / (CALLS / ROUNDS));
    }
  }
  for (const client of Object.values(clients)) await client.close();
  return cpu;
}

/**
 * One round of `events` watch events for one client: its CPU per event from the watch call (which builds and
 * sends the request) to the event, in µs.
 */
async function eventRound(watch, writer, key, idleMs) {
  let cpu = 0;
  for (let i = 0; i < EVENTS; i++) {
    const { node } = await writer.set(key, `w${i}`);
    const since = process.cpuUsage();
    const waiting = watch(key, node.modifiedIndex + 1);
    if (idleMs > 0) await new Promise((resolve) => setTimeout(resolve, idleMs));
    else await new Promise((resolve) => setImmediate(resolve));
    await writer.set(key, `x${i}`);
    await waiting;
    cpu += cpuMicros(since);
  }
  return cpu / EVENTS;
}

/** Parts 2 and 3: against etcd, once warm; per round, each client's CPU per event (back to back, after idle). */
async function againstEtcd(endpoint) {
  const clients = { ours: ourClient(endpoint), raw: rawClient(endpoint) };
  const writer = rawClient(endpoint);
  for (const [name, { watch }] of Object.entries(clients)) {
    const key = `${KEY}/${name}`;
    for (let i = 0; i < WARM; i++) {
      const { node } = await writer.set(key, `w${i}`);
      const waiting = watch(key, node.modifiedIndex + 1);
      await writer.set(key, `x${i}`);
      await waiting;
    }
  }
  const parts = { backToBack: 0, afterIdle: 5 };
  const cpu = Object.fromEntries(Object.keys(parts).map((part) => [part, { ours: [], raw: [] }]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const [part, idleMs] of Object.entries(parts)) {
      for (const name of round % 2 ? ['raw', 'ours'] : ['ours', 'raw'])
        cpu[part][name].push(await eventRound(clients[name].watch, writer, `${KEY}/${name}`, idleMs));
    }
  }
  for (const client of [...Object.values(clients), writer]) await client.close();
  return cpu;
}

const local = await inProcess();
const cluster = await startCluster({ size: 1 });
const etcd = await againstEtcd(cluster.clientURLs[0]);
await cluster.close();

const rows = [
  ['in process (an instant dispatcher), warm: CPU per watch call', local, 'µs / call'],
  ['etcd, events back to back, warm: CPU per event', etcd.backToBack, 'µs / event'],
  ['etcd, each event after 5 ms idle, warm: CPU per event', etcd.afterIdle, 'µs / event'],
];
console.log(
  `## @etcdkit/client: CPU per watch event against raw undici (etcd ${cluster.version}, 1 member)\n`,
);
console.log(
  'This client / raw undici, per round (<1: this client uses less); median and (min-max) over the rounds. An event counts the process CPU from the watch call (which builds and sends the request) to the event, the write that makes it included (the same raw request for both).\n',
);
console.log('| measure | this client | raw undici | this client / raw undici |');
console.log('|---|---|---|---|');
for (const [label, cpu, unit] of rows) {
  const perRound = cpu.ours.map((value, round) => value / cpu.raw[round]);
  console.log(
    `| ${label} | ${median(cpu.ours).toFixed(1)} ${unit} | ${median(cpu.raw).toFixed(1)} ${unit} | ${ratio(perRound)} |`,
  );
}
console.log(
  `\n(${ROUNDS} rounds; ${CALLS} calls in process, ${EVENTS} events per round and client against etcd, after ${WARM} warm-up calls or events each; node ${process.version})`,
);
