// Failover benchmark (issue #11), on a local 3-member etcd (testkit process members, heartbeat 50 ms, election
// 250 ms). Lock contenders, two election candidates, two registered service instances and an observer run in
// worker processes, each with its own client pinned to the member the fault hits. Per trial:
// - etcd faults: SIGKILL or SIGSTOP of the raft leader, or of a follower, the clients' pinned member. The lock
//   holder releases right after the signal; "next lock acquisition" = signal -> a waiting contender holds the
//   lock. "First write" = signal -> the first successful v2 write through any survivor (testkit's
//   measureFailover: a write to every survivor at once, again every 5 ms). The fault is held for a TTL (+0.5 s)
//   so that every session must refresh through it, then undone (restart / SIGCONT) and the cluster healed.
//   "Sessions lost" counts keys lost while a majority was healthy (all of these trials): a held lock, waiter,
//   term or campaign failing with SessionLostError / SessionExpiredError, or a registered instance the
//   observer sees removed, added or updated again.
// - process kills, on a healthy cluster: SIGKILL of the elected leader's worker and, at the same moment, of a
//   registered instance's worker: -> the observer sees a new leader, and sees the instance leave.
// Each with the default client and TTL 15, and with the demo's settings (packages/cli/src/demo/protocol.ts).
// Prints a markdown section on stdout, progress on stderr.
//
//   npm run bench -w @etcdkit/recipes                       (both recipes benches)
//   node bench/failover-bench.mjs                           (ROUNDS=10 demo rows, ROUNDS_TTL15=5 TTL 15 rows)
//   QUICK=1 node bench/failover-bench.mjs                   (2 and 1)
import { fork } from 'node:child_process';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { DEFAULT_REQUEST_TIMEOUT } from '@etcdkit/client';
import { measureFailover, median, now, startCluster } from '@etcdkit/testkit';

const WORKER = fileURLToPath(new URL('./workers/failover-worker.mjs', import.meta.url));
const QUICK = process.env.QUICK === '1';
const ROUNDS = Number(process.env.ROUNDS ?? (QUICK ? 2 : 10));
const ROUNDS_TTL15 = Number(process.env.ROUNDS_TTL15 ?? (QUICK ? 1 : 5));
const LOCKERS = 3;
/** Sessions a trial: each locker, candidate and service has one. */
const SESSIONS = LOCKERS + 4;
/** Time for waiters' watches and the observer to be in place before a fault. */
const SETTLE_MS = 500;

/** The demo's names for client options (packages/cli/src/demo/protocol.ts), and the client's. */
const CLIENT_OPTION = {
  headerTimeoutMs: 'headerTimeoutPerRequest',
  livenessMs: 'watchLivenessInterval',
  retrySafeTimeoutMs: 'retrySafeTimeout',
};

/** The demo's settings, from the built CLI when it is there (so the bench follows the demo), else today's. */
async function demoSettings() {
  try {
    const { DEMO_CLIENT, DEMO_TTL } = await import('../../cli/dist/demo/protocol.js');
    const client = Object.fromEntries(
      Object.entries(DEMO_CLIENT).map(([name, value]) => [CLIENT_OPTION[name] ?? name, value]),
    );
    return { client, ttl: DEMO_TTL };
  } catch {
    return { client: { headerTimeoutPerRequest: 1000, watchLivenessInterval: 500 }, ttl: 2 };
  }
}

const demo = await demoSettings();
const demoClient = Object.entries(demo.client)
  .map(([name, value]) => `${name} ${value} ms`)
  .join(', ');
const GROUPS = [
  { label: 'default, TTL 15', ttl: 15, client: {}, rounds: ROUNDS_TTL15 },
  { label: `demo, TTL ${demo.ttl}`, ttl: demo.ttl, client: demo.client, rounds: ROUNDS },
];
const FAULTS = ['SIGKILL', 'SIGSTOP'];
const TARGETS = ['leader', 'pinned follower'];

const progress = (text) =>
  process.stderr.write(`[failover-bench ${new Date().toISOString().slice(11, 19)}] ${text}\n`);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---- workers and their events ----

/** Every event of every worker, in arrival order; waiters look from an index on. */
const log = [];
let waiters = [];
const children = new Set();

function spawnWorker(role, id, group) {
  const child = fork(WORKER, [role, id, JSON.stringify({ ttl: group.ttl, client: group.client })], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  children.add(child);
  child.on('message', (event) => {
    log.push(event);
    waiters = waiters.filter((waiter) => !waiter.check(event));
  });
  child.on('exit', () => children.delete(child));
  return { role, id, child, send: (message) => child.connected && child.send(message) };
}

/** The first event from index `since` on that matches; rejects after timeoutMs. */
function waitFor(match, { since = 0, timeoutMs = 20_000, what = 'an event' } = {}) {
  const found = log.slice(since).find(match);
  if (found) return Promise.resolve(found);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      waiters = waiters.filter((waiter) => waiter !== entry);
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
    }, timeoutMs);
    const entry = {
      check: (event) => {
        if (!match(event)) return false;
        clearTimeout(timer);
        resolve(event);
        return true;
      },
    };
    waiters.push(entry);
  });
}

const is = (id, type) => (event) => event.id === id && event.type === type;

function killAllSync() {
  for (const child of children) {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {}
  }
}

class Team {
  constructor(group) {
    this.group = group;
    this.lockers = Array.from({ length: LOCKERS }, (_, i) => spawnWorker('locker', `locker-${i}`, group));
    this.candidates = [0, 1].map((i) => spawnWorker('candidate', `candidate-${i}`, group));
    this.services = [0, 1].map((i) => spawnWorker('service', `service-${i}`, group));
    this.observer = spawnWorker('observer', 'observer', group);
  }

  get all() {
    return [...this.lockers, ...this.candidates, ...this.services, this.observer];
  }

  async up(workers = this.all) {
    await Promise.all(
      workers.map((w) =>
        waitFor((e) => e.id === w.id && e.type === 'up', { timeoutMs: 60_000, what: `${w.id} up` }),
      ),
    );
  }

  replace(worker) {
    const fresh = spawnWorker(worker.role, worker.id, this.group);
    for (const list of [this.lockers, this.candidates, this.services]) {
      const index = list.indexOf(worker);
      if (index >= 0) list[index] = fresh;
    }
    return fresh;
  }

  /** Begins a trial on `workers` (new clients pinned to order[0]); resolves once each is ready. */
  async begin(workers, order, prefix) {
    const since = log.length;
    for (const w of workers) w.send({ type: 'begin', order, prefix });
    await Promise.all(
      workers.map((w) => waitFor(is(w.id, 'ready'), { since, timeoutMs: 30_000, what: `${w.id} ready` })),
    );
  }

  /** Ends the trial; a worker that does not end within 20 s is replaced. */
  async end(workers) {
    const since = log.length;
    for (const w of workers) w.send({ type: 'end' });
    const spawned = [];
    await Promise.all(
      workers.map((w) =>
        waitFor(is(w.id, 'ended'), { since, timeoutMs: 20_000 }).catch(() => {
          progress(`${w.id} did not end: replaced`);
          w.child.kill('SIGKILL');
          spawned.push(this.replace(w));
        }),
      ),
    );
    await this.up(spawned);
  }

  /** The lock holder, the elected candidate, both services registered and seen by the observer. */
  async arrange(prefix, order, { lockers }) {
    const since = log.length;
    const [holder, ...waiting] = this.lockers;
    const workers = [...(lockers ? this.lockers : []), ...this.candidates, ...this.services, this.observer];
    await this.begin(workers, order, prefix);
    const [first, second] = this.candidates;
    first.send({ type: 'campaign' });
    await waitFor(is(first.id, 'elected'), { since, what: 'the first leader' });
    second.send({ type: 'campaign' });
    if (lockers) {
      holder.send({ type: 'acquire' });
      await waitFor(is(holder.id, 'acquired'), { since, what: 'the lock holder' });
      for (const w of waiting) w.send({ type: 'acquire' });
    }
    await waitFor((e) => e.id === 'observer' && e.type === 'leader' && e.value === first.id, {
      since,
      what: 'the observer to see the leader',
    });
    for (const s of this.services)
      await waitFor(
        (e) => e.id === 'observer' && e.type === 'change' && e.change === 'added' && e.instance === s.id,
        { since, what: `the observer to see ${s.id}` },
      );
    await sleep(SETTLE_MS);
    return workers;
  }

  close() {
    for (const w of this.all) w.child.kill('SIGKILL');
  }
}

/**
 * Sessions lost since `since`, one a worker (each has one session a trial): a 'lost' event, or a registration
 * the observer saw change again. Resolves to a description a worker.
 */
function lostSince(since, services) {
  const lost = new Map();
  const add = (id, what) => lost.set(id, [...new Set([...(lost.get(id) ?? []), what])]);
  for (const e of log.slice(since)) {
    if (e.type === 'lost') add(e.id, `${e.what} ${e.reason}`);
    if (e.id === 'observer' && e.type === 'change' && services.includes(e.instance))
      add(e.instance, `registration ${e.change}`);
  }
  return [...lost].map(([id, whats]) => `${id} (${whats.join(', ')})`);
}

const errorsSince = (since) => log.slice(since).filter((e) => e.type === 'error');
/** Other worker errors by kind (what + message, numbers masked), for the report. */
const errorKinds = new Map();
function countErrors(errors) {
  for (const e of errors) {
    const kind = `${e.what}: ${e.message.replace(/\d+/g, 'N').slice(0, 140)}`;
    errorKinds.set(kind, (errorKinds.get(kind) ?? 0) + 1);
  }
}

// ---- trials ----

let cluster;
let trialNo = 0;

/** One etcd fault: measures first write, next lock acquisition and sessions lost. */
async function etcdTrial(team, fault, targetKind) {
  const prefix = `/bench/failover/t${++trialNo}`;
  await cluster.restoreAll();
  const leader = await cluster.waitForLeader();
  const target = targetKind === 'leader' ? leader : cluster.members.find((m) => m !== leader);
  const order = [target.clientURL, ...cluster.clientURLs.filter((url) => url !== target.clientURL)];
  const workers = await team.arrange(prefix, order, { lockers: true });
  const [holder, ...waiting] = team.lockers;
  const mark = log.length;
  let faultAt = 0;
  const failover = await measureFailover(
    cluster,
    async () => {
      faultAt = now();
      const done = fault === 'SIGKILL' ? target.kill() : target.pause(); // the signal is sent synchronously
      holder.send({ type: 'release' });
      await done;
    },
    { faulted: [target], timeoutMs: 20_000 },
  );
  const ttlMs = team.group.ttl * 1000;
  const acquired = await waitFor((e) => e.type === 'acquired' && waiting.some((w) => w.id === e.id), {
    since: mark,
    timeoutMs: Math.max(0, faultAt + ttlMs + 15_000 - now()),
  }).catch(() => undefined);
  await sleep(Math.max(0, faultAt + ttlMs + 500 - now())); // every session refreshes through the fault
  const released = log.slice(mark).find(is(holder.id, 'released'));
  await cluster.restoreAll();
  const lost = lostSince(
    mark,
    team.services.map((s) => s.id),
  );
  const errors = errorsSince(mark);
  countErrors(errors);
  await team.end(workers);
  return {
    firstWriteMs: failover.firstWriteMs,
    acquisitionMs: acquired ? acquired.at - faultAt : Number.POSITIVE_INFINITY,
    lost,
    errors: errors.length,
    releaseError: released?.error,
  };
}

/** SIGKILL of the elected leader's and of a registered instance's worker, on a healthy cluster. */
async function processTrial(team) {
  const prefix = `/bench/failover/t${++trialNo}`;
  await cluster.restoreAll();
  const order = [...cluster.clientURLs];
  const workers = await team.arrange(prefix, order, { lockers: false });
  const [leader, successor] = team.candidates;
  const [crashed, staying] = team.services;
  const mark = log.length;
  const killedAt = now();
  leader.child.kill('SIGKILL');
  crashed.child.kill('SIGKILL');
  const timeoutMs = team.group.ttl * 1000 + 15_000;
  const [elected, left] = await Promise.all([
    waitFor((e) => e.id === 'observer' && e.type === 'leader' && e.value === successor.id, {
      since: mark,
      timeoutMs,
    }).catch(() => undefined),
    waitFor(
      (e) =>
        e.id === 'observer' && e.type === 'change' && e.change === 'removed' && e.instance === crashed.id,
      { since: mark, timeoutMs },
    ).catch(() => undefined),
  ]);
  const lost = lostSince(mark, [staying.id]);
  const errors = errorsSince(mark);
  countErrors(errors);
  const fresh = [team.replace(leader), team.replace(crashed)];
  await team.end(workers.filter((w) => w !== leader && w !== crashed));
  await team.up(fresh);
  return {
    electionMs: elected ? elected.at - killedAt : Number.POSITIVE_INFINITY,
    registryMs: left ? left.at - killedAt : Number.POSITIVE_INFINITY,
    lost,
    errors: errors.length,
  };
}

// ---- report ----

const fmt = (ms) => (Number.isFinite(ms) ? `${Math.round(ms)}` : 'none');
const ratio = (value) => (Number.isFinite(value) ? `${value.toFixed(2)}x` : '∞');
const max = (values) => Math.max(...values);
const min = (values) => Math.min(...values);

function verdict(values, limit) {
  if (max(values) <= limit) return 'pass';
  return median(values) <= limit ? 'fail (median passes)' : 'fail';
}

const rows = [];
const notes = [];

function lockRows(group, fault, targetKind, trials) {
  const first = trials.map((t) => t.firstWriteMs);
  const acquisition = trials.map((t) => t.acquisitionMs);
  const ratios = trials.map((t) => t.acquisitionMs / t.firstWriteMs);
  const limit = fault === 'SIGKILL' ? 1.5 : 2;
  const lost = trials.reduce((sum, t) => sum + t.lost.length, 0);
  const scenario = `${fault} ${targetKind}`;
  rows.push([
    group.label,
    scenario,
    'first write through a survivor',
    trials.length,
    fmt(median(first)),
    fmt(max(first)),
    `${fmt(min(first))}–${fmt(max(first))}`,
    '1x',
    '',
    '',
    '',
  ]);
  rows.push([
    group.label,
    scenario,
    'next lock acquisition',
    trials.length,
    fmt(median(acquisition)),
    fmt(max(acquisition)),
    `${fmt(min(acquisition))}–${fmt(max(acquisition))}`,
    `${ratio(median(ratios))} / ${ratio(max(ratios))}`,
    `≤ ${limit}x`,
    verdict(ratios, limit),
    `${lost} of ${trials.length * SESSIONS} ${lost === 0 ? 'pass' : 'fail'}`,
  ]);
  for (const [i, t] of trials.entries()) {
    if (t.lost.length) notes.push(`${group.label}, ${scenario}, trial ${i + 1}: lost ${t.lost.join(', ')}`);
    if (t.releaseError)
      notes.push(
        `${group.label}, ${scenario}, trial ${i + 1}: the holder's release failed (${t.releaseError})`,
      );
  }
}

function processRows(group, trials) {
  const limit = group.ttl * 1000 + 300;
  const lost = trials.reduce((sum, t) => sum + t.lost.length, 0);
  for (const [figure, key] of [
    ['elected leader SIGKILL → new leader observed', 'electionMs'],
    ['registered instance SIGKILL → watchers see it leave', 'registryMs'],
  ]) {
    const values = trials.map((t) => t[key]);
    rows.push([
      group.label,
      'worker process SIGKILL',
      figure,
      trials.length,
      fmt(median(values)),
      fmt(max(values)),
      `${fmt(min(values))}–${fmt(max(values))}`,
      `${(median(values) / (group.ttl * 1000)).toFixed(2)}x TTL`,
      `≤ TTL + 300 ms (${limit} ms)`,
      verdict(values, limit),
      `${lost} of ${trials.length * 2} ${lost === 0 ? 'pass' : 'fail'}`,
    ]);
  }
  for (const [i, t] of trials.entries())
    if (t.lost.length) notes.push(`${group.label}, process kills, trial ${i + 1}: lost ${t.lost.join(', ')}`);
}

// ---- main ----

let exiting = false;
async function cleanup() {
  killAllSync();
  await cluster?.close().catch(() => {});
}
process.on('exit', killAllSync);
for (const signal of ['SIGINT', 'SIGTERM'])
  process.on(signal, () => {
    if (exiting) return;
    exiting = true;
    progress(`${signal}: cleaning up`);
    void cleanup().finally(() => process.exit(130));
  });

const started = performance.now();
let errorCount = 0;
const failedTrials = [];
try {
  cluster = await startCluster({ size: 3, timings: 'fast' });
  progress(`etcd ${cluster.version}, 3 members: ${cluster.clientURLs.join(' ')}`);
  for (const group of GROUPS) {
    progress(`${group.label}: starting ${LOCKERS + 5} workers`);
    let team = new Team(group);
    await team.up();
    /** Runs one trial; a trial that fails (e.g. no write within 20 s) is noted, and the team and cluster renewed. */
    const attempt = async (what, run) => {
      try {
        return await run(team);
      } catch (error) {
        failedTrials.push(`${group.label}, ${what}: ${error.message}`);
        progress(`${group.label}, ${what}: trial failed: ${error.message}`);
        team.close();
        await cluster.restoreAll();
        team = new Team(group);
        await team.up();
        return undefined;
      }
    };
    for (const fault of FAULTS) {
      for (const targetKind of TARGETS) {
        const trials = [];
        for (let round = 1; round <= group.rounds; round++) {
          const trial = await attempt(`${fault} ${targetKind}`, (t) => etcdTrial(t, fault, targetKind));
          if (!trial) continue;
          errorCount += trial.errors;
          progress(
            `${group.label}, ${fault} ${targetKind} ${round}/${group.rounds}: first write ${fmt(trial.firstWriteMs)} ms, ` +
              `next lock ${fmt(trial.acquisitionMs)} ms, lost ${trial.lost.length}, errors ${trial.errors}` +
              (trial.releaseError ? `, release ${trial.releaseError}` : ''),
          );
          trials.push(trial);
        }
        if (trials.length) lockRows(group, fault, targetKind, trials);
      }
    }
    const trials = [];
    for (let round = 1; round <= group.rounds; round++) {
      const trial = await attempt('process kills', processTrial);
      if (!trial) continue;
      errorCount += trial.errors;
      progress(
        `${group.label}, process kills ${round}/${group.rounds}: new leader ${fmt(trial.electionMs)} ms, ` +
          `instance left ${fmt(trial.registryMs)} ms, lost ${trial.lost.length}`,
      );
      trials.push(trial);
    }
    if (trials.length) processRows(group, trials);
    team.close();
  }
} catch (error) {
  progress(`failed: ${error.stack ?? error}`);
  await cleanup();
  process.exit(1);
}
const version = cluster.version;
await cleanup();
const minutes = ((performance.now() - started) / 60_000).toFixed(1);

console.log(
  `## @etcdkit/recipes failover (etcd ${version}, 3 process members, heartbeat 50 ms / election 250 ms)\n`,
);
console.log(
  [
    `${new Date().toISOString().slice(0, 16)}Z, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}; ` +
      `${minutes} min. Trials per row: ${ROUNDS_TTL15} with TTL 15, ${ROUNDS} with the demo's settings ` +
      '(`ROUNDS`, `ROUNDS_TTL15`; `QUICK=1` for 2 and 1).',
    '',
    'Every client (one per worker process) is pinned to the member the fault hits. The lock holder releases',
    'right after the signal; **next lock acquisition** = signal → one of the two waiting contenders holds the lock.',
    '**First write** = signal → the first successful write through a survivor (testkit `measureFailover`: every',
    'survivor at once, every 5 ms). Ratios are the median and max of per-trial ratios to the same trial’s first',
    'write. The fault is held for a TTL + 0.5 s, then undone. **Sessions lost** (7 sessions a trial: 3 lockers, 2',
    'candidates, 2 registrations; a majority is healthy in every trial): SessionLostError / SessionExpiredError',
    'on a held lock, waiter, term or campaign, or a registration the observer sees removed or re-added.',
    'Process kills: the elected leader’s worker and a registered instance’s worker are SIGKILLed together on a',
    'healthy cluster; times are until an observer (election observe, registry watch) sees the change; sessions',
    'lost there: of the surviving candidate and instance.',
    '',
    '| settings | fault | figure | trials | median ms | max ms | spread ms | ratio median / max | target | result | sessions lost |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map((row) => `| ${row.join(' | ')} |`),
    '',
    `Settings: **default** = \`new Client({ endpoints })\` (the client's defaults: ${DEFAULT_REQUEST_TIMEOUT} ms request timeout, its default watch liveness, its retrySafeTimeout measured from the cluster's answers), TTL 15; ` +
      `**demo** = the CLI demo's client (${demoClient}), TTL ${demo.ttl}.`,
    '',
    `Other worker errors (retried, not session losses): ${errorCount}.`,
    ...[...errorKinds].map(([kind, count]) => `- ${count} × ${kind}`),
    ...(failedTrials.length
      ? ['', 'Failed trials (left out of the figures):', ...failedTrials.map((f) => `- ${f}`)]
      : []),
    ...(notes.length ? ['', ...notes.map((note) => `- ${note}`)] : []),
  ].join('\n'),
);
process.exit(0);
