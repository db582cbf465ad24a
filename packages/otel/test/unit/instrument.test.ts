// The bridge against contract-shaped messages published on the channels by name (no client, no cluster).
import { channel, hasSubscribers } from 'node:diagnostics_channel';
import { readFileSync } from 'node:fs';
import type * as recipes from '@etcdkit/recipes';
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, expectTypeOf, it } from 'vitest';
import type * as read from '../../src/channels.js';
import { clientChannels, recipeChannels } from '../../src/channels.js';
import { type Instrumentation, instrument, MetricNames } from '../../src/index.js';
import { VERSION } from '../../src/instrument.js';
import { everyString, TestSDK } from '../otel.js';

const publish = (name: string, message: object) => channel(name).publish(message);

let lastId = 0;
function call(operation: string, key?: string, watch?: object) {
  return { id: ++lastId, operation, key, oneShot: false, retrySafe: false, watch };
}

/** The messages of one call that went to `endpoint` after `failed` failed. */
function callThatFailedOver(operation: string, key: string, failed: string, endpoint: string) {
  const info = call(operation, key);
  publish(clientChannels.callStart, { call: info });
  const request = { call: info, hop: 0, method: 'PUT', path: `/v2/keys${key}` };
  publish('etcdkit:client:request:start', { ...request, endpoint: failed, attempt: 1, origin: failed });
  const error = Object.assign(new Error('connect ECONNREFUSED'), { name: 'EndpointError' });
  publish(clientChannels.requestError, {
    ...request,
    endpoint: failed,
    attempt: 1,
    origin: failed,
    error,
    durationMs: 2,
  });
  publish(clientChannels.failover, { call: info, from: failed, to: endpoint, kind: 'retry', error });
  publish('etcdkit:client:request:start', { ...request, endpoint, attempt: 2, origin: endpoint });
  publish(clientChannels.callEnd, {
    call: info,
    endpoint,
    status: 200,
    etcdIndex: 42,
    attempts: 2,
    durationMs: 30,
  });
  return info;
}

const contextManager = new AsyncLocalStorageContextManager();
beforeAll(() => {
  context.setGlobalContextManager(contextManager.enable());
});
afterAll(() => {
  context.disable();
});

let sdk: TestSDK;
let instrumentation: Instrumentation;
beforeEach(() => {
  sdk = new TestSDK();
  instrumentation = instrument({ tracerProvider: sdk.tracerProvider, meterProvider: sdk.meterProvider });
});
afterEach(async () => {
  instrumentation.close();
  await sdk[Symbol.asyncDispose]();
});

describe('spans', () => {
  it('one CLIENT span a call, named etcd <operation>, with the reply attributes', () => {
    const info = call('set', '/app/config');
    publish(clientChannels.callStart, { call: info });
    publish(clientChannels.callEnd, {
      call: info,
      endpoint: 'http://127.0.0.1:2379',
      status: 201,
      etcdIndex: 7,
      attempts: 1,
      durationMs: 3,
    });
    const [span, ...more] = sdk.spans();
    expect(more).toEqual([]);
    expect(span?.name).toBe('etcd set');
    expect(span?.kind).toBe(SpanKind.CLIENT);
    expect(span?.instrumentationScope).toMatchObject({ name: '@etcdkit/otel', version: VERSION });
    expect(span?.attributes).toEqual({
      'db.system.name': 'etcd',
      'db.operation.name': 'set',
      'etcd.key': '/app/config',
      'server.address': '127.0.0.1',
      'server.port': 2379,
      'http.response.status_code': 201,
      'etcd.index': 7,
    });
    expect(span?.status.code).toBe(SpanStatusCode.UNSET);
    expect(span?.events).toEqual([]);
  });

  it('is a child of the span active where the call was made', async () => {
    const tracer = sdk.tracerProvider.getTracer('app');
    const info = call('get', '/k');
    await tracer.startActiveSpan('parent', async (parent) => {
      await Promise.resolve();
      publish(clientChannels.callStart, { call: info });
      parent.end();
    });
    // The reply arrives in another context: the span keeps the parent of its start.
    publish(clientChannels.callEnd, {
      call: info,
      endpoint: 'http://h:1',
      status: 200,
      attempts: 1,
      durationMs: 1,
    });
    const parent = sdk.spansNamed('parent')[0];
    const child = sdk.spansNamed('etcd get')[0];
    expect(child?.parentSpanContext?.spanId).toBe(parent?.spanContext().spanId);
    expect(child?.spanContext().traceId).toBe(parent?.spanContext().traceId);
  });

  it('a call without an active span is a root span', () => {
    const info = call('members.list');
    publish(clientChannels.callStart, { call: info });
    publish(clientChannels.callEnd, {
      call: info,
      endpoint: 'http://h:1',
      status: 200,
      attempts: 1,
      durationMs: 1,
    });
    const [span] = sdk.spans();
    expect(span?.parentSpanContext).toBeUndefined();
    expect(span?.attributes).not.toHaveProperty('etcd.key');
  });

  it('a failed attempt and a failover are events, the retries http.request.resend_count', () => {
    callThatFailedOver('set', '/k', 'http://10.0.0.1:2379', 'https://[::1]:2380');
    const [span] = sdk.spans();
    expect(span?.attributes).toMatchObject({
      'server.address': '::1',
      'server.port': 2380,
      'http.request.resend_count': 1,
    });
    expect(span?.events.map((e) => [e.name, e.attributes])).toEqual([
      [
        'etcdkit.request.error',
        {
          'server.address': '10.0.0.1',
          'server.port': 2379,
          'etcdkit.request.attempt': 1,
          'etcdkit.request.hop': 0,
          'error.type': 'EndpointError',
        },
      ],
      [
        'etcdkit.failover',
        {
          'etcdkit.failover.kind': 'retry',
          'etcdkit.failover.from': 'http://10.0.0.1:2379',
          'etcdkit.failover.to': 'https://[::1]:2380',
          'error.type': 'EndpointError',
        },
      ],
    ]);
  });

  it('a failed call has status ERROR, error.type its name, its message as status message and no cause', () => {
    const info = call('get', '/k');
    publish(clientChannels.callStart, { call: info });
    const cause = new Error('secret-cause');
    const error = Object.assign(new Error('has been exhausted', { cause }), { name: 'ClusterError' });
    publish(clientChannels.callError, { call: info, error, attempts: 3, durationMs: 12 });
    const [span] = sdk.spans();
    expect(span?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'has been exhausted' });
    expect(span?.attributes).toMatchObject({ 'error.type': 'ClusterError', 'http.request.resend_count': 2 });
    expect(JSON.stringify(span?.attributes)).not.toContain('secret-cause');
  });

  it('a call aborted with a non-error reason has error.type _OTHER', () => {
    const info = call('get', '/k');
    publish(clientChannels.callStart, { call: info });
    publish(clientChannels.callError, { call: info, error: 'stop', attempts: 0, durationMs: 0 });
    expect(sdk.spans()[0]?.attributes['error.type']).toBe('_OTHER');
    expect(sdk.spans()[0]?.status).toEqual({ code: SpanStatusCode.ERROR });
  });

  it('a 5xx reply is an error, a 4xx reply (key not found, compare failed) is a result', () => {
    for (const status of [404, 503]) {
      const info = call('get', '/k');
      publish(clientChannels.callStart, { call: info });
      publish(clientChannels.callEnd, {
        call: info,
        endpoint: 'http://h:1',
        status,
        attempts: 1,
        durationMs: 1,
      });
    }
    const [notFound, unavailable] = sdk.spans();
    expect(notFound?.status.code).toBe(SpanStatusCode.UNSET);
    expect(notFound?.attributes).not.toHaveProperty('error.type');
    expect(unavailable?.status.code).toBe(SpanStatusCode.ERROR);
    expect(unavailable?.attributes['error.type']).toBe('503');
  });

  it('watch waits have no span unless watchSpans', () => {
    const watch = { id: 1, key: '/w', recursive: false };
    const wait = () => {
      const info = call('watch', '/w', watch);
      publish(clientChannels.callStart, { call: info });
      publish(clientChannels.callEnd, {
        call: info,
        endpoint: 'http://h:1',
        status: 200,
        attempts: 1,
        durationMs: 1,
      });
    };
    wait();
    expect(sdk.spans()).toEqual([]);
    using _ = instrument({ tracerProvider: sdk.tracerProvider, metrics: false, watchSpans: true });
    wait();
    expect(sdk.spans().map((s) => s.name)).toEqual(['etcd watch']);
  });

  it('spans: false makes no span', () => {
    instrumentation.close();
    instrumentation = instrument({
      tracerProvider: sdk.tracerProvider,
      meterProvider: sdk.meterProvider,
      spans: false,
    });
    callThatFailedOver('get', '/k', 'http://a:1', 'http://b:2');
    expect(sdk.spans()).toEqual([]);
  });
});

describe('metrics', () => {
  it('db.client.operation.duration in seconds for each call but watch waits, with the reply attributes', async () => {
    callThatFailedOver('set', '/k', 'http://a:1', 'http://b:2');
    const info = call('get', '/k');
    publish(clientChannels.callStart, { call: info });
    publish(clientChannels.callError, {
      call: info,
      error: new TypeError('x'),
      attempts: 1,
      durationMs: 500,
    });
    const watch = call('watch', '/w', { id: 1, key: '/w', recursive: false });
    publish(clientChannels.callStart, { call: watch });
    publish(clientChannels.callEnd, {
      call: watch,
      endpoint: 'http://b:2',
      status: 200,
      attempts: 1,
      durationMs: 9e5,
    });

    const metric = (await sdk.metrics()).get(MetricNames.clientOperationDuration);
    expect(metric?.descriptor).toMatchObject({ unit: 's' });
    expect(metric?.dataPoints.map((p) => [p.attributes, (p.value as { sum: number }).sum])).toEqual([
      [
        {
          'db.system.name': 'etcd',
          'db.operation.name': 'set',
          'server.address': 'b',
          'server.port': 2,
          'http.response.status_code': 200,
        },
        0.03,
      ],
      [{ 'db.system.name': 'etcd', 'db.operation.name': 'get', 'error.type': 'TypeError' }, 0.5],
    ]);
  });

  it('failovers, suspect members, watch lag, moves and resyncs', async () => {
    callThatFailedOver('set', '/k', 'http://a:1', 'http://b:2');
    const error = Object.assign(new Error('timeout'), { name: 'HeaderTimeoutError' });
    publish(clientChannels.failover, {
      call: call('create', '/x'),
      from: 'http://b:2',
      to: 'http://a:1',
      kind: 'pin',
      error,
    });
    publish(clientChannels.memberHealth, { endpoint: 'http://a:1', state: 'suspect', reason: 'r', error });
    publish(clientChannels.memberHealth, {
      endpoint: 'http://a:1',
      state: 'healthy',
      reason: 'answered',
      error: undefined,
    });
    const watch = { id: 1, key: '/w', recursive: false };
    for (const lag of [0, 0, 3])
      publish(clientChannels.watchEvent, {
        watch,
        endpoint: 'http://a:1',
        action: 'set',
        key: '/w',
        modifiedIndex: 1,
        etcdIndex: 1 + lag,
        lag,
      });
    publish(clientChannels.watchMove, { watch, from: 'http://a:1', to: 'http://b:2', waitIndex: 5, error });
    publish(clientChannels.watchResync, { watch, index: 9 });

    expect(await sdk.count(MetricNames.failovers)).toBe(2);
    expect(
      await sdk.count(MetricNames.failovers, {
        'etcdkit.failover.kind': 'retry',
        'server.address': 'a',
        'error.type': 'EndpointError',
      }),
    ).toBe(1);
    expect(await sdk.count(MetricNames.failovers, { 'etcdkit.failover.kind': 'pin', 'server.port': 2 })).toBe(
      1,
    );
    expect(await sdk.count(MetricNames.memberSuspect, { 'server.address': 'a', 'server.port': 1 })).toBe(1);
    const [lag] = await sdk.histogram(MetricNames.watchLag);
    expect(lag).toMatchObject({ count: 3, sum: 3, min: 0, max: 3 });
    expect(
      await sdk.count(MetricNames.watchMoves, { 'server.address': 'a', 'error.type': 'HeaderTimeoutError' }),
    ).toBe(1);
    expect(await sdk.count(MetricNames.watchResyncs)).toBe(1);
  });

  it('lock waits and holds in seconds, hand-overs, lost and at-risk keys, leader changes, registry changes', async () => {
    const lock = { recipe: 'lock', name: '/locks/a' };
    publish(recipeChannels.enqueue, { ...lock, key: '/locks/a/1', createdIndex: 1 });
    publish(recipeChannels.acquired, { ...lock, key: '/locks/a/1', fencingToken: 1, waitMs: 250 });
    publish(recipeChannels.released, { ...lock, key: '/locks/a/1', holdMs: 2000 });
    publish(recipeChannels.handoff, { ...lock, key: '/locks/a/2', previousKey: '/locks/a/1', handoffMs: 5 });
    const lostError = Object.assign(new Error('lost'), { name: 'SessionLostError' });
    publish(recipeChannels.atRisk, { key: '/locks/a/2', why: 'w', error: new Error('x'), validForMs: 100 });
    publish(recipeChannels.lost, { key: '/locks/a/2', why: 'w', error: lostError });
    const leader = { recipe: 'election', name: '/e', key: '/e/1', value: 'v', createdIndex: 1 };
    publish(recipeChannels.electionLeader, { ...leader, self: true });
    publish(recipeChannels.electionLeader, {
      ...leader,
      key: undefined,
      value: undefined,
      createdIndex: 0,
      self: false,
    });
    const instance = { recipe: 'registry', service: 'api', id: 'i1', key: '/r/api/i1', instance: {} };
    publish(recipeChannels.registryAdd, instance);
    publish(recipeChannels.registryRemove, instance);
    publish(recipeChannels.registryExpire, instance);

    const attributes = { 'etcdkit.recipe.type': 'lock', 'etcdkit.recipe.name': '/locks/a' };
    expect(await sdk.histogram(MetricNames.lockWaitDuration, attributes)).toMatchObject([
      { count: 1, sum: 0.25 },
    ]);
    expect(await sdk.histogram(MetricNames.lockHoldDuration, attributes)).toMatchObject([
      { count: 1, sum: 2 },
    ]);
    expect(await sdk.count(MetricNames.lockHandoffs, attributes)).toBe(1);
    expect(await sdk.count(MetricNames.sessionAtRisk, { 'error.type': 'Error' })).toBe(1);
    expect(await sdk.count(MetricNames.sessionLost, { 'error.type': 'SessionLostError' })).toBe(1);
    expect(await sdk.count(MetricNames.electionLeaderChanges, { 'etcdkit.recipe.name': '/e' })).toBe(2);
    expect(await sdk.count(MetricNames.electionLeaderChanges, { 'etcdkit.election.self': true })).toBe(1);
    for (const change of ['add', 'remove', 'expire'])
      expect(
        await sdk.count(MetricNames.registryChanges, {
          'etcdkit.registry.change': change,
          'etcdkit.registry.service': 'api',
        }),
      ).toBe(1);
  });

  it('units: seconds for durations, UCUM annotations for counts', async () => {
    callThatFailedOver('set', '/k', 'http://a:1', 'http://b:2');
    publish(recipeChannels.acquired, { recipe: 'lock', name: 'n', key: 'k', fencingToken: 1, waitMs: 1 });
    const metrics = await sdk.metrics();
    expect(metrics.get(MetricNames.lockWaitDuration)?.descriptor.unit).toBe('s');
    expect(metrics.get(MetricNames.failovers)?.descriptor.unit).toBe('{failover}');
  });

  it('metrics: false records none', async () => {
    instrumentation.close();
    instrumentation = instrument({
      tracerProvider: sdk.tracerProvider,
      meterProvider: sdk.meterProvider,
      metrics: false,
    });
    callThatFailedOver('get', '/k', 'http://a:1', 'http://b:2');
    expect((await sdk.metrics()).size).toBe(0);
    expect(sdk.spans()).toHaveLength(1);
  });
});

describe('instrument()', () => {
  it('close() unsubscribes, ends the spans in flight and is idempotent; so does using', () => {
    const info = call('get', '/k');
    publish(clientChannels.callStart, { call: info });
    instrumentation.close();
    instrumentation.close();
    for (const name of [...Object.values(clientChannels), ...Object.values(recipeChannels)])
      expect(hasSubscribers(name), name).toBe(false);
    expect(sdk.spans().map((s) => [s.name, s.status.code])).toEqual([['etcd get', SpanStatusCode.UNSET]]);
    publish(clientChannels.callEnd, {
      call: info,
      endpoint: 'http://h:1',
      status: 200,
      attempts: 1,
      durationMs: 1,
    });
    expect(sdk.spans()).toHaveLength(1);
    {
      using _ = instrument({ tracerProvider: sdk.tracerProvider, meterProvider: sdk.meterProvider });
      expect(hasSubscribers(clientChannels.callStart)).toBe(true);
    }
    expect(hasSubscribers(clientChannels.callStart)).toBe(false);
  });

  it('defaults to the global providers', () => {
    instrumentation.close();
    expect(trace.setGlobalTracerProvider(sdk.tracerProvider)).toBe(true);
    try {
      using _ = instrument();
      callThatFailedOver('get', '/k', 'http://a:1', 'http://b:2');
      expect(sdk.spans()).toHaveLength(1);
    } finally {
      trace.disable();
    }
  });

  it('rejects options of the wrong type', () => {
    expect(() => instrument(null as never)).toThrow(TypeError);
    expect(() => instrument({ spans: 'yes' as never })).toThrow('options.spans must be a boolean');
    expect(() => instrument({ watchSpans: 1 as never })).toThrow(TypeError);
  });

  it('a tracer that throws does not reach the caller', () => {
    instrumentation.close();
    const tracerProvider = {
      getTracer: () => ({
        startSpan: () => {
          throw new Error('broken tracer');
        },
        startActiveSpan: () => {
          throw new Error('broken tracer');
        },
      }),
    };
    using _ = instrument({ tracerProvider, metrics: false });
    expect(() => publish(clientChannels.callStart, { call: call('get', '/k') })).not.toThrow();
  });

  it('no string of a span or metric carries what an error hides in its cause', async () => {
    const cause = new Error('password=hunter2');
    const error = Object.assign(new Error('request failed', { cause }), { name: 'EndpointError' });
    const info = call('get', '/k');
    publish(clientChannels.callStart, { call: info });
    publish(clientChannels.requestError, {
      call: info,
      endpoint: 'http://a:1',
      attempt: 1,
      hop: 0,
      error,
      durationMs: 1,
    });
    publish(clientChannels.failover, {
      call: info,
      from: 'http://a:1',
      to: 'http://b:2',
      kind: 'retry',
      error,
    });
    publish(clientChannels.callError, { call: info, error, attempts: 2, durationMs: 3 });
    expect((await everyString(sdk)).join('\n')).not.toContain('hunter2');
  });
});

describe('names', () => {
  it('the recipe channel names are those of @etcdkit/recipes', async () => {
    const { RecipeChannels } = await import('@etcdkit/recipes');
    expect(RecipeChannels).toEqual(recipeChannels);
  });

  it("the recipes' message types have the fields the bridge reads (checked by the typecheck)", () => {
    expectTypeOf<recipes.AcquiredMessage>().toExtend<read.AcquiredMessage>();
    expectTypeOf<recipes.ReleasedMessage>().toExtend<read.ReleasedMessage>();
    expectTypeOf<recipes.HandoffMessage>().toExtend<read.RecipeMessage>();
    expectTypeOf<recipes.AtRiskMessage>().toExtend<read.KeptKeyMessage>();
    expectTypeOf<recipes.LostMessage>().toExtend<read.KeptKeyMessage>();
    expectTypeOf<recipes.LeaderMessage>().toExtend<read.LeaderMessage>();
    expectTypeOf<recipes.RegistryMessage>().toExtend<read.RegistryMessage>();
  });

  it('the scope version is the package version', () => {
    const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    expect(VERSION).toBe(manifest.version);
  });
});
