// One variant of the idle-waiters benchmark, in a process of its own (so that its CPU is its own):
//
//   node idle-worker.mjs <variant> <clientURL> <waiters> <ttl> <windowMs> [settleMs]
//
// variant: `refreshes` (waiters + 1 keys kept alive by TTL refreshes every TTL/3, nothing else: the floor),
// `etcdkit` (a Lock holder and <waiters> Lock waiters on one key), `etcd3` (microsoft's v3 client: an election
// leader and <waiters> campaigns waiting behind it, each with its own lease: etcd's queue recipe on v3).
// Sets up, waits until everything waits and the setup's connections have closed (settleMs), then measures one
// window (announced by a `{"window":"start"}` line, for the bench to count sockets) and prints one JSON line: this process's
// CPU, the client's requests and bytes read (diagnostics channels; v2 variants), and etcd's own counters from
// /metrics over the window (v2 HTTP requests received, v3 gRPC messages received, etcd's CPU).
import { randomUUID } from 'node:crypto';
import diagnosticsChannel from 'node:diagnostics_channel';
import { hostname } from 'node:os';
import { Client, ClientChannels, KeysAPI } from '@etcdkit/client';
import { readEtcdMetrics } from '@etcdkit/testkit';
import { Etcd3 } from 'etcd3';
import { queueLockWaiters } from '../lock-waiters.mjs';

const [variant, url, waitersArg, ttlArg, windowArg, settleArg] = process.argv.slice(2);
const waiters = Number(waitersArg);
const ttl = Number(ttlArg);
const windowMs = Number(windowArg);
// after the setup, before the window: long enough for the connections of the setup's burst to go idle and close
const settleMs = Number(settleArg ?? 1000);
const name = `/bench/idle-${variant}-${process.pid}`;

async function metrics() {
  const sum = await readEtcdMetrics(url);
  return {
    v2Requests: sum('etcd_http_received_total'),
    grpcMessages: sum('grpc_server_msg_received_total'),
    etcdCpuSeconds: sum('process_cpu_seconds_total'),
  };
}

const counted = { requests: 0, bytes: 0 };
let watchStarts = 0;
// the long-polls in flight (watch calls started and not ended)
const longPolls = new Set();
diagnosticsChannel.subscribe(ClientChannels.callStart, ({ call }) => {
  if (call.operation === 'watch') longPolls.add(call.id);
});
for (const name of [ClientChannels.callEnd, ClientChannels.callError])
  diagnosticsChannel.subscribe(name, ({ call }) => longPolls.delete(call.id));
diagnosticsChannel.subscribe(ClientChannels.requestStart, () => {
  counted.requests++;
});
diagnosticsChannel.subscribe(ClientChannels.requestEnd, (message) => {
  counted.bytes += message.bytes;
});
diagnosticsChannel.subscribe(ClientChannels.watchStart, (message) => {
  // the waiters' own waits, not the long-poll their client shares for them (a watch hub's, `hub: true`)
  if (!message.watch.hub) watchStarts++;
});

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
let cleanup = async () => {};
/** The sessions lost before the window's end (see `queueLockWaiters`); none for the other variants. */
let sessionsLost = () => 0;

if (variant === 'refreshes') {
  const client = new Client({ endpoints: [url] });
  const keys = new KeysAPI(client);
  const timers = [];
  // a value like a Lock contender's (owner id, host, pid): its refresh replies carry it too
  const value = JSON.stringify({ owner: randomUUID(), host: hostname(), pid: process.pid });
  for (let i = 0; i <= waiters; i++) {
    const { node } = await keys.createInOrder(name, value, { ttl });
    let index = node.modifiedIndex;
    const timer = setInterval(
      async () => {
        const response = await keys
          .set(node.key, '', { ttl, refresh: true, prevExist: true, prevIndex: index })
          .catch(() => undefined);
        if (response?.node) index = response.node.modifiedIndex;
      },
      (ttl * 1000) / 3,
    );
    timers.push(timer);
  }
  await sleep(settleMs);
  cleanup = async () => {
    for (const timer of timers) clearInterval(timer);
    await client.close();
  };
} else if (variant === 'etcdkit') {
  // one client (one liveness probe loop per member), a KeysAPI per contender (a Lock per KeysAPI queues in etcd)
  const client = new Client({ endpoints: [url] });
  const queue = await queueLockWaiters(client, name, waiters, ttl);
  sessionsLost = queue.lost;
  // each contender watches its own key, each waiter its predecessor, the holder again after its mark
  while (watchStarts < 2 * waiters + 2) await sleep(50);
  await sleep(settleMs);
  cleanup = async () => {
    await queue.stop();
    await client.close();
  };
} else if (variant === 'etcd3') {
  const client = new Etcd3({ hosts: url });
  const election = client.election(name.slice(1), ttl);
  const campaigns = [];
  for (let i = 0; i <= waiters; i++) {
    const campaign = election.campaign(`c${i}`);
    campaign.on('error', () => {});
    campaigns.push(campaign);
  }
  // etcd3 keeps an election's candidates under `election/<name>/`
  const prefix = `election/${name.slice(1)}/`;
  while ((await client.getAll().prefix(prefix).count()) < waiters + 1) await sleep(50);
  await sleep(settleMs);
  cleanup = async () => {
    for (const campaign of campaigns) await campaign.resign().catch(() => {});
    client.close();
  };
} else {
  throw new Error(`unknown variant ${variant}`);
}

const before = await metrics();
const requestsBefore = counted.requests;
const bytesBefore = counted.bytes;
const cpuBefore = process.cpuUsage();
const t0 = performance.now();
// the bench counts this process's TCP connections to etcd from outside through the window (not part of the CPU
// measured here): tell it the window has begun
console.log(JSON.stringify({ window: 'start' }));
await sleep(windowMs);
const inFlight = longPolls.size;
const lost = sessionsLost();
const cpu = process.cpuUsage(cpuBefore);
const elapsed = performance.now() - t0;
const requests = counted.requests - requestsBefore;
const bytes = counted.bytes - bytesBefore;
const after = await metrics();
console.log(
  JSON.stringify({
    variant,
    waiters,
    ttl,
    seconds: elapsed / 1000,
    cpuPercent: ((cpu.user + cpu.system) / 1000 / elapsed) * 100,
    longPolls: inFlight,
    sessionsLost: lost,
    requestsPerSecond: (requests / elapsed) * 1000,
    bytesPerTtl: (bytes / elapsed) * 1000 * ttl,
    etcdV2RequestsPerSecond: ((after.v2Requests - before.v2Requests) / elapsed) * 1000,
    etcdGrpcMessagesPerSecond: ((after.grpcMessages - before.grpcMessages) / elapsed) * 1000,
    etcdCpuPercent: ((after.etcdCpuSeconds - before.etcdCpuSeconds) / elapsed) * 100000,
  }),
);
// leave nothing behind in etcd that outlives this process by more than a TTL; do not wait long for it
await Promise.race([cleanup(), sleep(5000)]);
process.exit(0);
