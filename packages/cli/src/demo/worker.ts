/**
 * A demo worker process: `node worker.js <role> <name> <endpoints> [port] [metrics]`. It contends for the lock,
 * campaigns in the election, or registers a service instance, and reports each step to the demo over IPC (with
 * `metrics`, also its metrics snapshot every second and at exit). It exits when the demo goes away (the IPC
 * channel closes), and gracefully on SIGTERM.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Client, KeysAPI } from '@etcdkit/client';
import { Election, FencedKey, Lock, ServiceRegistry, StaleTokenError } from '@etcdkit/recipes';
import { now } from '@etcdkit/testkit';
import { MetricsCollector } from '../metrics.js';
import {
  DEMO_CLIENT,
  DEMO_KEYS,
  DEMO_TTL,
  METRICS_INTERVAL_MS,
  type Role,
  type WorkerEvent,
} from './protocol.js';

const [role, worker, endpoints, port, metrics] = process.argv.slice(2) as [
  Role,
  string,
  string,
  string?,
  string?,
];
/** With `metrics`: counts this worker's client and recipe events; the demo gets a snapshot every second. */
const collector = metrics === 'metrics' ? new MetricsCollector() : undefined;
const sendMetrics = (): void => {
  if (collector) send({ type: 'metrics', worker, metrics: collector.snapshot() });
};
if (collector) setInterval(sendMetrics, METRICS_INTERVAL_MS).unref();
const client = new Client({
  endpoints: endpoints.split(','),
  headerTimeoutPerRequest: DEMO_CLIENT.headerTimeoutMs,
  watchLivenessInterval: DEMO_CLIENT.livenessMs,
  retrySafeTimeout: DEMO_CLIENT.retrySafeTimeoutMs,
});
const keys = new KeysAPI(client);
const stopping = new AbortController();
/** Set by the demo: the next lock holder keeps the lock until it is killed (so the demo kills a real holder). */
let holdForever = false;
process.on('message', (message: { type?: string }) => {
  if (message.type === 'hold-forever') holdForever = true;
  if (message.type === 'hold-normally') holdForever = false;
});

function send(event: WorkerEvent): void {
  if (process.connected) process.send?.(event);
}

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });

async function locker(): Promise<void> {
  const lock = new Lock(keys, DEMO_KEYS.lock, { ttl: DEMO_TTL });
  const fenced = new FencedKey(keys, DEMO_KEYS.fenced);
  while (!stopping.signal.aborted) {
    let held: Awaited<ReturnType<Lock['acquire']>>;
    try {
      held = await lock.acquire({ signal: stopping.signal });
    } catch (error) {
      if (!stopping.signal.aborted)
        send({ type: 'error', worker, message: String((error as Error).message) });
      await sleep(100);
      continue;
    }
    const start = now();
    // how long this process was kept from running meanwhile (a starved process may outlive its lock)
    const stalls = monitorEventLoopDelay({ resolution: 10 });
    stalls.enable();
    send({ type: 'acquired', worker, token: held.fencingToken, at: start });
    const writeStart = now();
    let ok = true;
    let stale = false;
    try {
      await fenced.write(held.fencingToken, `written by ${worker}`, { signal: held.signal });
    } catch (error) {
      ok = false;
      stale = error instanceof StaleTokenError;
    }
    send({ type: 'write', worker, token: held.fencingToken, start: writeStart, end: now(), ok, stale });
    if (holdForever) {
      holdForever = false;
      send({ type: 'holding-forever', worker, token: held.fencingToken, at: now() });
      await new Promise((resolve) => held.signal.addEventListener('abort', resolve, { once: true }));
    }
    await sleep(20 + Math.random() * 40, held.signal);
    // the time first: a stop between the two lines must not stretch a hold judged valid
    const end = now();
    // `valid` judges on the clock: a hold whose deadline passed while this process was starved is lost even
    // before the timer that aborts its signal has run
    const lost = !held.valid;
    await held.release().catch(() => {});
    stalls.disable();
    const maxStallMs = stalls.max / 1e6;
    send({ type: 'released', worker, token: held.fencingToken, start, end, lost, maxStallMs });
  }
  await lock.close();
}

async function candidate(): Promise<void> {
  const election = new Election(keys, DEMO_KEYS.election, { ttl: DEMO_TTL });
  while (!stopping.signal.aborted) {
    try {
      const term = await election.campaign(worker, { signal: stopping.signal });
      send({ type: 'elected', worker, token: term.fencingToken, at: now() });
      await new Promise((resolve) => {
        term.signal.addEventListener('abort', resolve, { once: true });
        stopping.signal.addEventListener('abort', resolve, { once: true });
      });
      send({ type: 'deposed', worker, token: term.fencingToken, at: now() });
      await term.resign().catch(() => {});
    } catch (error) {
      if (!stopping.signal.aborted)
        send({ type: 'error', worker, message: String((error as Error).message) });
      await sleep(100);
    }
  }
  await election.close();
}

async function service(): Promise<void> {
  const registry = new ServiceRegistry(keys, DEMO_KEYS.services, { ttl: DEMO_TTL });
  const registration = await registry.register({
    service: DEMO_KEYS.service,
    id: worker,
    address: '127.0.0.1',
    port: Number(port ?? 0),
  });
  send({ type: 'registered', worker, at: now() });
  await new Promise((resolve) => stopping.signal.addEventListener('abort', resolve, { once: true }));
  await registration.close();
  await registry.close();
}

process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => stopping.abort());
process.on('SIGINT', () => {}); // Ctrl-C reaches the whole process group: the demo decides
send({ type: 'ready', worker });
const run = role === 'locker' ? locker : role === 'candidate' ? candidate : service;
run()
  .catch((error: unknown) => send({ type: 'error', worker, message: String((error as Error).message) }))
  .finally(() => {
    client.close();
    sendMetrics();
    process.disconnect?.();
  });
