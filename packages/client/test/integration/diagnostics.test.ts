import { AsyncLocalStorage } from 'node:async_hooks';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { inspect } from 'node:util';
import { type Cluster, type Member, startCluster } from '@etcdkit/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type CallEndMessage,
  type CallErrorMessage,
  type CallStartMessage,
  type Client,
  ClientChannels,
  type ClientConfig,
  EndpointError,
  type FailoverMessage,
  type MemberHealthMessage,
  type RequestEndMessage,
  type RequestErrorMessage,
  type RequestHeadersMessage,
  type RequestStartMessage,
  type WatchEventMessage,
  type WatchMoveMessage,
  type WatchResyncMessage,
  type WatchStartMessage,
} from '../../src/index.js';
import { leaderAndFollowers, pinnedClient } from '../order.js';

// 'fast' raft timings: heartbeat 50 ms, election timeout 250 ms.
let cluster: Cluster;
beforeAll(async () => {
  cluster = await startCluster({ size: 3 });
});
afterAll(() => cluster?.close());

const PASSWORD = 's3cret-diag-pw';

/** Every message of every client channel, in order, while subscribed. */
class Recorder {
  readonly seen: { name: string; message: unknown }[] = [];
  readonly #listeners = new Map<string, (message: unknown) => void>();

  constructor() {
    for (const name of Object.values(ClientChannels)) {
      const listener = (message: unknown) => this.seen.push({ name, message });
      this.#listeners.set(name, listener);
      subscribe(name, listener);
    }
  }

  of<T>(name: string): T[] {
    return this.seen.filter((entry) => entry.name === name).map((entry) => entry.message as T);
  }

  close(): void {
    for (const [name, listener] of this.#listeners) unsubscribe(name, listener);
  }
}

let recorder: Recorder | undefined;
const clients: Client[] = [];
afterEach(async () => {
  recorder?.close();
  recorder = undefined;
  for (const client of clients.splice(0)) await client.close();
  await cluster.restoreAll();
});

function record(): Recorder {
  recorder = new Recorder();
  return recorder;
}

/** A client with credentials whose endpoints are `order` (the first pinned). */
const clientWith = (order: readonly Member[], config: Partial<ClientConfig> = {}) =>
  pinnedClient(order, { username: 'root', password: PASSWORD, ...config }, clients);

const roles = () => leaderAndFollowers(cluster);

/** Deep text of everything recorded (errors with their causes), to look for credentials. */
function everything(rec: Recorder): string {
  return inspect(rec.seen, { depth: 10, showHidden: true });
}

async function until(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('client diagnostics channels', () => {
  it('a request: call and request events with the documented fields, no credentials', async () => {
    const { a, b } = await roles();
    const { keys } = clientWith([a, b]);
    const rec = record();
    const set = await keys.set('diag/request', 'v1');
    await keys.get('/diag/request');

    const starts = rec.of<CallStartMessage>(ClientChannels.callStart);
    expect(starts.map((m) => [m.call.operation, m.call.key])).toEqual([
      ['set', '/diag/request'],
      ['get', '/diag/request'],
    ]);
    const call = starts[0]!.call;
    expect(call).toMatchObject({ oneShot: false, retrySafe: false, watch: undefined });
    expect(call.id).toBeGreaterThan(0);
    expect(starts[1]!.call.id).toBeGreaterThan(call.id);

    const [end] = rec.of<CallEndMessage>(ClientChannels.callEnd);
    expect(end).toMatchObject({
      call,
      endpoint: a.clientURL,
      status: 201,
      attempts: 1,
      etcdIndex: set.index,
    });
    expect(end!.durationMs).toBeGreaterThan(0);

    const [start] = rec.of<RequestStartMessage>(ClientChannels.requestStart);
    expect(start).toMatchObject({
      call,
      endpoint: a.clientURL,
      attempt: 1,
      hop: 0,
      method: 'PUT',
      origin: new URL(a.clientURL).origin,
    });
    expect(start!.path).toBe('/v2/keys/diag/request');
    const [headers] = rec.of<RequestHeadersMessage>(ClientChannels.requestHeaders);
    expect(headers).toMatchObject({ call, attempt: 1, status: 201 });
    const [done] = rec.of<RequestEndMessage>(ClientChannels.requestEnd);
    expect(done).toMatchObject({ call, attempt: 1, status: 201 });
    expect(done!.bytes).toBeGreaterThan(0);
    expect(done!.durationMs).toBeGreaterThanOrEqual(headers!.durationMs);

    // Order within a call: call:start, request:start, request:headers, request:end, call:end.
    const names = rec.seen.slice(0, 5).map((entry) => entry.name);
    expect(names).toEqual([
      ClientChannels.callStart,
      ClientChannels.requestStart,
      ClientChannels.requestHeaders,
      ClientChannels.requestEnd,
      ClientChannels.callEnd,
    ]);
    expect(everything(rec)).not.toContain(PASSWORD);
    expect(everything(rec)).not.toContain(Buffer.from(`root:${PASSWORD}`).toString('base64'));
  });

  it("every request event comes in the caller's async context, also on a connection another call opened", async () => {
    const { a } = await roles();
    const { keys } = clientWith([a]);
    const store = new AsyncLocalStorage<string>();
    const contexts: [string, string | undefined][] = [];
    const listeners = [
      ClientChannels.requestStart,
      ClientChannels.requestHeaders,
      ClientChannels.requestEnd,
    ].map((name) => {
      const listener = () => contexts.push([name, store.getStore()]);
      subscribe(name, listener);
      return [name, listener] as const;
    });
    try {
      await store.run('first', () => keys.set('/diag/context', 'v'));
      await store.run('second', () => keys.get('/diag/context')); // the same keep-alive connection
    } finally {
      for (const [name, listener] of listeners) unsubscribe(name, listener);
    }
    expect(contexts.map(([, context]) => context)).toEqual([
      'first',
      'first',
      'first',
      'second',
      'second',
      'second',
    ]);
  });

  it('an etcd error is a call:end with its status; an abort is a call:error with the reason', async () => {
    const { a } = await roles();
    const { keys } = clientWith([a]);
    const rec = record();
    await expect(keys.get('/diag/missing')).rejects.toMatchObject({ errorCode: 100 });
    expect(rec.of<CallEndMessage>(ClientChannels.callEnd)[0]).toMatchObject({ status: 404, attempts: 1 });
    const reason = new Error('caller gave up');
    const controller = new AbortController();
    const pending = keys.watcher('/diag/missing').next({ signal: controller.signal });
    await until(() => rec.of(ClientChannels.requestStart).length === 2, 2000);
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
    const [failed] = rec.of<CallErrorMessage>(ClientChannels.callError);
    expect(failed).toMatchObject({ error: reason, attempts: 1 });
    expect(failed!.call.operation).toBe('watch');
    expect(rec.of<RequestErrorMessage>(ClientChannels.requestError)[0]).toMatchObject({ error: reason });
  });

  it('SIGKILL of the pinned member: request:error, failover, member:health, then the call ends on a survivor', async () => {
    const { a, b } = await roles();
    const { keys } = clientWith([a, b]);
    await keys.set('/diag/failover', 'v');
    const rec = record();
    await a.kill();
    const read = await keys.get('/diag/failover');
    expect(read.node?.value).toBe('v');

    const [requestError] = rec.of<RequestErrorMessage>(ClientChannels.requestError);
    expect(requestError).toMatchObject({ endpoint: a.clientURL, attempt: 1 });
    expect(requestError!.error).toBeInstanceOf(EndpointError);
    const [failover] = rec.of<FailoverMessage>(ClientChannels.failover);
    expect(failover).toMatchObject({ from: a.clientURL, to: b.clientURL, kind: 'retry' });
    expect(failover!.error).toBe(requestError!.error);
    expect(failover!.call.operation).toBe('get');
    const suspect = rec.of<MemberHealthMessage>(ClientChannels.memberHealth);
    expect(suspect).toEqual([
      expect.objectContaining({ endpoint: a.clientURL, state: 'suspect', reason: 'failed a request' }),
    ]);
    expect(suspect[0]!.error).toBeInstanceOf(EndpointError);
    const [end] = rec.of<CallEndMessage>(ClientChannels.callEnd);
    expect(end).toMatchObject({ call: failover!.call, endpoint: b.clientURL, attempts: 2, status: 200 });

    // A one-shot call does not fail over: the pin moves (kind 'pin').
    const pinned = clientWith([a, b]);
    await expect(pinned.keys.create('/diag/one-shot', 'x')).rejects.toBeInstanceOf(EndpointError);
    const pins = rec.of<FailoverMessage>(ClientChannels.failover).filter((m) => m.kind === 'pin');
    expect(pins).toEqual([expect.objectContaining({ from: a.clientURL, to: b.clientURL })]);
    expect(pins[0]!.call).toMatchObject({ operation: 'create', key: '/diag/one-shot', oneShot: true });

    // Back: the suspect's probe loop (every 1000 ms) sees it answer again.
    await a.restart();
    await until(
      () =>
        rec
          .of<MemberHealthMessage>(ClientChannels.memberHealth)
          .some((m) => m.endpoint === a.clientURL && m.state === 'healthy'),
      10_000,
    );
    expect(everything(rec)).not.toContain(PASSWORD);
  });

  it('a watch: start, event (with lag), resync, and a move when its member freezes', async () => {
    const { a, b } = await roles();
    const { keys } = clientWith([a, b], { watchLivenessInterval: 300 });
    const first = await keys.set('/diag/watch', 'v1');
    const rec = record();

    // Caught up from history: the watcher was behind by (store index - event index).
    await keys.set('/diag/other', 'x');
    const behind = keys.watcher('/diag/watch', { afterIndex: first.node!.modifiedIndex - 1 });
    await behind.next();
    const [fromHistory] = rec.of<WatchEventMessage>(ClientChannels.watchEvent);
    expect(fromHistory).toMatchObject({
      endpoint: a.clientURL,
      action: 'set',
      key: '/diag/watch',
      modifiedIndex: first.node!.modifiedIndex,
    });
    expect(fromHistory!.lag).toBe(fromHistory!.etcdIndex - first.node!.modifiedIndex);
    expect(fromHistory!.lag).toBeGreaterThan(0);
    expect(fromHistory!.watch).toMatchObject({ key: '/diag/watch', recursive: false });

    const resynced = await behind.resync();
    const [resync] = rec.of<WatchResyncMessage>(ClientChannels.watchResync);
    expect(resync).toEqual({ watch: fromHistory!.watch, index: resynced.index });

    // A wait on a member that is then SIGSTOPed moves to another with the same index, and gets the event
    // (from an index, not "from now": the write may reach the survivor before the moved wait does).
    const watcher = keys.watcher('/diag/watch', { recursive: true, afterIndex: resynced.index });
    const waitIndex = resynced.index + 1;
    const waiting = watcher.next();
    await until(() => rec.of<WatchStartMessage>(ClientChannels.watchStart).length >= 2, 2000);
    const start = rec.of<WatchStartMessage>(ClientChannels.watchStart).at(-1)!;
    expect(start).toMatchObject({ waitIndex });
    expect(start.watch).toMatchObject({ key: '/diag/watch', recursive: true });
    await a.pause();
    // Two failed probes at 300 ms intervals (each with a 300 ms timeout), with headroom for a loaded machine.
    await until(() => rec.of<WatchMoveMessage>(ClientChannels.watchMove).length > 0, 5000);
    const [move] = rec.of<WatchMoveMessage>(ClientChannels.watchMove);
    expect(move).toMatchObject({ watch: start.watch, from: a.clientURL, to: b.clientURL, waitIndex });
    expect(move!.error).toBeInstanceOf(EndpointError);
    const writer = clientWith([b]);
    const changed = await writer.keys.set('/diag/watch', 'v2');
    await waiting;
    const last = rec.of<WatchEventMessage>(ClientChannels.watchEvent).at(-1);
    expect(last).toMatchObject({ endpoint: b.clientURL, modifiedIndex: changed.node!.modifiedIndex, lag: 0 });
    expect(everything(rec)).not.toContain(PASSWORD);
  });
});
