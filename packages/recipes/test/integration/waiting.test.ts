import diagnosticsChannel from 'node:diagnostics_channel';
import {
  Client,
  ClientChannels,
  KeysAPI,
  type RequestStartMessage,
  type WatchEventMessage,
  type WatchStartMessage,
} from '@etcdkit/client';
import { sharedClusterEndpoints, uniqueKeyPrefix } from '@etcdkit/testkit/vitest';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type HeldLock,
  Lock,
  Queue,
  ReleasedError,
  ServiceRegistry,
  SessionExpiredError,
  SessionLostError,
} from '../../src/index.js';
import { keysFactory, LOADED_MACHINE_HEADROOM_MS } from './helpers.js';

const endpoints = sharedClusterEndpoints();
const keysAPI = keysFactory(() => endpoints);

/** Resolves with the time the signal aborts. */
function abortedAt(signal: AbortSignal): Promise<number> {
  return new Promise((resolve) =>
    signal.addEventListener('abort', () => resolve(performance.now()), { once: true }),
  );
}

async function markedHeld(keys: KeysAPI, key: string): Promise<boolean> {
  const { node } = await keys.get(key, { quorum: true });
  return (JSON.parse(node!.value) as { held?: boolean }).held === true;
}

// TTL 15 s: refreshed every 5 s, so a loss seen within a second or so was seen by the key's watch, not by a
// refresh. The bound is one notify plus a read, with the loaded-machine headroom, well under 5 s.
const TTL = 15;
const REFRESH_MS = (TTL * 1000) / 3;
const SEEN_AT_ONCE_MS = 1000 + LOADED_MACHINE_HEADROOM_MS;

describe('waiting and holding watch their own key', () => {
  it('a holder whose key is deleted by someone else is told at once, not at the next refresh', async () => {
    expect(SEEN_AT_ONCE_MS).toBeLessThan(REFRESH_MS);
    const name = uniqueKeyPrefix('loss-held');
    const keys = keysAPI();
    const lock = new Lock(keys, name, { ttl: TTL });
    const held = await lock.acquire();
    // after the mark-held write, so that only the watch (not that write meeting the delete) can tell
    await expect.poll(() => markedHeld(keys, held.key), { timeout: LOADED_MACHINE_HEADROOM_MS }).toBe(true);
    const lost = abortedAt(held.signal);
    const deletedAt = performance.now();
    await keysAPI().delete(held.key);
    expect((await lost) - deletedAt).toBeLessThan(SEEN_AT_ONCE_MS);
    expect(held.signal.reason).toBeInstanceOf(SessionLostError);
    await held.release();
    await lock.close();
  });

  it('a holder is not lost by its own writes: the mark, and refreshes past the TTL', async () => {
    const name = uniqueKeyPrefix('loss-own');
    const keys = keysAPI();
    const lock = new Lock(keys, name, { ttl: 2 });
    const held = await lock.acquire();
    await expect.poll(() => markedHeld(keys, held.key), { timeout: LOADED_MACHINE_HEADROOM_MS }).toBe(true);
    // past the TTL: several refreshes (each a new index, and no event) went by
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(held.signal.aborted).toBe(false);
    await held.release();
    expect(held.signal.reason).toBeInstanceOf(ReleasedError); // a release is no loss
    await lock.close();
  });

  it('a waiter whose own key is deleted by someone else rejects with SessionExpiredError at once', async () => {
    const name = uniqueKeyPrefix('loss-waiter');
    const keys = keysAPI();
    const holder = new Lock(keysAPI(), name, { ttl: TTL });
    const held = await holder.acquire();
    const waiter = new Lock(keys, name, { ttl: TTL });
    const waiting = waiter.acquire();
    const rejected = waiting.then(
      () => undefined,
      (error: unknown) => ({ error, at: performance.now() }),
    );
    let waiterKey: string | undefined;
    await expect
      .poll(
        async () => {
          waiterKey = (await keys.get(name, { quorum: true })).node?.nodes?.find(
            (n) => n.key !== held.key,
          )?.key;
          return waiterKey;
        },
        { timeout: LOADED_MACHINE_HEADROOM_MS },
      )
      .toBeDefined();
    const deletedAt = performance.now();
    await keysAPI().delete(waiterKey!);
    const outcome = await rejected;
    expect(outcome?.error).toBeInstanceOf(SessionExpiredError);
    expect(outcome!.at - deletedAt).toBeLessThan(SEEN_AT_ONCE_MS);
    expect(held.signal.aborted).toBe(false);
    await held.release();
    await holder.close();
    await waiter.close();
  });
});

describe('idle waiters cost only their refreshes', () => {
  const clients: Client[] = [];
  afterAll(async () => {
    for (const client of clients) await client.close();
  });

  it('N waiters behind a holder send no request but TTL refreshes while nothing happens', async () => {
    const N = 20;
    const ttl = 2;
    const refreshMs = (ttl * 1000) / 3;
    const name = uniqueKeyPrefix('idle');
    // one client (one liveness probe loop), a KeysAPI per contender (a lock per KeysAPI queues in etcd)
    const client = new Client({ endpoints });
    clients.push(client);
    const locks = Array.from({ length: N + 1 }, () => new Lock(new KeysAPI(client), name, { ttl }));
    const requests: RequestStartMessage[] = [];
    let watches = 0;
    const onRequest = (message: unknown): void => {
      const m = message as RequestStartMessage;
      if (m.call.key?.startsWith(name)) requests.push(m);
    };
    // the last event of the queue any watch got (the shared long-poll, once several wait, gets every one)
    let lastEventAt = performance.now();
    const QUIET_MS = 500;
    const onEvent = (message: unknown): void => {
      if ((message as WatchEventMessage).key.startsWith(name)) lastEventAt = performance.now();
    };
    const onWatch = (message: unknown): void => {
      // the watchers' own waits (their shared long-poll, the hub's, is re-sent after each event while they queue)
      const { watch } = message as WatchStartMessage;
      if (watch.key.startsWith(name) && !watch.hub) watches++;
    };
    diagnosticsChannel.subscribe(ClientChannels.requestStart, onRequest);
    diagnosticsChannel.subscribe(ClientChannels.watchStart, onWatch);
    diagnosticsChannel.subscribe(ClientChannels.watchEvent, onEvent);
    let held: HeldLock | undefined;
    const controllers = locks.map(() => new AbortController());
    const waiting: Promise<unknown>[] = [];
    try {
      held = await locks[0]!.acquire();
      for (const [i, lock] of locks.entries())
        if (i > 0) waiting.push(lock.acquire({ signal: controllers[i]!.signal }).catch(() => {}));
      // every contender watches its own key, every waiter its predecessor, and the holder re-watched after
      // its mark: 2N + 2 waits; then nothing but refreshes should happen
      await expect.poll(() => watches, { timeout: 10_000 }).toBeGreaterThanOrEqual(2 * N + 2);
      const windowMs = 4000;
      // and the queue's last writes (a contender's mark, a late create) are past: no event for half a second
      await expect.poll(() => performance.now() - lastEventAt, { timeout: 10_000 }).toBeGreaterThan(QUIET_MS);
      const from = requests.length;
      await new Promise((resolve) => setTimeout(resolve, windowMs));
      const seen = requests.slice(from);
      const refreshes = seen.filter((m) => m.method === 'PUT' && m.path.includes('prevExist=true'));
      const others = seen.filter((m) => !refreshes.includes(m));
      // each key refreshes every TTL/3: at most windowMs / refreshMs + 1 each
      expect(refreshes.length).toBeLessThanOrEqual((N + 1) * (Math.floor(windowMs / refreshMs) + 1));
      // nothing else: no whole-queue re-read on a timer (the code before #16 re-read and re-watched once per
      // TTL per waiter: about 2 * N * windowMs / TTL = 80 here). Room for a watch moved by a stray liveness
      // failure on a loaded machine.
      expect(others.length, others.map((m) => `${m.method} ${m.path}`).join('\n')).toBeLessThanOrEqual(2);
    } finally {
      diagnosticsChannel.unsubscribe(ClientChannels.requestStart, onRequest);
      diagnosticsChannel.unsubscribe(ClientChannels.watchStart, onWatch);
      diagnosticsChannel.unsubscribe(ClientChannels.watchEvent, onEvent);
      for (const controller of controllers) controller.abort();
      await Promise.all(waiting);
      await held?.release();
      for (const lock of locks) await lock.close();
    }
  });
});

describe('many waiters of one process', () => {
  /** Counts the quorum reads under `name`, and the watchers' own waits (not a hub's), until `stop()`. */
  function countTraffic(name: string): { reads: () => number; watches: () => number; stop: () => void } {
    let reads = 0;
    let watches = 0;
    const onRequest = (message: unknown): void => {
      const m = message as RequestStartMessage;
      if (m.method === 'GET' && m.call.key?.startsWith(name) && m.path.includes('quorum=true')) reads++;
    };
    const onWatch = (message: unknown): void => {
      const { watch } = message as WatchStartMessage;
      if (watch.key.startsWith(name) && !watch.hub) watches++;
    };
    diagnosticsChannel.subscribe(ClientChannels.requestStart, onRequest);
    diagnosticsChannel.subscribe(ClientChannels.watchStart, onWatch);
    return {
      reads: () => reads,
      watches: () => watches,
      stop() {
        diagnosticsChannel.unsubscribe(ClientChannels.requestStart, onRequest);
        diagnosticsChannel.unsubscribe(ClientChannels.watchStart, onWatch);
      },
    };
  }

  it('share their reads of the queue: a few quorum reads for 200 joins through one client, not one each', async () => {
    const N = 200;
    const name = uniqueKeyPrefix('mass-join');
    const client = new Client({ endpoints });
    // a KeysAPI per contender, as in the idle test: each queues in etcd, and all share the client
    const locks = Array.from({ length: N + 1 }, () => new Lock(new KeysAPI(client), name, { ttl: TTL }));
    const traffic = countTraffic(name);
    let held: HeldLock | undefined;
    const stop = new AbortController();
    const waiting: Promise<unknown>[] = [];
    let lost = 0;
    try {
      held = await locks[0]!.acquire();
      const readsBefore = traffic.reads();
      for (const lock of locks.slice(1))
        waiting.push(
          lock.acquire({ signal: stop.signal }).then(
            () => lost++,
            () => {
              if (!stop.signal.aborted) lost++;
            },
          ),
        );
      // each waiter watches its own key and its predecessor: all have read the queue and decided
      await expect.poll(traffic.watches, { timeout: 30_000 }).toBeGreaterThanOrEqual(2 * N);
      // One read each before: 200. Shared, a read gathers every join that completes while the one before is in
      // flight; the creates' replies come in batches (one per raft round), so far fewer.
      expect(traffic.reads() - readsBefore).toBeLessThanOrEqual(N / 4);
      expect(lost).toBe(0);
    } finally {
      traffic.stop();
      stop.abort();
      await Promise.all(waiting);
      await held?.release();
      for (const lock of locks) await lock.close();
      await client.close();
    }
  });

  it('share their reads of a queue: a herd of takers woken by one item reads it a few times, not once each', async () => {
    const N = 100;
    const name = uniqueKeyPrefix('herd');
    const client = new Client({ endpoints });
    const takers = Array.from({ length: N }, () => new Queue(new KeysAPI(client), name));
    const traffic = countTraffic(name);
    const stop = new AbortController();
    try {
      const taking = takers.map((taker) => taker.take({ signal: stop.signal }).catch(() => undefined));
      // every taker has read the empty queue and watches it
      await expect.poll(traffic.watches, { timeout: 30_000 }).toBeGreaterThanOrEqual(N);
      const readsBefore = traffic.reads();
      await new Queue(new KeysAPI(client), name).put('one');
      const taken = await Promise.race(taking);
      expect(taken?.value).toBe('one');
      // the others have read the queue again and wait once more
      await expect.poll(traffic.watches, { timeout: 30_000 }).toBeGreaterThanOrEqual(2 * N - 1);
      // one read each before: 100 (and more for the takers that lost the claim)
      expect(traffic.reads() - readsBefore).toBeLessThanOrEqual(N / 4);
    } finally {
      traffic.stop();
      stop.abort();
      for (const taker of takers) await taker.close();
      await client.close();
    }
  });
});

describe('an idle registry cache costs nothing', () => {
  it('reads the service once, then nothing while no instance changes, for longer than a TTL, and still sees the next change', async () => {
    const prefix = uniqueKeyPrefix('idle-registry');
    const ttl = 2;
    const client = new Client({ endpoints });
    await using registry = new ServiceRegistry(new KeysAPI(client), prefix, { ttl });
    await using watching = new ServiceRegistry(new KeysAPI(client), prefix, { ttl });
    await registry.register({ service: 'api', id: 'a', address: '127.0.0.1', port: 1 });
    let reads: string[] = [];
    let waits = 0;
    const onRequest = (message: unknown): void => {
      const m = message as RequestStartMessage;
      // reads of the service (its refreshes are PUTs), and the cache's watch (long-polls)
      if (m.method !== 'GET' || !m.call.key?.startsWith(`${prefix}/api`)) return;
      if (m.path.includes('wait=true')) waits++;
      else reads.push(m.path);
    };
    diagnosticsChannel.subscribe(ClientChannels.requestStart, onRequest);
    const cache = watching.cache('api');
    try {
      await cache.ready();
      // one read, then the watch from its index (the cache read the service twice before)
      await expect.poll(() => waits, { timeout: 5000 }).toBeGreaterThan(0);
      expect(reads).toHaveLength(1);
      reads = [];
      // the code before #16 re-read the whole service once per TTL (here twice)
      await new Promise((resolve) => setTimeout(resolve, 2 * ttl * 1000 + 500));
      expect(reads).toEqual([]);
      await registry.register({ service: 'api', id: 'b', address: '127.0.0.1', port: 2 });
      await expect
        .poll(() =>
          cache
            .instances()
            .map((i) => i.id)
            .sort(),
        )
        .toEqual(['a', 'b']);
    } finally {
      diagnosticsChannel.unsubscribe(ClientChannels.requestStart, onRequest);
      cache.close();
      await client.close();
    }
  });
});
