// Waiting and hand-over benchmark (issue #16), on a local 1-member etcd (testkit). Every figure is a ratio to a
// baseline measured in the same round of the same run (for the hand-over, right before each row); the tables
// give the median ratio over the rounds and their spread (min-max), as the client benchmark does.
// - idle waiters: 200 Lock waiters behind a holder, TTL 2, each variant in a process of its own for one window:
//   etcd requests/s, this process's CPU and bytes read per TTL, against the TTL refreshes alone (the same number
//   of keys, refreshed every TTL/3 and nothing else) and against etcd3 (microsoft's v3 client) campaigns
//   waiting in one election on the same etcd (v3's queue recipe: a key and a lease each, the waiter watching
//   the key before its own);
// - idle waiters at scale: 1000 Lock waiters at TTL 15 (the default), against the refreshes of as many keys
//   alone: their sockets and long-polls once settled;
// - hand-over: release -> the next holder's acquire resolves, with 1, 10, 50 and 200 waiting and a 0 ms or
//   20 ms hold, against one v2 write + watch notification;
// - etcd requests per acquisition against the number waiting (flat = herd-free).
//
//   node bench/waiting-bench.mjs   (ROUNDS=3, WINDOW_MS=6000, SETTLE_MS, SCALE_SETTLE_MS, PARTS=idle|handover,
//                                    MEMBERS=3 with PARTS=handover: the hand-over on 3 members, every client
//                                    given them all (the recipes' waits then go to two members at once),
//                                    QUICK=1 for a short run)
import { spawn } from 'node:child_process';
import diagnosticsChannel from 'node:diagnostics_channel';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Client, ClientChannels, KeysAPI } from '@etcdkit/client';
import { startCluster, tcpConnectionsTo } from '@etcdkit/testkit';
import { Lock, RecipeChannels } from '../dist/index.js';

const QUICK = process.env.QUICK === '1';
const ROUNDS = Number(process.env.ROUNDS ?? (QUICK ? 2 : 3));
const WINDOW_MS = Number(process.env.WINDOW_MS ?? (QUICK ? 4000 : 6000));
const IDLE_WAITERS = 200;
const IDLE_TTL = 2;
// after an idle variant's setup, before its window: the client's keep-alive timeout (10 s) and a second, so that
// the connections of the setup's burst have closed and the window sees the steady state
const SETTLE_MS = Number(process.env.SETTLE_MS ?? 11_000);
// the scale row: a thousand waiters at the default TTL, after a longer settle (their joining takes seconds, and
// the connections of that burst close 10 s after it)
const SCALE = { waiters: 1000, ttl: 15, settleMs: Number(process.env.SCALE_SETTLE_MS ?? 25_000) };
const HANDOVER_WAITING = [1, 10, 50, 200];
const HOLDS_MS = [0, 20];
const HANDOVERS = QUICK ? 20 : 40;
const WORKER = fileURLToPath(new URL('./workers/idle-worker.mjs', import.meta.url));

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const PARTS = process.env.PARTS ?? 'idle,handover';
const MEMBERS = Number(process.env.MEMBERS ?? 1);
if (MEMBERS !== 1 && PARTS.includes('idle')) throw new Error('MEMBERS > 1 is for PARTS=handover only');
const cluster = await startCluster({ size: MEMBERS });
const url = cluster.clientURLs[0];
/** Every client's endpoints: the one member, or with MEMBERS > 1 (hand-over only) all of them. */
const endpoints = cluster.clientURLs;

/**
 * Runs one idle variant in a worker process; while its window lasts, counts the worker's TCP connections to
 * etcd every 250 ms from here (so that counting is no part of the worker's CPU): `sockets` at the window's end
 * and `peakSockets`.
 */
function runIdle(variant, { waiters = IDLE_WAITERS, ttl = IDLE_TTL, settleMs = SETTLE_MS } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [WORKER, variant, url, String(waiters), String(ttl), String(WINDOW_MS), String(settleMs)],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const port = Number(new URL(url).port);
    const samples = [];
    // the worker may be exiting already when the last sample is taken: then that sample is none
    const sample = () => {
      try {
        samples.push(tcpConnectionsTo(port, child.pid));
      } catch {}
    };
    let sampler;
    let result;
    createInterface({ input: child.stdout }).on('line', (line) => {
      const message = JSON.parse(line);
      if (message.window === 'start') {
        sampler = setInterval(sample, 250);
        return;
      }
      clearInterval(sampler);
      sample();
      result = { ...message, sockets: samples.at(-1), peakSockets: Math.max(...samples) };
    });
    child.once('exit', (code) => {
      clearInterval(sampler);
      if (result) resolve(result);
      else reject(new Error(`idle worker ${variant} exited ${code} without a result`));
    });
  });
}

/**
 * Baseline: a write through one client, seen by a watch of another (median of `rounds`), `idleMs` after the
 * watch was set up. The idle time matters on this machine: a write after 5 ms without traffic took 1.0-1.1 ms,
 * after 20 ms 1.35-1.5 ms, after 50 ms 1.5-1.6 ms (etcd's and the VM's wake-up), so the hand-over's baseline
 * idles as long as its holder does before releasing (see {@link idleBeforeRelease}).
 */
async function writeAndNotify(idleMs, rounds = 30) {
  const writerClient = new Client({ endpoints });
  const watcherClient = new Client({ endpoints });
  const writer = new KeysAPI(writerClient);
  const watcherKeys = new KeysAPI(watcherClient);
  const times = [];
  for (let i = 0; i < rounds; i++) {
    const { node } = await writer.set('/bench/baseline', `v${i}`);
    const next = watcherKeys.watcher('/bench/baseline', { afterIndex: node.modifiedIndex }).next();
    await sleep(idleMs);
    const t0 = performance.now();
    await writer.set('/bench/baseline', `w${i}`);
    await next;
    times.push(performance.now() - t0);
  }
  await writerClient.close();
  await watcherClient.close();
  return median(times);
}

/**
 * How long etcd sees no traffic of the hand-over before a release, about: a holder with a hold holds `holdMs`,
 * and not less than 10 ms after the last contender joined; back to back (0 ms), none: the baseline then
 * idles 5 ms, the least its watch needs to be in place (see {@link handover}).
 */
const idleBeforeRelease = (holdMs) => (holdMs > 0 ? Math.max(holdMs, 10) : 5);

/**
 * Hand-overs of one lock among contenders that each have a Lock of their own on one client. Hand-over = the
 * release call -> the next holder's acquire resolving; measured for `count` hand-overs, with nothing else
 * going to etcd meanwhile (no contender joining: a join is a create and a quorum read, two raft proposals).
 * - `holdMs` > 0: `waiting` + 1 contenders loop acquire -> hold -> release -> acquire again. The holder releases
 *   `holdMs` after its acquisition, but not before every other contender has been queued for 10 ms (so that the
 *   next in line watches, and the one released before has joined again); a released contender queues again
 *   once the next holder has acquired. Measured once every contender has held.
 * - `holdMs` 0: back to back, as a ~0 ms hold is: `waiting` + `count` + 2 contenders queue once, each releases
 *   as soon as it holds and does not queue again, so `waiting` + `count` down to `waiting` wait behind the
 *   measured hand-overs (the first holder waits until everyone has been queued 10 ms). The release then comes
 *   before the new holder's mark-held write goes out.
 * Requests = every etcd request the client sent meanwhile (refreshes included), per acquisition.
 */
async function handover(waiting, holdMs, count) {
  const rejoin = holdMs > 0;
  const contenders = rejoin ? waiting + 1 : waiting + count + 2;
  const name = `/bench/handover-${waiting}-${holdMs}-${process.hrtime.bigint()}`;
  const client = new Client({ endpoints });
  const locks = Array.from({ length: contenders }, () => new Lock(new KeysAPI(client), name, { ttl: 10 }));
  let requests = 0;
  let refreshes = 0;
  const onRequest = (message) => {
    requests++;
    if (message.method === 'PUT' && message.path.includes('prevExist=true')) refreshes++;
  };
  const enqueuedAt = new Map(); // createdIndex -> when its contender queued
  const onEnqueue = (message) => {
    if (message.name === name) enqueuedAt.set(message.createdIndex, performance.now());
  };
  diagnosticsChannel.subscribe(ClientChannels.requestStart, onRequest);
  diagnosticsChannel.subscribe(RecipeChannels.enqueue, onEnqueue);
  let acquisitions = 0;
  // every other contender still in the game queued behind the holder for 10 ms (its create, read and watch
  // done), so that no join runs during the hand-over measured
  const successorsReady = (token) => {
    let behind = 0;
    const now = performance.now();
    for (const [index, at] of enqueuedAt) {
      if (index <= token) continue;
      if (now - at < 10) return false;
      behind++;
    }
    return behind === (rejoin ? waiting : contenders - acquisitions);
  };
  let onAcquired = [];
  const nextAcquired = () => new Promise((resolve) => onAcquired.push(resolve));
  const log = []; // [kind, time]: 'acquired' or 'release', in order (one holder at a time)
  const warmup = rejoin ? waiting + 1 : 1;
  let stop = false;
  let measureFrom;
  let measureTo;
  const loops = locks.map(async (lock) => {
    for (;;) {
      const held = await lock.acquire();
      log.push(['acquired', performance.now()]);
      acquisitions++;
      if (acquisitions === warmup + 1) measureFrom = { at: log.length - 1, requests, refreshes };
      if (acquisitions === warmup + 1 + count) {
        measureTo = { at: log.length - 1, requests, refreshes };
        stop = true;
      }
      const wake = onAcquired;
      onAcquired = [];
      for (const resolve of wake) resolve();
      const releaseAt = performance.now() + holdMs;
      while (!stop && !(performance.now() >= releaseAt && successorsReady(held.fencingToken))) {
        const left = releaseAt - performance.now();
        await (left > 1 ? sleep(left) : new Promise((resolve) => setImmediate(resolve)));
      }
      const next = nextAcquired();
      log.push(['release', performance.now()]);
      await held.release();
      if (stop || !rejoin) return;
      await next;
    }
  });
  await Promise.all(loops);
  diagnosticsChannel.unsubscribe(ClientChannels.requestStart, onRequest);
  diagnosticsChannel.unsubscribe(RecipeChannels.enqueue, onEnqueue);
  for (const lock of locks) await lock.close();
  await client.close();
  const gaps = [];
  for (let i = measureFrom.at; i < measureTo.at; i++) {
    if (log[i][0] === 'release' && log[i + 1]?.[0] === 'acquired') gaps.push(log[i + 1][1] - log[i][1]);
  }
  const measured = measureTo.requests - measureFrom.requests;
  const refreshed = measureTo.refreshes - measureFrom.refreshes;
  return {
    p50: median(gaps),
    requestsPerAcquisition: measured / count,
    withoutRefreshes: (measured - refreshed) / count,
  };
}

const idleRounds = [];
const handoverRounds = [];
for (let round = 0; round < ROUNDS; round++) {
  const variants = PARTS.includes('idle') ? ['refreshes', 'etcdkit', 'etcd3'] : [];
  // rotate the order each round, to spread the machine's drift
  const results = {};
  for (let k = 0; k < variants.length; k++) {
    const variant = variants[(round + k) % variants.length];
    console.error(`round ${round + 1}: idle ${variant}`);
    results[variant] = await runIdle(variant);
  }
  if (variants.length > 0) {
    for (const variant of ['refreshes', 'etcdkit']) {
      console.error(`round ${round + 1}: idle ${variant}, ${SCALE.waiters} waiters, TTL ${SCALE.ttl}`);
      results[`${variant}Scale`] = await runIdle(variant, SCALE);
    }
    idleRounds.push(results);
  }
  if (!PARTS.includes('handover')) continue;
  const rows = {};
  for (const waiting of HANDOVER_WAITING) {
    for (const holdMs of HOLDS_MS) {
      console.error(`round ${round + 1}: hand-over, ${waiting} waiting, ${holdMs} ms hold`);
      // the baselines right before each row: the machine's load drifts within a round
      const baseline = await writeAndNotify(idleBeforeRelease(holdMs));
      const baselineAfter5ms = await writeAndNotify(5);
      rows[`${waiting}/${holdMs}`] = {
        ...(await handover(waiting, holdMs, HANDOVERS)),
        baseline,
        baselineAfter5ms,
      };
    }
  }
  handoverRounds.push(rows);
}
await cluster.close();

const spread = (values, digits = 2) => {
  const sorted = [...values].sort((a, b) => a - b);
  return `${median(sorted).toFixed(digits)} (${sorted[0].toFixed(digits)}-${sorted.at(-1).toFixed(digits)})`;
};
const perRound = (values, digits = 2) => values.map((v) => v.toFixed(digits)).join(' / ');
/** A table row: `label`, then per column [value of a round's result, digits, unit] its spread over `results`. */
const row = (label, results, columns) =>
  `| ${label} | ${columns.map(([value, digits, unit = '']) => `${spread(results.map(value), digits)}${unit}`).join(' | ')} |`;
/** The idle tables' last columns: long-polls and sockets at the window's end, peak sockets. */
const SOCKET_COLUMNS = [
  [(r) => r.longPolls ?? 0, 0],
  [(r) => r.sockets, 0],
  [(r) => r.peakSockets, 0],
];

const out = [];
out.push(
  `## @etcdkit/recipes: waiting and hand-over (etcd ${cluster.version}, ${MEMBERS === 1 ? '1 member' : `${MEMBERS} members`}, ${ROUNDS} rounds)\n`,
);
if (idleRounds.length > 0) {
  out.push(
    `### Idle waiters: ${IDLE_WAITERS} Lock waiters behind a holder, TTL ${IDLE_TTL} s, a ${WINDOW_MS / 1000} s window\n`,
  );
  out.push(
    `Each variant runs in a process of its own. requests/s and bytes read per TTL: counted by the client (diagnostics channels) and by etcd (\`etcd_http_received_total\`, v2); etcd3 speaks gRPC (\`grpc_server_msg_received_total\`). CPU: the waiting process (user + system) over the window; etcd CPU: \`process_cpu_seconds_total\`; long-polls: the waiting process’s watch calls in flight at the window’s end (its watches share one long-poll per directory once four wait in it); sockets: its TCP connections to etcd, counted from the bench’s process every 250 ms through the window (at its end, and the peak): the long-polls and the pool’s keep-alive connections, as many as requests were in flight at once. Each window starts ${SETTLE_MS / 1000} s after the setup, once the connections of the setup’s burst of creates and reads have gone idle and closed (the client’s agent closes one after 10 s idle). Sockets / TTL refreshes alone compares the peaks. Ratios are taken within a round; median (min-max) over the rounds.\n`,
  );
  out.push(
    '| variant | requests/s (client) | requests/s (etcd v2) | gRPC msgs/s | bytes read / TTL | CPU | etcd CPU | long-polls | sockets (end) | sockets (peak) |',
  );
  out.push('|---|---|---|---|---|---|---|---|---|---|');
  for (const variant of ['refreshes', 'etcdkit', 'etcd3']) {
    out.push(
      row(
        variant,
        idleRounds.map((r) => r[variant]),
        [
          [(r) => r.requestsPerSecond, 1],
          [(r) => r.etcdV2RequestsPerSecond, 1],
          [(r) => r.etcdGrpcMessagesPerSecond, 1],
          [(r) => r.bytesPerTtl / 1024, 1, ' KiB'],
          [(r) => r.cpuPercent, 1, '%'],
          [(r) => r.etcdCpuPercent, 1, '%'],
          ...SOCKET_COLUMNS,
        ],
      ),
    );
  }
  const requestsRatio = idleRounds.map(
    (r) => r.etcdkit.etcdV2RequestsPerSecond / r.refreshes.etcdV2RequestsPerSecond,
  );
  const cpuVsRefreshes = idleRounds.map((r) => r.etcdkit.cpuPercent / r.refreshes.cpuPercent);
  const cpuVsEtcd3 = idleRounds.map((r) => r.etcdkit.cpuPercent / r.etcd3.cpuPercent);
  const bytesRatio = idleRounds.map((r) => r.etcdkit.bytesPerTtl / r.refreshes.bytesPerTtl);
  const socketsRatio = idleRounds.map((r) => r.etcdkit.peakSockets / r.refreshes.peakSockets);
  out.push('');
  out.push('| ratio (etcdkit waiters / baseline) | per round | median (min-max) | target |');
  out.push('|---|---|---|---|');
  out.push(
    `| etcd v2 requests/s / TTL refreshes alone | ${perRound(requestsRatio, 3)} | ${spread(requestsRatio, 3)} | <= 1.05 |`,
  );
  out.push(
    `| bytes read per TTL / TTL refreshes alone | ${perRound(bytesRatio)} | ${spread(bytesRatio)} | O(N) |`,
  );
  out.push(
    `| sockets (peak) / TTL refreshes alone | ${perRound(socketsRatio)} | ${spread(socketsRatio)} | a handful more (long-polls) |`,
  );
  out.push(`| CPU / TTL refreshes alone | ${perRound(cpuVsRefreshes)} | ${spread(cpuVsRefreshes)} | |`);
  out.push(`| CPU / etcd3 campaigns | ${perRound(cpuVsEtcd3)} | ${spread(cpuVsEtcd3)} | <= 1.5 |`);
}
if (idleRounds.length > 0) {
  out.push(
    `\n### Idle waiters at scale: ${SCALE.waiters} Lock waiters behind a holder, TTL ${SCALE.ttl} s, a ${WINDOW_MS / 1000} s window ${SCALE.settleMs / 1000} s after the setup\n`,
  );
  out.push(
    "The same measures, for the etcdkit waiters and the TTL refreshes of as many keys alone (the floor: its connections are the writes in flight). Sessions lost: the waits that ended, and the holder that lost its key, between the setup and the window's end (none should).\n",
  );
  out.push(
    '| variant | requests/s (etcd v2) | CPU | long-polls | sockets (end) | sockets (peak) | sessions lost |',
  );
  out.push('|---|---|---|---|---|---|---|');
  for (const variant of ['refreshes', 'etcdkit']) {
    out.push(
      row(
        variant,
        idleRounds.map((r) => r[`${variant}Scale`]),
        [
          [(r) => r.etcdV2RequestsPerSecond, 1],
          [(r) => r.cpuPercent, 1, '%'],
          ...SOCKET_COLUMNS,
          [(r) => r.sessionsLost ?? 0, 0],
        ],
      ),
    );
  }
}
if (handoverRounds.length > 0) {
  out.push(
    `\n### Hand-over: release -> next holder, against one v2 write + watch notification (${HANDOVERS} hand-overs a row and round)\n`,
  );
  out.push(
    'The baseline (median of 30) is measured right before each row of each round, after as long without traffic as the row holds before a release (20 ms; back to back, 5 ms): a write after a longer idle is slower here. The last column compares with the baseline after 5 ms, as earlier runs did. Each contender has a Lock of its own (one client); no contender joins during a hand-over measured. 20 ms hold: waiting + 1 contenders loop; a holder releases after its hold, once every other contender has been queued 10 ms, and queues again once the next holder has acquired. 0 ms hold: back to back, waiting + 42 contenders queue once and each releases as soon as it holds (waiting + 40 down to waiting behind the 40 hand-overs measured).\n',
  );
  out.push(
    '| waiting | hold | hand-over p50 (ms) | baseline (ms) | ratio per round | ratio median (min-max) | requests / acquisition | without refreshes | ratio to the 5 ms-idle baseline |',
  );
  out.push('|---|---|---|---|---|---|---|---|---|');
  for (const waiting of HANDOVER_WAITING) {
    for (const holdMs of HOLDS_MS) {
      const rs = handoverRounds.map((r) => r[`${waiting}/${holdMs}`]);
      const ratios = rs.map((r) => r.p50 / r.baseline);
      out.push(
        `| ${waiting} | ${holdMs} ms | ${spread(
          rs.map((r) => r.p50),
          2,
        )} | ${spread(
          rs.map((r) => r.baseline),
          2,
        )} | ${perRound(ratios)} | ${spread(ratios)} | ${spread(
          rs.map((r) => r.requestsPerAcquisition),
          1,
        )} | ${spread(
          rs.map((r) => r.withoutRefreshes),
          1,
        )} | ${spread(rs.map((r) => r.p50 / r.baselineAfter5ms))} |`,
      );
    }
  }
  out.push(
    '\nTargets (#16): hand-over p50 <= 1.5x write + notify at every row; requests per acquisition flat in the number waiting.',
  );
}
console.log(out.join('\n'));
process.exit(0);
