// Watchers benchmark (issue #12), on a local 1-member etcd (testkit): many watchers in one process, with
// etcdkit's shared watchers (one long-poll per directory), etcdkit's plain watchers (one long-poll each, as in
// Go) and etcd3 (microsoft's v3 client, one gRPC watch stream) on the same etcd in the same round. Each
// variant and size runs in a process of its own (bench/workers/watchers-worker.mjs); ratios are taken within
// a round against etcd3, and the tables give the median and spread (min-max) over the rounds.
//
//   node bench/watchers-bench.mjs   (ROUNDS=3, QUICK=1 for a short run; SIZES=1,100,1000,5000)
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Client, KeysAPI } from '@etcdkit/client';
import { now, readEtcdMetrics, startCluster } from '@etcdkit/testkit';
import { Etcd3 } from 'etcd3';

const QUICK = process.env.QUICK === '1';
const ROUNDS = Number(process.env.ROUNDS ?? (QUICK ? 1 : 3));
const SIZES = (process.env.SIZES ?? (QUICK ? '1,100,1000' : '1,100,1000,5000')).split(',').map(Number);
/** Plain watchers hold a socket each: past this many, the plain variant is not run. */
const PLAIN_MAX = 1000;
const IDLE_MS = QUICK ? 3000 : 5000;
const WORKER = fileURLToPath(new URL('./workers/watchers-worker.mjs', import.meta.url));

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const spread = (values) => `${Math.min(...values).toFixed(2)}-${Math.max(...values).toFixed(2)}`;

/** Keys for `watchers` watchers: each key has about `watchers / keys` watchers, at most 100 keys. */
const keysFor = (watchers) => Math.min(watchers, 100);
/** Rounds of writes: enough deliveries per size to read a p99, not so many that 5000 watchers take minutes. */
const writeRoundsFor = (watchers) => (watchers <= 1 ? 60 : watchers <= 100 ? 3 : 2);

const cluster = await startCluster({ size: 1 });
const url = cluster.clientURLs[0];
// the writers, here: the worker process holds the watchers and nothing else
const writerClient = new Client({ endpoints: [url] });
const v2 = new KeysAPI(writerClient);
const v3 = new Etcd3({ hosts: url });

async function metrics() {
  const sum = await readEtcdMetrics(url);
  return { grpcMessages: sum('grpc_server_msg_received_total') };
}

/** Waits for the worker's next message of `type`. */
function reply(child, type, timeoutMs = 60_000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.off('message', onMessage);
      reject(new Error(`no ${type} from the worker in ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (message) => {
      if (message.type !== type) return;
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve(message);
    };
    child.on('message', onMessage);
  });
}

/** A worker process holding `watchers` watchers (see watchers-worker.mjs); `stop()` kills it if still running. */
function startWorker(variant, urls, watchers, keyCount) {
  const child = fork(WORKER, [variant, urls, String(watchers), String(keyCount)], {
    execArgv: ['--expose-gc'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return {
    child,
    stop: async () => {
      if (child.exitCode === null) child.kill();
      await exited;
    },
  };
}

/** Per watcher, what it got against what was written to its key: lost, duplicated, out of order (watchers). */
function tally(receipts, written) {
  let lost = 0;
  let duplicated = 0;
  let outOfOrder = 0;
  for (const [i, want] of written.entries()) {
    const got = receipts[i].map(([value]) => value);
    const seen = new Set(got);
    lost += want.filter((value) => !seen.has(value)).length;
    duplicated += got.length - seen.size;
    if (got.length === want.length && got.some((value, j) => value !== want[j])) outOfOrder++;
  }
  return { lost, duplicated, outOfOrder };
}

/** One variant with `watchers` watchers in a worker process; this process writes and reads etcd's metrics. */
async function run(variant, watchers) {
  const keyCount = keysFor(watchers);
  const worker = startWorker(variant, url, watchers, keyCount);
  const { child } = worker;
  try {
    const { prefix, memoryPerWatcherBytes, rssPerWatcherBytes } = await reply(child, 'ready');
    const before = await metrics();
    child.send({ type: 'idle', ms: IDLE_MS });
    const idle = await reply(child, 'idle', IDLE_MS + 30_000);
    const after = await metrics();
    const sentAt = new Map();
    const written = Array.from({ length: watchers }, () => []);
    let timedOut = 0;
    const write =
      variant === 'etcd3' ? (key, value) => v3.put(key).value(value) : (key, value) => v2.set(key, value);
    for (let round = 0; round < writeRoundsFor(watchers); round++) {
      for (let k = 0; k < keyCount; k++) {
        const value = `r${round}k${k}`;
        const all = reply(child, 'all', 10_000).catch(() => undefined);
        sentAt.set(value, now());
        await write(`${prefix}/k${k}`, value);
        for (let i = k; i < watchers; i += keyCount) written[i].push(value);
        if (!(await all)) timedOut++;
      }
    }
    child.send({ type: 'end' });
    const { receipts } = await reply(child, 'result');
    const latencies = receipts.flatMap((got) => got.map(([value, at]) => at - sentAt.get(value)));
    latencies.sort((a, b) => a - b);
    const quantile = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
    return {
      ...idle,
      idleGrpcPerSecond: ((after.grpcMessages - before.grpcMessages) / IDLE_MS) * 1000,
      memoryPerWatcherBytes,
      rssPerWatcherBytes,
      notifyP50: quantile(0.5),
      notifyP99: quantile(0.99),
      ...tally(receipts, written),
      timedOut,
    };
  } finally {
    await worker.stop();
  }
}

const FAILOVER_WATCHERS = 1000;
const FAILOVER_KEYS = 50;
const FAILOVER_TRIALS = QUICK ? 1 : 3;

/**
 * The failover run: a 3-member cluster, 1000 shared watchers in a worker whose client is pinned to a follower;
 * one write to each key, then `fault` hits that follower, then three more writes to each key through the leader.
 * Every watcher must get every write to its key exactly once, in order; recovery = the first write after the
 * fault sent -> every watcher of its key has it.
 */
async function failoverTrial(fault) {
  const cluster3 = await startCluster({ size: 3 });
  const leader = await cluster3.waitForLeader();
  const [pinned, other] = cluster3.members.filter((member) => member !== leader);
  const writer = new Client({ endpoints: [leader.clientURL] });
  const keys = new KeysAPI(writer);
  const urls = [pinned.clientURL, other.clientURL, leader.clientURL].join(',');
  const worker = startWorker('shared', urls, FAILOVER_WATCHERS, FAILOVER_KEYS);
  const { child } = worker;
  try {
    const { prefix } = await reply(child, 'ready');
    const written = Array.from({ length: FAILOVER_WATCHERS }, () => []);
    let timedOut = 0;
    let recoveryMs;
    for (let round = 0; round < 4; round++) {
      if (round === 1) await fault(pinned);
      for (let k = 0; k < FAILOVER_KEYS; k++) {
        const value = `r${round}k${k}`;
        const all = reply(child, 'all', 20_000).catch(() => undefined);
        const t = performance.now();
        await keys.set(`${prefix}/k${k}`, value);
        for (let i = k; i < FAILOVER_WATCHERS; i += FAILOVER_KEYS) written[i].push(value);
        if (!(await all)) timedOut++;
        if (round === 1 && k === 0) recoveryMs = performance.now() - t;
      }
    }
    child.send({ type: 'end' });
    const { receipts } = await reply(child, 'result');
    return { ...tally(receipts, written), timedOut, recoveryMs };
  } finally {
    await worker.stop();
    await writer.close();
    await cluster3.close();
  }
}

const t0 = performance.now();
/** results[size][variant] = one result per round */
const results = new Map();
for (let round = 0; round < ROUNDS; round++) {
  for (const size of SIZES) {
    const variants = ['shared', 'etcd3', ...(size <= PLAIN_MAX ? ['plain'] : [])];
    // alternate the order from round to round
    if (round % 2 === 1) variants.reverse();
    for (const variant of variants) {
      console.error(`round ${round + 1}/${ROUNDS}: ${variant} x${size}`);
      const result = await run(variant, size);
      const bySize = results.get(size) ?? new Map();
      results.set(size, bySize);
      bySize.set(variant, [...(bySize.get(variant) ?? []), result]);
    }
  }
}
const failover = [];
for (const [name, fault] of [
  ['SIGKILL', (member) => member.kill()],
  ['SIGSTOP', (member) => member.pause()],
]) {
  for (let trial = 0; trial < FAILOVER_TRIALS; trial++) {
    console.error(`failover: ${name} of the watchers' member, trial ${trial + 1}/${FAILOVER_TRIALS}`);
    failover.push({ name, ...(await failoverTrial(fault)) });
  }
}
await writerClient.close();
v3.close();
await cluster.close();
const minutes = ((performance.now() - t0) / 60_000).toFixed(1);

const fmt = (values, digits = 1) => `${median(values).toFixed(digits)} (${spread(values)})`;
const lines = [];
lines.push('### @etcdkit/client: many watchers in one process (etcd 3.4.23, 1 member)');
lines.push('');
lines.push(
  `${new Date().toISOString().slice(0, 16)}Z, Node ${process.version}, ${ROUNDS} round(s), ${minutes} min. ` +
    'Each variant and size in a process of its own; watcher i watches key i % 100 below one prefix. ' +
    '**shared**: etcdkit, `keys.watcher(key, { shared: true })` (one long-poll per directory); **plain**: ' +
    'etcdkit, one long-poll per watcher (as Go; not run past 1000); **etcd3**: microsoft’s v3 client, one gRPC stream. ' +
    'Writes come from the bench process (etcdkit for v2, etcd3 for v3), one at a time, each waited for until every ' +
    'watcher of its key has it; notify = the write sent -> a watcher has it, over every watcher and write ' +
    '(across two processes of one machine: wall clock with sub-ms precision). Idle: a window with nothing ' +
    'written: the watchers’ process’s HTTP requests (undici: keys requests and /health probes), the gRPC ' +
    'messages etcd received, the process’s CPU, its TCP connections to etcd (mid-window). Memory per watcher: ' +
    'the JS heap in use plus external memory after a full GC, less the same with the client made and warm but ' +
    'no watcher; RSS per watcher likewise (RSS moves by whole pages and heap segments, and a GC can return ' +
    'more than the watchers take: it is noisy, at times negative, so the target is judged on the memory column, ' +
    'and not for 1 watcher, whose few KiB no GC measure resolves). Median (min-max) over the rounds.',
);
lines.push('');
lines.push(
  '| watchers | variant | notify p50 ms | notify p99 ms | lost / dup / out of order | sockets | idle requests/s | idle gRPC msgs/s | idle CPU % | memory / watcher KiB | RSS / watcher KiB |',
);
lines.push('|---:|---|---:|---:|---|---:|---:|---:|---:|---:|---:|');
for (const [size, byVariant] of results) {
  for (const [variant, runs] of byVariant) {
    const sum = (field) => runs.reduce((total, r) => total + r[field], 0);
    lines.push(
      `| ${size} | ${variant} | ${fmt(
        runs.map((r) => r.notifyP50),
        2,
      )} | ${fmt(
        runs.map((r) => r.notifyP99),
        2,
      )} | ` +
        `${sum('lost')} / ${sum('duplicated')} / ${sum('outOfOrder')}${sum('timedOut') ? ` (${sum('timedOut')} writes timed out)` : ''} | ` +
        `${fmt(
          runs.map((r) => r.sockets),
          0,
        )} | ${fmt(runs.map((r) => r.idleRequestsPerSecond))} | ` +
        `${fmt(runs.map((r) => r.idleGrpcPerSecond))} | ${fmt(runs.map((r) => r.idleCpuPercent))} | ` +
        `${fmt(runs.map((r) => r.memoryPerWatcherBytes / 1024))} | ${fmt(runs.map((r) => r.rssPerWatcherBytes / 1024))} |`,
    );
  }
}
lines.push('');
lines.push(
  'Targets (issue #12), shared against etcd3 in the same round (ratio per round; median (min-max)):',
);
lines.push('');
lines.push(
  '| watchers | notify p50 / etcd3 | notify p99 / etcd3 | memory per watcher / etcd3 | sockets <= 4 | idle requests/s <= 1 | 0 lost or duplicated |',
);
lines.push('|---:|---:|---:|---:|---|---|---|');
let pass = true;
for (const [size, byVariant] of results) {
  const shared = byVariant.get('shared');
  const etcd3 = byVariant.get('etcd3');
  const ratio = (field) => shared.map((r, i) => r[field] / etcd3[i][field]);
  const p50 = ratio('notifyP50');
  const p99 = ratio('notifyP99');
  const memory = ratio('memoryPerWatcherBytes');
  const sockets = Math.max(...shared.map((r) => r.sockets));
  const idle = Math.max(...shared.map((r) => r.idleRequestsPerSecond));
  const bad = shared.reduce((t, r) => t + r.lost + r.duplicated + r.outOfOrder + r.timedOut, 0);
  const verdict = (ok) => {
    if (!ok) pass = false;
    return ok ? 'pass' : 'fail';
  };
  lines.push(
    `| ${size} | ${fmt(p50, 2)} ${verdict(median(p50) <= 1)} | ${fmt(p99, 2)} ${verdict(median(p99) <= 1)} | ` +
      `${size < 100 ? 'n/a' : `${fmt(memory, 2)} ${verdict(median(memory) <= 1)}`} | ${sockets} ${verdict(sockets <= 4)} | ` +
      `${idle.toFixed(2)} ${verdict(idle <= 1)} | ${bad} ${verdict(bad === 0)} |`,
  );
}
lines.push('');
lines.push(
  `Failover (3 members, fast raft timings): ${FAILOVER_WATCHERS} shared watchers on ${FAILOVER_KEYS} keys, their ` +
    'client pinned to a follower; one write to each key, then the follower is SIGKILLed or SIGSTOPed, then three ' +
    'more writes to each key through the leader. Recovery: the first write after the fault sent -> every watcher ' +
    'of its key has it (a SIGSTOPed member is left by the client’s liveness check, `watchLivenessInterval`, ' +
    'default 2 s).',
);
lines.push('');
lines.push(
  '| fault | trials | events per watcher | lost / duplicated / out of order | recovery ms median (min-max) | result |',
);
lines.push('|---|---:|---:|---|---:|---|');
for (const name of ['SIGKILL', 'SIGSTOP']) {
  const trials = failover.filter((t) => t.name === name);
  const bad = trials.reduce((t, r) => t + r.lost + r.duplicated + r.outOfOrder + r.timedOut, 0);
  if (bad > 0) pass = false;
  const sum = (field) => trials.reduce((t, r) => t + r[field], 0);
  lines.push(
    `| ${name} | ${trials.length} | 4 | ${sum('lost')} / ${sum('duplicated')} / ${sum('outOfOrder')}` +
      `${sum('timedOut') ? ` (${sum('timedOut')} writes timed out)` : ''} | ` +
      `${fmt(
        trials.map((t) => t.recoveryMs),
        0,
      )} | ${bad === 0 ? 'pass' : 'fail'} |`,
  );
}
lines.push('');
lines.push(`All targets met: ${pass ? 'yes' : 'no'}.`);
console.log(lines.join('\n'));
