/**
 * `etcdkit demo` (the README's main command): an embedded 3-member etcd cluster, worker processes contending
 * for a fenced lock, campaigning in an election and registering a service; then faults, each recovery
 * measured, a summary table, and a safety check of the whole history. Ctrl-C cleans up at any point.
 */
import { Client, KeysAPI } from '@etcdkit/client';
import { Election, ServiceRegistry } from '@etcdkit/recipes';
import {
  type Cluster,
  type FailoverTimes,
  measureFailover,
  median,
  now,
  startCluster,
} from '@etcdkit/testkit';
import { MetricsFile } from './metrics-file.js';
import { WorkerPool } from './pool.js';
import { DEMO_CLIENT, DEMO_KEYS, DEMO_TTL, type WorkerEvent } from './protocol.js';
import { Recorder } from './recorder.js';
import { ReportFile } from './report-file.js';
import * as ui from './ui.js';

const LOCKERS = 4;
const CANDIDATES = 3;
const SERVICES = 3;
/** Budget for one recovery step (expiries of a 2 s TTL, failovers with 1 s request timeouts): many TTLs. */
const WAIT_MS = 15_000;
/**
 * Start-up cost of one worker process (Node, the client and recipes loaded, a session created) on a loaded
 * 2-core machine, with headroom: about 1 s of CPU each, 10 of them sharing 2 cores with etcd, times 3.
 */
const START_MS_PER_WORKER = 3000;
/** Budget for every worker to be up and seen: they start at once but share the cores; plus a TTL to settle. */
const startBudgetMs = (workers: number): number => workers * START_MS_PER_WORKER + DEMO_TTL * 1000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const ms = (value: number): string => `${value.toFixed(0)} ms`;

/** `value` as a multiple of the first write through a survivor after the same fault ("1.02x the first write"). */
const firstWrites = (value: number, failover: FailoverTimes): string =>
  `${(value / Math.max(1, failover.firstWriteMs)).toFixed(2)}x the first write`;

function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Options of {@link runDemo}. */
export interface DemoOptions {
  /** Members of the cluster (default 3). */
  size?: number | undefined;
  /** Where to write the metrics of every demo process as JSON (see {@link MetricsFile}); none when unset. */
  metricsFile?: string | undefined;
  /** Where to write the history as an HTML page (see {@link ReportFile}); none when unset. */
  reportFile?: string | undefined;
}

/** Runs the demo; resolves to the exit code (0 when every recovery happened and no safety check failed). */
export async function runDemo(options: DemoOptions = {}): Promise<number> {
  const size = options.size ?? 3;
  // before anything starts: a path that cannot be written is an error now, not after the demo
  const metrics = options.metricsFile === undefined ? undefined : new MetricsFile(options.metricsFile);
  const report = options.reportFile === undefined ? undefined : new ReportFile(options.reportFile);
  let cluster: Cluster | undefined;
  let pool: WorkerPool | undefined;
  const observers = new AbortController();
  let client: Client | undefined;
  let interrupted = false;
  /** Stops everything; `complete` when the demo ran to its end. */
  const cleanup = async (complete = false): Promise<void> => {
    observers.abort();
    pool?.killAllSync();
    client?.close();
    if (metrics) {
      try {
        metrics.write(true, complete);
        metrics.close();
        ui.note(`metrics of ${pool ? pool.workers.length + 1 : 1} processes written to ${metrics.path}`);
      } catch (error) {
        ui.line(ui.red(`cannot write ${metrics.path}: ${(error as Error).message}`));
      }
    }
    await cluster?.close();
  };
  const onSignal = (): void => {
    if (interrupted) return;
    interrupted = true;
    ui.line();
    ui.line(ui.yellow('interrupted: stopping workers and the cluster...'));
    void cleanup().finally(() => {
      ui.line('cleaned up: no process, no data left');
      process.exit(130);
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.once('exit', () => pool?.killAllSync());

  try {
    ui.line(ui.bold('etcdkit demo: coordination recipes surviving faults on a real etcd v2 cluster'));
    ui.phase(1, `Start an embedded ${size}-member etcd cluster`);
    const t0 = performance.now();
    cluster = await startCluster({ size });
    const etcdLeader = await cluster.waitForLeader();
    ui.measured(`etcd ${cluster.version}, ${size} members up and writable in`, performance.now() - t0);
    for (const member of cluster.members)
      ui.note(
        `${member.name}  ${member.clientURL}  pid ${member.pid}${member === etcdLeader ? '  (raft leader)' : ''}`,
      );

    const recorder = new Recorder();
    pool = new WorkerPool(cluster.clientURLs, { metrics: metrics !== undefined });
    pool.on('event', (event: WorkerEvent) => recorder.take(event));
    pool.on('metrics', (name, snapshot) => metrics?.take(name, snapshot));
    pool.on('killed', (name, at) => recorder.killed(name, at));
    client = new Client({
      endpoints: [...cluster.clientURLs],
      headerTimeoutPerRequest: DEMO_CLIENT.headerTimeoutMs,
      watchLivenessInterval: DEMO_CLIENT.livenessMs,
      retrySafeTimeout: DEMO_CLIENT.retrySafeTimeoutMs,
    });
    const keys = new KeysAPI(client);
    void observeElection(keys, recorder, observers.signal);
    void observeRegistry(keys, recorder, observers.signal);

    ui.phase(
      2,
      `Start ${LOCKERS} lock workers, ${CANDIDATES} election candidates, ${SERVICES} service instances`,
    );
    ui.note(
      `each a separate process with its own client (${DEMO_CLIENT.headerTimeoutMs} ms request timeout, ` +
        `${DEMO_CLIENT.livenessMs} ms watch health checks, retry-safe writes hedged after ` +
        `${DEMO_CLIENT.retrySafeTimeoutMs} ms); sessions have a ${DEMO_TTL} s TTL`,
    );
    await Promise.all([
      ...Array.from({ length: LOCKERS }, () => pool!.spawn('locker')),
      ...Array.from({ length: CANDIDATES }, () => pool!.spawn('candidate')),
      ...Array.from({ length: SERVICES }, (_, i) => pool!.spawn('service', 8080 + i)),
    ]);
    await recorder.until(
      () =>
        recorder.acquisitions > 0 &&
        recorder.observedLeader !== undefined &&
        recorder.services.size === SERVICES,
      startBudgetMs(LOCKERS + CANDIDATES + SERVICES),
      'the first lock holder, an elected leader and every service instance',
    );
    await watchSteadily(recorder, 3000);
    ui.measured(
      `${recorder.acquisitions} lock acquisitions so far; median handoff between processes`,
      median(recorder.handoffs),
    );

    const results: [string, string, string][] = [];

    ui.phase(3, 'SIGKILL the etcd raft leader');
    const killedMember = await cluster.waitForLeader();
    ui.action(`kill -9 ${killedMember.pid} (${killedMember.name})`);
    const restarted = report?.fault('SIGKILL etcd leader', killedMember.name);
    const { failover, lockResumed } = await faultEtcdLeader(cluster, recorder, () => killedMember.kill());
    ui.note(
      `a write in flight when the leader died gets no reply: a retry-safe one (refresh, release) also goes ` +
        `to another member after ${DEMO_CLIENT.retrySafeTimeoutMs} ms; a new queue entry waits out the ` +
        `${DEMO_CLIENT.headerTimeoutMs} ms request timeout, then is looked for and retried`,
    );
    const restartAt = performance.now();
    await killedMember.restart();
    ui.measured(`${killedMember.name} restarted on its data and healthy in`, performance.now() - restartAt);
    restarted?.();
    results.push(
      ['etcd leader SIGKILL → new raft leader', ms(failover.newLeaderMs), 'election timeout 250 ms'],
      ['etcd leader SIGKILL → first write', ms(failover.firstWriteMs), ''],
      ['etcd leader SIGKILL → next lock acquisition', ms(lockResumed), firstWrites(lockResumed, failover)],
    );

    ui.phase(4, 'SIGKILL the process holding the lock');
    pool.tell('locker', { type: 'hold-forever' });
    await recorder.until(() => recorder.holdingForever !== undefined, WAIT_MS, 'a lock holder');
    pool.tell('locker', { type: 'hold-normally' }); // only this one holder keeps it
    const hold = recorder.holdingForever!;
    const holder = pool.get(hold.worker)!;
    await sleep(200);
    ui.action(
      `kill -9 ${holder.child.pid} (${hold.worker}, holding the lock with fencing token ${hold.token})`,
    );
    const holderKilledAt = await pool.kill(holder);
    await recorder.until(
      () => (recorder.lastAcquired?.at ?? 0) > holderKilledAt,
      WAIT_MS,
      'the next lock holder',
    );
    const takeover = recorder.lastAcquired!;
    report?.fault('SIGKILL lock holder', hold.worker, holderKilledAt)(takeover.at);
    ui.measured(
      `${takeover.worker} took the lock (token ${takeover.token} > ${hold.token}) after`,
      takeover.at - holderKilledAt,
    );
    ui.note(`the dead holder's key expired with its ${DEMO_TTL} s TTL; nobody held the lock in between`);
    results.push([
      'lock holder SIGKILL → next holder',
      ms(takeover.at - holderKilledAt),
      `TTL ${DEMO_TTL * 1000} ms`,
    ]);
    await pool.spawn('locker');

    ui.phase(5, 'SIGKILL the elected leader');
    const leaderName = recorder.observedLeader!.value;
    const leaderWorker = pool.get(leaderName)!;
    ui.action(`kill -9 ${leaderWorker.child.pid} (${leaderName})`);
    const leaderKilledAt = await pool.kill(leaderWorker);
    await recorder.until(
      () => recorder.observedLeader !== undefined && recorder.observedLeader.value !== leaderName,
      WAIT_MS,
      'a new elected leader',
    );
    const newLeader = recorder.observedLeader!;
    report?.fault('SIGKILL elected leader', leaderName, leaderKilledAt)(newLeader.at);
    ui.measured(`observers saw ${newLeader.value} lead after`, newLeader.at - leaderKilledAt);
    results.push([
      'elected leader SIGKILL → new leader',
      ms(newLeader.at - leaderKilledAt),
      `TTL ${DEMO_TTL * 1000} ms`,
    ]);
    await pool.spawn('candidate');

    ui.phase(6, 'Service instances come and go');
    const services = pool.running('service');
    const graceful = services[0]!;
    ui.action(`stop ${graceful.name} gracefully (SIGTERM: it deregisters)`);
    let t = now();
    await pool.stop(graceful);
    await recorder.until(() => !recorder.services.has(graceful.name), WAIT_MS, `${graceful.name} to leave`);
    const gracefulMs = now() - t;
    ui.measured('watchers saw it leave after', gracefulMs);
    const crashed = services[1]!;
    ui.action(`kill -9 ${crashed.child.pid} (${crashed.name})`);
    t = await pool.kill(crashed);
    await recorder.until(() => !recorder.services.has(crashed.name), WAIT_MS, `${crashed.name} to expire`);
    const crashedMs = now() - t;
    report?.fault('SIGKILL service', crashed.name, t)();
    ui.measured('watchers saw the crashed one expire after', crashedMs);
    t = now();
    const fresh = await pool.spawn('service', 8090);
    ui.action(`start ${fresh.name}`);
    await recorder.until(() => recorder.services.has(fresh.name), WAIT_MS, `${fresh.name} to appear`);
    const joinMs = now() - t;
    ui.measured('watchers saw the new one (process start included) after', joinMs);
    ui.note(`instances now: ${[...recorder.services.keys()].sort().join(', ')}`);
    results.push(
      ['service SIGTERM → removed from watchers', ms(gracefulMs), ''],
      ['service SIGKILL → expired from watchers', ms(crashedMs), `TTL ${DEMO_TTL * 1000} ms`],
      ['new service process → seen by watchers', ms(joinMs), ''],
    );

    ui.phase(7, 'SIGSTOP the etcd raft leader (a frozen VM), then SIGCONT');
    const paused = await cluster.waitForLeader();
    ui.action(`kill -STOP ${paused.pid} (${paused.name})`);
    const continued = report?.fault('SIGSTOP etcd leader', paused.name);
    const { failover: pausedFailover, lockResumed: resumedAfterPause } = await faultEtcdLeader(
      cluster,
      recorder,
      () => paused.pause(),
    );
    await sleep(1500);
    ui.action(`kill -CONT ${paused.pid}`);
    const resumeAt = performance.now();
    await paused.resume();
    continued?.();
    await paused.waitHealthy();
    ui.measured(`${paused.name} caught up and healthy in`, performance.now() - resumeAt);
    results.push(
      ['etcd leader SIGSTOP → new raft leader', ms(pausedFailover.newLeaderMs), 'election timeout 250 ms'],
      ['etcd leader SIGSTOP → first write', ms(pausedFailover.firstWriteMs), ''],
      [
        'etcd leader SIGSTOP → next lock acquisition',
        ms(resumedAfterPause),
        firstWrites(resumedAfterPause, pausedFailover),
      ],
    );

    await watchSteadily(recorder, 1000);
    ui.phase(8, 'Stop everything and check the history');
    await pool.stopAll();
    if (metrics) await pool.drained(); // the workers' last snapshots
    observers.abort();
    const violations = recorder.violations();
    const holds = recorder.history.ofKind('hold');
    const summary: [string, string, string][] = [
      [
        'lock acquisitions',
        String(recorder.acquisitions),
        `${new Set(holds.map((h) => h.process)).size} processes`,
      ],
      [
        'lock handoff between processes (median / p99)',
        `${ms(median(recorder.handoffs))} / ${ms(percentile(recorder.handoffs, 99))}`,
        '',
      ],
      ...results,
      ['stale fenced writes refused', String(recorder.staleWritesRefused), ''],
      ['safety violations (overlap, tokens, fenced writes)', String(violations.length), 'must be 0'],
    ];
    ui.line();
    ui.table(['measure', 'value', 'baseline / note'], summary);
    ui.line();
    for (const violation of violations) ui.line(ui.red(`violation: ${violation.message}`));
    if (violations.length === 0) ui.line(ui.green(ui.bold('safety violations: 0')));
    if (report) {
      const title = `etcdkit demo: ${size} etcd members, ${recorder.acquisitions} lock acquisitions, ${report.faults.length} faults, ${violations.length} safety violations`;
      await report.write(title, recorder.history, violations);
      ui.note(`history report (HTML) written to ${report.path}`);
    }
    await cleanup(true);
    ui.line('cluster stopped, workers stopped, data removed');
    return violations.length === 0 ? 0 : 1;
  } catch (error) {
    if (interrupted) return 130;
    ui.line(ui.red(`demo failed: ${(error as Error).message}`));
    await cleanup().catch(() => {});
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/**
 * Injects a fault on the etcd leader and shows the recovery: a new raft leader, the first write through a
 * survivor, and the next lock acquisition by the workers after the fault (also as a multiple of that write).
 */
async function faultEtcdLeader(
  cluster: Cluster,
  recorder: Recorder,
  fault: () => Promise<void>,
): Promise<{ failover: FailoverTimes; lockResumed: number }> {
  const at = now();
  const failover = await measureFailover(cluster, fault);
  ui.measured(`new raft leader ${failover.after.name} elected in`, failover.newLeaderMs);
  ui.measured('first write through a survivor accepted after', failover.firstWriteMs);
  await recorder.until(() => (recorder.lastAcquired?.at ?? 0) > at, WAIT_MS, 'a lock acquisition');
  const lockResumed = recorder.lastAcquired!.at - at;
  ui.measured(`lock handoffs resumed (${firstWrites(lockResumed, failover)}) after`, lockResumed);
  return { failover, lockResumed };
}

/** Shows live progress for `durationMs`: a status line on a TTY, one plain line per second otherwise. */
async function watchSteadily(recorder: Recorder, durationMs: number): Promise<void> {
  const end = performance.now() + durationMs;
  let lastPlain = 0;
  while (performance.now() < end) {
    const holder = recorder.lastAcquired;
    const text =
      `lock: ${recorder.acquisitions} acquisitions, holder ${holder?.worker ?? '-'} (token ${holder?.token ?? '-'})` +
      `  election: ${recorder.observedLeader?.value ?? 'nobody'}  services: ${recorder.services.size}`;
    if (ui.interactive) ui.status(text);
    else if (performance.now() - lastPlain >= 1000) {
      ui.note(text);
      lastPlain = performance.now();
    }
    await sleep(100);
  }
}

async function observeElection(keys: KeysAPI, recorder: Recorder, signal: AbortSignal): Promise<void> {
  const election = new Election(keys, DEMO_KEYS.election);
  try {
    for await (const leader of election.observe({ signal })) recorder.leaderSeen(leader?.value);
  } catch {
    // aborted at the end
  }
}

async function observeRegistry(keys: KeysAPI, recorder: Recorder, signal: AbortSignal): Promise<void> {
  const registry = new ServiceRegistry(keys, DEMO_KEYS.services);
  try {
    for await (const change of registry.watch(DEMO_KEYS.service, { signal }))
      recorder.serviceSeen(change.instance.id, change.type !== 'removed');
  } catch {
    // aborted at the end
  }
}
