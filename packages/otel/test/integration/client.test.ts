// The bridge on a real client against a real 3-member cluster: spans and metrics of a request, of a failover
// after a SIGKILL of the pinned member, of a watch, and no credentials anywhere.
import { Client, type ClientConfig, KeysAPI } from '@etcdkit/client';
import { type Cluster, type Member, startCluster } from '@etcdkit/testkit';
import { context, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Instrumentation, instrument, MetricNames } from '../../src/index.js';
import { everyString, TestSDK } from '../otel.js';

// 'fast' raft timings: heartbeat 50 ms, election timeout 250 ms.
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

const PASSWORD = 's3cret-otel-pw';

let sdk: TestSDK;
let instrumentation: Instrumentation | undefined;
const clients: Client[] = [];
afterEach(async () => {
  instrumentation?.close();
  instrumentation = undefined;
  for (const client of clients.splice(0)) await client.close();
  await sdk?.[Symbol.asyncDispose]();
  await cluster.restoreAll();
});

function instrumented(options: { watchSpans?: boolean } = {}): TestSDK {
  sdk = new TestSDK();
  instrumentation = instrument({
    tracerProvider: sdk.tracerProvider,
    meterProvider: sdk.meterProvider,
    ...options,
  });
  return sdk;
}

/** Puts the endpoints in a known order (the first is pinned): setEndpoints shuffles, so retry until it fits. */
function pinOrder(client: Client, endpoints: readonly string[]): void {
  for (let i = 0; i < 1000; i++) {
    if (client.endpoints().join() === endpoints.join()) return;
    client.setEndpoints(endpoints);
  }
  throw new Error('could not order endpoints');
}

/** A client whose endpoints are `order` (the first pinned). */
function clientWith(order: readonly Member[], config: Partial<ClientConfig> = {}) {
  const urls = order.map((member) => member.clientURL);
  const client = new Client({ endpoints: urls, ...config });
  pinOrder(client, urls);
  clients.push(client);
  return new KeysAPI(client);
}

async function roles(): Promise<{ leader: Member; a: Member; b: Member }> {
  const leader = await cluster.waitForLeader();
  const [a, b] = cluster.members.filter((m) => m !== leader) as [Member, Member];
  return { leader, a, b };
}

function server(member: Member) {
  const url = new URL(member.clientURL);
  return { 'server.address': url.hostname, 'server.port': Number(url.port) };
}

function only(spans: ReadableSpan[]): ReadableSpan {
  expect(spans).toHaveLength(1);
  return spans[0]!;
}

describe('spans and metrics of a real client', () => {
  it('a request: a CLIENT span per call, a child of the active span, and its duration', async () => {
    const { a, b } = await roles();
    const keys = clientWith([a, b]);
    const sdk = instrumented();
    const tracer = sdk.tracerProvider.getTracer('app');
    let setCallMs = 0;
    const set = await tracer.startActiveSpan('work', async (parent) => {
      try {
        const before = performance.now();
        const set = await keys.set('/otel/request', 'v1');
        setCallMs = performance.now() - before;
        await keys.get('/otel/request');
        return set;
      } finally {
        parent.end();
      }
    });

    const parent = only(sdk.spansNamed('work'));
    const setSpan = only(sdk.spansNamed('etcd set'));
    expect(setSpan.kind).toBe(SpanKind.CLIENT);
    expect(setSpan.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
    expect(setSpan.attributes).toEqual({
      'db.system.name': 'etcd',
      'db.operation.name': 'set',
      'etcd.key': '/otel/request',
      ...server(a),
      'http.response.status_code': 201,
      'etcd.index': set.index,
    });
    expect(setSpan.status.code).toBe(SpanStatusCode.UNSET);
    const getSpan = only(sdk.spansNamed('etcd get'));
    expect(getSpan.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
    expect(getSpan.attributes).toMatchObject({ 'http.response.status_code': 200, ...server(a) });

    const [duration] = await sdk.histogram(MetricNames.clientOperationDuration, {
      'db.operation.name': 'set',
      'http.response.status_code': 201,
      ...server(a),
    });
    expect(duration?.count).toBe(1);
    // The metric is the client's own measure of the call (ms turned into s): within the test's own measure.
    expect(duration?.sum).toBeGreaterThan(0);
    expect(duration?.sum).toBeLessThanOrEqual(setCallMs / 1000);
  });

  it('an etcd error is a reply (404, status unset); an aborted call is an error span', async () => {
    const { a } = await roles();
    const keys = clientWith([a]);
    const sdk = instrumented();
    await expect(keys.get('/otel/missing')).rejects.toMatchObject({ errorCode: 100 });
    const notFound = only(sdk.spansNamed('etcd get'));
    expect(notFound.attributes['http.response.status_code']).toBe(404);
    expect(notFound.status.code).toBe(SpanStatusCode.UNSET);

    const reason = new Error('caller gave up');
    await expect(keys.set('/otel/aborted', 'v', { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    const aborted = only(sdk.spansNamed('etcd set'));
    expect(aborted.status).toEqual({ code: SpanStatusCode.ERROR, message: 'caller gave up' });
    expect(aborted.attributes['error.type']).toBe('Error');
    const [failed] = await sdk.histogram(MetricNames.clientOperationDuration, { 'error.type': 'Error' });
    expect(failed?.count).toBe(1);
  });

  it('SIGKILL of the pinned member: the next call fails over; resend count, events, failover counter', async () => {
    const { a, b } = await roles();
    const keys = clientWith([a, b]);
    await keys.set('/otel/failover', 'v');
    const sdk = instrumented();
    await a.kill();
    expect((await keys.get('/otel/failover')).node?.value).toBe('v');

    const span = only(sdk.spansNamed('etcd get'));
    expect(span.attributes).toMatchObject({
      ...server(b),
      'http.response.status_code': 200,
      'http.request.resend_count': 1,
    });
    expect(span.status.code).toBe(SpanStatusCode.UNSET);
    expect(span.events.map((event) => [event.name, event.attributes])).toEqual([
      [
        'etcdkit.request.error',
        {
          ...server(a),
          'etcdkit.request.attempt': 1,
          'etcdkit.request.hop': 0,
          'error.type': 'EndpointError',
        },
      ],
      [
        'etcdkit.failover',
        {
          'etcdkit.failover.kind': 'retry',
          'etcdkit.failover.from': new URL(a.clientURL).origin,
          'etcdkit.failover.to': new URL(b.clientURL).origin,
          'error.type': 'EndpointError',
        },
      ],
    ]);

    expect(await sdk.count(MetricNames.failovers)).toBe(1);
    expect(
      await sdk.count(MetricNames.failovers, {
        'etcdkit.failover.kind': 'retry',
        ...server(a),
        'error.type': 'EndpointError',
      }),
    ).toBe(1);
    expect(await sdk.count(MetricNames.memberSuspect, server(a))).toBe(1);
    const [duration] = await sdk.histogram(MetricNames.clientOperationDuration, {
      'db.operation.name': 'get',
      ...server(b),
    });
    expect(duration?.count).toBe(1);
  });

  it('watch waits: no span by default, their lag recorded; a span with watchSpans', async () => {
    const { a } = await roles();
    const keys = clientWith([a]);
    let sdk = instrumented();
    const set = await keys.set('/otel/watched', 'v0');
    // From an index already passed: the event comes out of etcd's history, one index behind or more.
    const event = await keys.watcher('/otel/watched', { afterIndex: set.index - 1 }).next();
    expect(event.node?.value).toBe('v0');
    expect(sdk.spansNamed('etcd watch')).toEqual([]);
    const [lag] = await sdk.histogram(MetricNames.watchLag);
    expect(lag?.count).toBe(1);
    expect(lag?.min).toBeGreaterThanOrEqual(0);

    instrumentation?.close();
    await sdk[Symbol.asyncDispose]();
    sdk = instrumented({ watchSpans: true });
    const watcher = keys.watcher('/otel/watched');
    const waiting = watcher.next();
    await keys.set('/otel/watched', 'v1');
    expect((await waiting).node?.value).toBe('v1');
    const span = only(sdk.spansNamed('etcd watch'));
    expect(span.attributes).toMatchObject({ 'etcd.key': '/otel/watched', 'http.response.status_code': 200 });
  });

  it('a client with credentials: no span, event or metric carries the password', async () => {
    const { a, b } = await roles();
    const keys = clientWith([a, b], { username: 'root', password: PASSWORD });
    const sdk = instrumented();
    await keys.set('/otel/credentials', 'v');
    await expect(keys.get('/otel/credentials-missing')).rejects.toMatchObject({ errorCode: 100 });
    await a.kill();
    // a quorum read: b, a follower, may not have applied the set yet
    await keys.get('/otel/credentials', { quorum: true });
    await expect(keys.create('/otel/credentials', 'v', { signal: AbortSignal.abort() })).rejects.toThrow();

    expect(sdk.spans().length).toBeGreaterThanOrEqual(4);
    expect(sdk.spans().some((span) => span.events.length > 0)).toBe(true);
    const text = (await everyString(sdk)).join('\n');
    expect(text).not.toContain(PASSWORD);
    expect(text).not.toContain(Buffer.from(`root:${PASSWORD}`).toString('base64'));
    expect(text).not.toContain('root');
  });
});
