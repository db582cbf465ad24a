// The bridge on real recipes against a real 3-member cluster: a lock hand-over, a session loss (the holder's
// only member SIGSTOPed past the lock's TTL), an election and a registry.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { Client, ClientChannels, type ClientConfig, KeysAPI, type WatchStartMessage } from '@etcdkit/client';
import { Election, Lock, ServiceRegistry, SessionLostError } from '@etcdkit/recipes';
import { type Cluster, type Member, startCluster } from '@etcdkit/testkit';
import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { recipeChannels } from '../../src/channels.js';
import { type Instrumentation, instrument, MetricNames } from '../../src/index.js';
import { TestSDK } from '../otel.js';

let cluster: Cluster;
const contextManager = new AsyncLocalStorageContextManager();
beforeAll(async () => {
  context.setGlobalContextManager(contextManager.enable());
  cluster = await startCluster({ size: 3 });
});
afterAll(async () => {
  context.disable();
  await cluster?.close();
});

let sdk: TestSDK;
let instrumentation: Instrumentation | undefined;
const clients: Client[] = [];
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await cluster.restoreAll();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
  instrumentation?.close();
  instrumentation = undefined;
  for (const client of clients.splice(0)) await client.close();
  await sdk?.[Symbol.asyncDispose]();
});

function instrumented(): TestSDK {
  sdk = new TestSDK();
  instrumentation = instrument({ tracerProvider: sdk.tracerProvider, meterProvider: sdk.meterProvider });
  return sdk;
}

/** A client of `members` (in that order of preference: setEndpoints shuffles, so retry until it fits). */
function keysOf(members: readonly Member[], config: Partial<ClientConfig> = {}): KeysAPI {
  const urls = members.map((member) => member.clientURL);
  const client = new Client({ endpoints: urls, ...config });
  for (let i = 0; i < 1000 && client.endpoints().join() !== urls.join(); i++) client.setEndpoints(urls);
  clients.push(client);
  return new KeysAPI(client);
}

/** Resolves with the `count`-th message published on `name` from now on. */
function nth(name: string, count: number): Promise<unknown> {
  return new Promise((resolve) => {
    let seen = 0;
    const listener = (message: unknown) => {
      if (++seen < count) return;
      unsubscribe(name, listener);
      resolve(message);
    };
    subscribe(name, listener);
  });
}

describe('recipe metrics from real recipes', () => {
  it('a lock hand-over: two waits, two holds, one hand-over; the recipe calls are spans of the caller', async () => {
    const leader = await cluster.waitForLeader();
    const [a, b] = cluster.members.filter((m) => m !== leader) as [Member, Member];
    const sdk = instrumented();
    const first = new Lock(keysOf([a, b, leader]), '/otel/locks/handover', { ttl: 5 });
    const second = new Lock(keysOf([b, a, leader]), '/otel/locks/handover', { ttl: 5 });
    cleanups.push(
      () => first.close(),
      () => second.close(),
    );

    // Watchers of each key, by id: the holder's key is watched first by its own loss watch (one watcher for its
    // life), so a second distinct watcher on it is the waiter behind it.
    const watchers = new Map<string, Set<number>>();
    const onWatch = (message: unknown): void => {
      const { watch } = message as WatchStartMessage;
      watchers.set(watch.key, (watchers.get(watch.key) ?? new Set()).add(watch.id));
    };
    subscribe(ClientChannels.watchStart, onWatch);
    cleanups.push(async () => unsubscribe(ClientChannels.watchStart, onWatch));

    const tracer = sdk.tracerProvider.getTracer('app');
    const held = await tracer.startActiveSpan('acquire', async (span) => {
      try {
        return await first.acquire({ signal: AbortSignal.timeout(10_000) });
      } finally {
        span.end();
      }
    });
    const waiting = second.acquire({ signal: AbortSignal.timeout(10_000) });
    const waitingSince = performance.now(); // the waiter's own clock started before this
    // released once the waiter watches the holder's key, so that the delete is what hands the lock over
    await expect.poll(() => watchers.get(held.key)?.size ?? 0, { timeout: 5000 }).toBe(2);
    const releasedAt = performance.now();
    await held.release();
    const next = await waiting;
    expect(next.fencingToken).toBeGreaterThan(held.fencingToken);
    await next.release();

    const attributes = { 'etcdkit.recipe.type': 'lock', 'etcdkit.recipe.name': '/otel/locks/handover' };
    const [wait] = await sdk.histogram(MetricNames.lockWaitDuration, attributes);
    expect(wait?.count).toBe(2);
    // the second waited at least from its call to the release
    expect(wait?.max).toBeGreaterThanOrEqual((releasedAt - waitingSince) / 1000);
    const [hold] = await sdk.histogram(MetricNames.lockHoldDuration, attributes);
    expect(hold?.count).toBe(2);
    expect(await sdk.count(MetricNames.lockHandoffs, attributes)).toBe(1);

    // The first acquire's client calls (the queue key's create at least) are children of the caller's span.
    const parent = sdk.spansNamed('acquire')[0]!;
    const children = sdk.spans().filter((s) => s.parentSpanContext?.spanId === parent.spanContext().spanId);
    expect(children.map((s) => s.name)).toContain('etcd createInOrder');
  });

  it("a session loss: the holder's only member SIGSTOPed past the TTL: at-risk refreshes, then lost", async () => {
    const leader = await cluster.waitForLeader();
    const [a] = cluster.members.filter((m) => m !== leader) as [Member];
    const sdk = instrumented();
    // A refresh every second fails after 300 ms; the lock's key is valid 2.5 s after the last refresh sent.
    const ttl = 3;
    const lock = new Lock(keysOf([a], { headerTimeoutPerRequest: 300 }), '/otel/locks/lost', { ttl });
    cleanups.push(() => lock.close());
    const held = await lock.acquire({ signal: AbortSignal.timeout(10_000) });
    cleanups.push(() => held.release());
    const lost = new Promise<unknown>((resolve) =>
      held.signal.addEventListener('abort', () => resolve(held.signal.reason), { once: true }),
    );
    await a.pause();
    // Lost within one TTL of the pause; headroom of a TTL more for a loaded machine.
    const reason = await Promise.race([lost, new Promise((resolve) => setTimeout(resolve, 2 * ttl * 1000))]);
    expect(reason).toBeInstanceOf(SessionLostError);

    expect(await sdk.count(MetricNames.sessionLost)).toBe(1);
    expect(await sdk.count(MetricNames.sessionLost, { 'error.type': 'SessionLostError' })).toBe(1);
    // Each refresh fails with the client's ClusterError (its one member timed out) while the key is still valid.
    expect(await sdk.count(MetricNames.sessionAtRisk, { 'error.type': 'ClusterError' })).toBeGreaterThan(0);
  });

  it('an election: a leader change of this process; a registry: an instance added', async () => {
    const keys = keysOf(cluster.members);
    const sdk = instrumented();
    const election = new Election(keys, '/otel/election', { ttl: 5 });
    cleanups.push(() => election.close());
    const term = await election.campaign('node-a', { signal: AbortSignal.timeout(10_000) });
    cleanups.push(() => term.resign());
    const registry = new ServiceRegistry(keys, '/otel/services', { ttl: 5 });
    cleanups.push(() => registry.close());
    const cache = registry.cache('api');
    cleanups.push(async () => cache.close());
    await cache.ready();
    const added = nth(recipeChannels.registryAdd, 1);
    const registration = await registry.register({
      service: 'api',
      id: 'a1',
      address: '10.0.0.7',
      port: 8080,
    });
    cleanups.push(() => registration.close());
    await added;

    expect(
      await sdk.count(MetricNames.electionLeaderChanges, {
        'etcdkit.recipe.name': '/otel/election',
        'etcdkit.election.self': true,
      }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      await sdk.count(MetricNames.registryChanges, {
        'etcdkit.registry.change': 'add',
        'etcdkit.registry.service': 'api',
      }),
    ).toBe(1);
  });
});
