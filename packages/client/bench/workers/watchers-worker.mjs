// One variant of the watchers benchmark, in a process of its own (its CPU, memory and sockets are the
// watchers' alone: the writes and the reads of etcd's /metrics come from the parent, bench/watchers-bench.mjs):
//
//   node --expose-gc watchers-worker.mjs <variant> <clientURLs> <watchers> <keys>     (forked, with IPC)
//
// variant: `shared` (etcdkit watchers with `shared: true`), `plain` (etcdkit watchers, each its own long-poll,
// as in Go), `etcd3` (microsoft's v3 client: watches on one gRPC stream). Watcher i watches key i % keys below
// one prefix. Messages, parent -> worker: `idle` (measure an idle window of `ms`), `end` (send the receipts).
// Worker -> parent: `ready` (with the memory the watchers took: the JS heap in use plus external memory after a
// full GC, and the RSS, each less the same with the client made and warm but no watcher), `idle` (this process's CPU, HTTP requests and TCP sockets to etcd over the
// window), `all` (every watcher of a value's key has it), `result` (per watcher, each value and when it came,
// in ms since the epoch: the parent subtracts the time it sent the write).
import diagnosticsChannel from 'node:diagnostics_channel';
import { Client, KeysAPI } from '@etcdkit/client';
import { now, tcpConnectionsTo } from '@etcdkit/testkit';
import { Etcd3 } from 'etcd3';

// <clientURL> may be a comma-separated list: the etcdkit client is then pinned to the first (failover run)
const [variant, urls, watchersArg, keysArg] = process.argv.slice(2);
const endpoints = urls.split(',');
const url = endpoints[0];
const watchers = Number(watchersArg);
const keyCount = Number(keysArg);
const prefix = `/bench/watchers-${process.pid}`;
const port = Number(new URL(url).port);
const keyOf = (k) => `${prefix}/k${k}`;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Every HTTP request this process makes through undici (keys requests and /health probes alike). */
let httpRequests = 0;
diagnosticsChannel.subscribe('undici:request:create', () => {
  httpRequests++;
});

/** Memory after a full GC: the JS heap in use plus memory outside it (buffers), and the process's RSS. */
function memory() {
  for (let i = 0; i < 3; i++) globalThis.gc?.();
  const { heapUsed, external, rss } = process.memoryUsage();
  return { used: heapUsed + external, rss };
}

// receipts[i]: [value, when] per event watcher i got; left: how many watchers of a value's key still miss it
const receipts = Array.from({ length: watchers }, () => []);
const watchersOfKey = (k) => Math.ceil((watchers - k) / keyCount);
const left = new Map();
function delivered(i, value) {
  receipts[i].push([value, now()]);
  const k = i % keyCount;
  const count = (left.get(value) ?? watchersOfKey(k)) - 1;
  left.set(value, count);
  if (count === 0) process.send({ type: 'all', value });
}

let before;
let close;
if (variant === 'shared' || variant === 'plain') {
  const client = new Client({ endpoints });
  // setEndpoints shuffles: until the first is pinned
  for (let i = 0; i < 1000 && client.endpoints()[0] !== url; i++) client.setEndpoints(endpoints);
  const keys = new KeysAPI(client);
  const start = await keys.set(`${prefix}/start`, '');
  before = memory();
  const made = Array.from({ length: watchers }, (_, i) =>
    keys.watcher(keyOf(i % keyCount), { afterIndex: start.index, shared: variant === 'shared' }),
  );
  for (const [i, watcher] of made.entries()) {
    void (async () => {
      for (;;) {
        const event = await watcher.next().catch(() => undefined);
        if (!event) return;
        delivered(i, event.node.value);
      }
    })();
  }
  close = async () => {
    for (const watcher of made) watcher.close();
    await client.close();
  };
} else if (variant === 'etcd3') {
  const client = new Etcd3({ hosts: url });
  await client.put(`${prefix}/start`).value('');
  before = memory();
  const made = [];
  for (let i = 0; i < watchers; i += 100) {
    made.push(
      ...(await Promise.all(
        Array.from({ length: Math.min(100, watchers - i) }, async (_, j) => {
          const watcher = await client
            .watch()
            .key(keyOf((i + j) % keyCount))
            .create();
          watcher.on('put', (kv) => delivered(i + j, kv.value.toString()));
          return watcher;
        }),
      )),
    );
  }
  close = async () => {
    await Promise.all(made.map((watcher) => watcher.cancel()));
    client.close();
  };
} else {
  throw new Error(`unknown variant ${variant}`);
}

// every watcher waiting (a long-poll sent, or a v3 watch created), then settled
await sleep(1500);
const after = memory();
process.send({
  type: 'ready',
  prefix,
  memoryPerWatcherBytes: (after.used - before.used) / watchers,
  rssPerWatcherBytes: (after.rss - before.rss) / watchers,
});

process.on('message', async (message) => {
  if (message.type === 'idle') {
    const requestsBefore = httpRequests;
    const cpuBefore = process.cpuUsage();
    const t0 = performance.now();
    await sleep(message.ms / 2);
    const sockets = tcpConnectionsTo(port);
    await sleep(message.ms / 2);
    const cpu = process.cpuUsage(cpuBefore);
    const elapsed = performance.now() - t0;
    process.send({
      type: 'idle',
      sockets,
      idleRequestsPerSecond: ((httpRequests - requestsBefore) / elapsed) * 1000,
      idleCpuPercent: ((cpu.user + cpu.system) / 1000 / elapsed) * 100,
    });
  } else if (message.type === 'end') {
    process.send({ type: 'result', receipts });
    await Promise.race([close(), sleep(5000)]);
    process.exit(0);
  }
});
