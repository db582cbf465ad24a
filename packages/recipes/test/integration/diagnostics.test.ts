import diagnosticsChannel from 'node:diagnostics_channel';
import { ClientChannels, EtcdError, type KeysAPI, type WatchStartMessage } from '@etcdkit/client';
import { startCluster } from '@etcdkit/testkit';
import { sharedClusterEndpoints, uniqueKeyPrefix } from '@etcdkit/testkit/vitest';
import { describe, expect, it } from 'vitest';
import {
  type AcquiredMessage,
  type AtRiskMessage,
  Election,
  type EnqueueMessage,
  type HandoffMessage,
  type LeaderMessage,
  Lock,
  type LostMessage,
  RecipeChannels,
  type RegistryMessage,
  type ReleasedMessage,
  RWLock,
  Semaphore,
  ServiceRegistry,
  SessionLostError,
} from '../../src/index.js';
import {
  expiryBoundMs,
  keysFactory,
  LOADED_MACHINE_HEADROOM_MS,
  startWorker,
  stopWorker,
} from './helpers.js';

/**
 * Watchers that start a wait (the client's watch:start), by key: the ids of the distinct watchers of each key.
 * A holder's key is watched first by its own loss watch (one watcher for its whole life), so a second distinct
 * watcher on it is a waiter behind the holder.
 */
function watchersByKey(): { of: (key: string) => number; stop: () => void } {
  const ids = new Map<string, Set<number>>();
  const listener = (message: unknown): void => {
    const { watch } = message as WatchStartMessage;
    ids.set(watch.key, (ids.get(watch.key) ?? new Set<number>()).add(watch.id));
  };
  diagnosticsChannel.subscribe(ClientChannels.watchStart, listener);
  return {
    of: (key) => ids.get(key)?.size ?? 0,
    stop: () => diagnosticsChannel.unsubscribe(ClientChannels.watchStart, listener),
  };
}

const endpoints = sharedClusterEndpoints();
const keysAPI = keysFactory(() => endpoints);

type ChannelKey = keyof typeof RecipeChannels;
interface Seen {
  readonly channel: ChannelKey;
  readonly message: Record<string, unknown>;
}

/**
 * Subscribes to every recipes channel and keeps the messages about keys or names under `prefix` (each test has
 * its own), in publication order. Unsubscribes on `stop()`.
 */
function record(prefix: string) {
  const seen: Seen[] = [];
  const handlers = (Object.keys(RecipeChannels) as ChannelKey[]).map((channel) => {
    const handler = (message: unknown): void => {
      const m = message as Record<string, unknown>;
      const about = [m.name, m.key].filter((v): v is string => typeof v === 'string');
      if (about.some((v) => v.startsWith(prefix))) seen.push({ channel, message: m });
    };
    diagnosticsChannel.subscribe(RecipeChannels[channel], handler);
    return [channel, handler] as const;
  });
  return {
    seen,
    of<T>(channel: ChannelKey): T[] {
      return seen.filter((s) => s.channel === channel).map((s) => s.message as T);
    },
    /** The channels in order, for the messages about `key`. */
    orderFor(key: string): ChannelKey[] {
      return seen.filter((s) => s.message.key === key).map((s) => s.channel);
    },
    stop(): void {
      for (const [channel, handler] of handlers)
        diagnosticsChannel.unsubscribe(RecipeChannels[channel], handler);
    },
  };
}

/** Whether a holder's queue key carries the `held` mark yet. */
async function markedHeld(keys: KeysAPI, key: string): Promise<boolean> {
  const { node } = await keys.get(key, { quorum: true });
  return (JSON.parse(node!.value) as { held?: boolean }).held === true;
}

describe('recipes diagnostics channels on a real cluster', () => {
  it('publishes nothing while no one subscribes', async () => {
    // Each channel object (the one the recipes hold: channel() gives the same object for a name) gets an own
    // `publish` that counts, removed afterwards so that the prototype's (inactive or active) applies again.
    const calls = new Map<string, number>();
    const channels = Object.values(RecipeChannels).map((name) => diagnosticsChannel.channel(name));
    for (const ch of channels) {
      Object.defineProperty(ch, 'publish', {
        configurable: true,
        writable: true,
        value(message: unknown) {
          calls.set(String(ch.name), (calls.get(String(ch.name)) ?? 0) + 1);
          // the prototype's publish, whichever is current (it changes on subscribe)
          Object.getPrototypeOf(ch).publish.call(ch, message);
        },
      });
    }
    try {
      const name = uniqueKeyPrefix('diag-quiet');
      const lock = new Lock(keysAPI(), `${name}/lock`, { ttl: 3 });
      await (await lock.acquire()).release();
      const election = new Election(keysAPI(), `${name}/election`, { ttl: 3 });
      await (await election.campaign('x')).resign();
      const registry = new ServiceRegistry(keysAPI(), `${name}/services`, { ttl: 3 });
      const controller = new AbortController();
      const changes = registry.watch('api', { signal: controller.signal });
      const reg = await registry.register({ service: 'api', id: 'a', address: 'a', port: 1 });
      expect((await changes.next()).value).toMatchObject({ type: 'added' });
      await reg.close();
      expect((await changes.next()).value).toMatchObject({ type: 'removed' });
      controller.abort();
      await changes.return();
      expect(Object.fromEntries(calls)).toEqual({});

      // the spies do see a publication once someone subscribes
      const subscriber = (): void => {};
      diagnosticsChannel.subscribe(RecipeChannels.acquired, subscriber);
      try {
        await (await lock.acquire()).release();
      } finally {
        diagnosticsChannel.unsubscribe(RecipeChannels.acquired, subscriber);
      }
      expect(Object.fromEntries(calls)).toEqual({ [RecipeChannels.acquired]: 1 });
      for (const closable of [lock, election, registry]) await closable.close();
    } finally {
      for (const ch of channels) delete (ch as { publish?: unknown }).publish;
    }
  });

  it('a lock hand-over: enqueue, acquired, released with holdMs, then handoff and acquired for the waiter', async () => {
    const name = uniqueKeyPrefix('diag-lock');
    const rec = record(name);
    try {
      const a = new Lock(keysAPI(), name, { ttl: 5 });
      const b = new Lock(keysAPI(), name, { ttl: 5 });
      const watchers = watchersByKey();
      const aCalledAt = performance.now();
      const heldA = await a.acquire();
      const aHeldAt = performance.now();
      const bCalledAt = performance.now();
      const waiting = b.acquire();
      await expect.poll(() => rec.of('enqueue').length, { timeout: 2000 }).toBe(2);
      // released once the waiter watches the holder's key (a watcher besides the holder's own loss watch), so
      // that the delete is what hands the lock over
      await expect.poll(() => watchers.of(heldA.key), { timeout: LOADED_MACHINE_HEADROOM_MS }).toBe(2);
      watchers.stop();
      const releaseCalledAt = performance.now();
      await heldA.release();
      const aReleasedAt = performance.now();
      const heldB = await waiting;
      const bHeldAt = performance.now();
      // handed over by the release's delete, not by the TTL (5 s) running out
      expect(bHeldAt - releaseCalledAt).toBeLessThan(5000);
      await heldB.release();

      expect(rec.of<EnqueueMessage>('enqueue')).toEqual([
        { recipe: 'lock', name, key: heldA.key, createdIndex: heldA.fencingToken },
        { recipe: 'lock', name, key: heldB.key, createdIndex: heldB.fencingToken },
      ]);
      const [acquiredA, acquiredB] = rec.of<AcquiredMessage>('acquired');
      expect(acquiredA).toEqual({
        recipe: 'lock',
        name,
        key: heldA.key,
        fencingToken: heldA.fencingToken,
        waitMs: expect.any(Number),
      });
      expect(acquiredA!.waitMs).toBeGreaterThanOrEqual(0);
      expect(acquiredA!.waitMs).toBeLessThanOrEqual(aHeldAt - aCalledAt);
      expect(acquiredB).toEqual({
        recipe: 'lock',
        name,
        key: heldB.key,
        fencingToken: heldB.fencingToken,
        waitMs: expect.any(Number),
      });
      // the waiter waited the whole time the first holder held on after it came
      expect(acquiredB!.waitMs).toBeGreaterThanOrEqual(releaseCalledAt - bCalledAt);
      expect(acquiredB!.waitMs).toBeLessThanOrEqual(bHeldAt - bCalledAt);

      const [releasedA, releasedB] = rec.of<ReleasedMessage>('released');
      expect(releasedA).toEqual({ recipe: 'lock', name, key: heldA.key, holdMs: expect.any(Number) });
      expect(releasedA!.holdMs).toBeGreaterThanOrEqual(releaseCalledAt - aHeldAt);
      expect(releasedA!.holdMs).toBeLessThanOrEqual(aReleasedAt - aCalledAt);
      expect(releasedB).toEqual({ recipe: 'lock', name, key: heldB.key, holdMs: expect.any(Number) });

      expect(rec.of<HandoffMessage>('handoff')).toEqual([
        { recipe: 'lock', name, key: heldB.key, previousKey: heldA.key, handoffMs: expect.any(Number) },
      ]);
      const [handoff] = rec.of<HandoffMessage>('handoff');
      expect(handoff!.handoffMs).toBeGreaterThanOrEqual(0);
      expect(handoff!.handoffMs).toBeLessThanOrEqual(bHeldAt - releaseCalledAt);

      expect(rec.orderFor(heldA.key)).toEqual(['enqueue', 'acquired', 'released']);
      expect(rec.orderFor(heldB.key)).toEqual(['enqueue', 'handoff', 'acquired', 'released']);
      expect(rec.of('lost')).toEqual([]);
      expect(rec.of('atRisk')).toEqual([]);
      await a.close();
      await b.close();
    } finally {
      rec.stop();
    }
  });

  it('tryAcquire, the RW lock and the semaphore publish under their own recipe names', async () => {
    const name = uniqueKeyPrefix('diag-recipes');
    const rec = record(name);
    try {
      const lock = new Lock(keysAPI(), `${name}/lock`, { ttl: 3 });
      const tried = await lock.tryAcquire();
      await tried!.release();
      const rw = new RWLock(keysAPI(), `${name}/rw`, { ttl: 3 });
      const read = await rw.readLock();
      await read.release();
      const write = await rw.writeLock();
      await write.release();
      const semaphore = new Semaphore(keysAPI(), `${name}/sem`, 2, { ttl: 3 });
      const permit = await semaphore.acquire();
      await permit.release();

      const expected = [
        ['lock', `${name}/lock`, tried!],
        ['rwlock', `${name}/rw`, read],
        ['rwlock', `${name}/rw`, write],
        ['semaphore', `${name}/sem`, permit],
      ] as const;
      const acquired = rec.of<AcquiredMessage>('acquired');
      const released = rec.of<ReleasedMessage>('released');
      expect(rec.of<EnqueueMessage>('enqueue').map((m) => [m.recipe, m.name, m.key])).toEqual(
        expected.map(([recipe, dir, held]) => [recipe, dir, held.key]),
      );
      expect(acquired.map((m) => [m.recipe, m.name, m.key, m.fencingToken])).toEqual(
        expected.map(([recipe, dir, held]) => [recipe, dir, held.key, held.fencingToken]),
      );
      expect(released.map((m) => [m.recipe, m.name, m.key])).toEqual(
        expected.map(([recipe, dir, held]) => [recipe, dir, held.key]),
      );
      for (const m of [...acquired.map((a) => a.waitMs), ...released.map((r) => r.holdMs)])
        expect(m).toBeGreaterThanOrEqual(0);
      expect(rec.of('handoff')).toEqual([]); // each was free at once
      for (const closable of [lock, rw, semaphore]) await closable.close();
    } finally {
      rec.stop();
    }
  });

  it('a held key deleted by someone else: lost with the SessionLostError, and no released after it', async () => {
    const name = uniqueKeyPrefix('diag-deleted');
    const rec = record(name);
    try {
      const keys = keysAPI();
      const lock = new Lock(keys, name, { ttl: 3 });
      const held = await lock.acquire();
      // after the background mark-held write (else that write, not the refresh, meets the delete)
      await expect.poll(() => markedHeld(keys, held.key), { timeout: LOADED_MACHINE_HEADROOM_MS }).toBe(true);
      await keysAPI().delete(held.key);
      // the next refresh (every TTL/3 = 1 s) gets error 100
      await expect.poll(() => held.signal.aborted, { timeout: 1000 + LOADED_MACHINE_HEADROOM_MS }).toBe(true);
      await held.release();
      expect(rec.of<LostMessage>('lost')).toEqual([
        { key: held.key, why: 'the key is gone', error: held.signal.reason },
      ]);
      const error = rec.of<LostMessage>('lost')[0]!.error;
      expect(error).toBeInstanceOf(SessionLostError);
      expect((error as SessionLostError).cause).toBeInstanceOf(EtcdError);
      expect(((error as SessionLostError).cause as EtcdError).errorCode).toBe(100);
      expect(rec.orderFor(held.key)).toEqual(['enqueue', 'acquired', 'lost']);
      await lock.close();
    } finally {
      rec.stop();
    }
  });

  it('a frozen single-member cluster: atRisk while the key is still valid, then lost before the TTL ends', async () => {
    const lonely = await startCluster({ size: 1 });
    const name = uniqueKeyPrefix('diag-frozen');
    const rec = record(name);
    try {
      const keys = keysAPI({ endpoints: lonely.clientURLs });
      // TTL 5 s, refreshed every second: valid for 5 s minus a 500 ms margin after each successful refresh
      const ttlMs = 5000;
      const lock = new Lock(keys, name, { ttl: 5, refreshIntervalMs: 1000 });
      const held = await lock.acquire();
      // the background mark-held write goes first, so that refreshes (queued behind it) are what hangs
      await expect.poll(() => markedHeld(keys, held.key), { timeout: LOADED_MACHINE_HEADROOM_MS }).toBe(true);
      const pausedAt = performance.now();
      await lonely.members[0]!.pause();
      try {
        await expect
          .poll(() => held.signal.aborted, { timeout: ttlMs + LOADED_MACHINE_HEADROOM_MS })
          .toBe(true);
        const lostAfter = performance.now() - pausedAt;
        expect(lostAfter).toBeLessThan(ttlMs); // before the server could expire the key
      } finally {
        await lonely.members[0]!.resume();
      }
      await held.release();

      const atRisk = rec.of<AtRiskMessage>('atRisk');
      expect(atRisk.length).toBeGreaterThanOrEqual(1);
      for (const m of atRisk) {
        expect(m).toEqual({
          key: held.key,
          why: expect.stringMatching(/^a refresh (failed: |has had no answer for \d+ ms$)/),
          error: expect.anything(),
          validForMs: expect.any(Number),
        });
        expect(m.validForMs).toBeGreaterThan(0);
        expect(m.validForMs).toBeLessThanOrEqual(ttlMs - 500);
      }
      // each retry is closer to the deadline
      const valid = atRisk.map((m) => m.validForMs);
      expect(valid).toEqual([...valid].sort((x, y) => y - x));
      expect(rec.of<LostMessage>('lost')).toEqual([
        {
          key: held.key,
          why: 'no successful refresh before its validity deadline',
          error: held.signal.reason,
        },
      ]);
      const order = rec.orderFor(held.key);
      expect(order.slice(0, 2)).toEqual(['enqueue', 'acquired']);
      expect(order.at(-1)).toBe('lost'); // and no released: the release came after the loss
      expect(order.slice(2, -1).every((c) => c === 'atRisk')).toBe(true);
      await lock.close();
    } finally {
      rec.stop();
      await lonely.close();
    }
  });

  it('an election: the observer sees another process lead, then this one after the hand-over, then none', async () => {
    const name = uniqueKeyPrefix('diag-election');
    const rec = record(name);
    const worker = startWorker(['lead', endpoints.join(','), name, '2']);
    try {
      const observer = new Election(keysAPI(), name, { ttl: 2 });
      const seen: (string | null)[] = [];
      const controller = new AbortController();
      const observing = (async () => {
        for await (const leader of observer.observe({ signal: controller.signal }))
          seen.push(leader?.value ?? null);
      })();
      await expect.poll(() => seen).toEqual([null]);
      // (the worker starts only now: its first read must come after the observer's first one)
      const { token } = await worker.next((e) => e.leader === true);
      // the observer's recursive watch wakes on the worker's key and reads again
      await expect
        .poll(() => rec.of('electionLeader').length, { timeout: LOADED_MACHINE_HEADROOM_MS })
        .toBe(2);
      const workerLeader = rec.of<LeaderMessage>('electionLeader')[1]!;
      expect(workerLeader).toEqual({
        recipe: 'election',
        name,
        key: expect.stringContaining(`${name}/`),
        value: `worker ${worker.child.pid}`,
        createdIndex: token,
        self: false,
      });

      const b = new Election(keysAPI(), name, { ttl: 2 });
      const campaignCalledAt = performance.now();
      const campaign = b.campaign('b');
      await expect.poll(() => rec.of('enqueue').length).toBe(1);
      const killedAt = performance.now();
      worker.child.kill('SIGKILL');
      const term = await campaign;
      const termAt = performance.now();
      expect(termAt - killedAt).toBeLessThan(expiryBoundMs(2)); // the worker's key expired, b leads
      await expect.poll(() => seen.at(-1)).toBe('b');
      const resignedAt = performance.now();
      await term.resign();
      await expect.poll(() => seen.at(-1)).toBe(null);
      controller.abort();
      await observing;

      expect(rec.of<EnqueueMessage>('enqueue')).toEqual([
        { recipe: 'election', name, key: term.key, createdIndex: term.fencingToken },
      ]);
      // the worker's key went by TTL expiry while b watched it: a hand-over
      expect(rec.of<HandoffMessage>('handoff')).toEqual([
        {
          recipe: 'election',
          name,
          key: term.key,
          previousKey: workerLeader.key,
          handoffMs: expect.any(Number),
        },
      ]);
      const [acquired] = rec.of<AcquiredMessage>('acquired');
      expect(acquired).toEqual({
        recipe: 'election',
        name,
        key: term.key,
        fencingToken: term.fencingToken,
        waitMs: expect.any(Number),
      });
      expect(acquired!.waitMs).toBeGreaterThanOrEqual(killedAt - campaignCalledAt);
      expect(acquired!.waitMs).toBeLessThanOrEqual(termAt - campaignCalledAt);
      const [released] = rec.of<ReleasedMessage>('released');
      expect(released).toEqual({ recipe: 'election', name, key: term.key, holdMs: expect.any(Number) });
      expect(released!.holdMs).toBeGreaterThanOrEqual(resignedAt - termAt);

      // each change once, whoever saw it first (observer, campaign or resign)
      expect(rec.of<LeaderMessage>('electionLeader')).toEqual([
        { recipe: 'election', name, key: undefined, value: undefined, createdIndex: 0, self: false },
        workerLeader,
        { recipe: 'election', name, key: term.key, value: 'b', createdIndex: term.fencingToken, self: true },
        { recipe: 'election', name, key: undefined, value: undefined, createdIndex: 0, self: false },
      ]);
      expect(rec.of('lost')).toEqual([]);
      await observer.close();
      await b.close();
    } finally {
      rec.stop();
      stopWorker(worker);
    }
  });

  it('a registry watcher: add, remove on close, expire when a registrant stops refreshing', async () => {
    const prefix = uniqueKeyPrefix('diag-services');
    const rec = record(prefix);
    try {
      const consumer = new ServiceRegistry(keysAPI(), prefix, { ttl: 2 });
      const registry = new ServiceRegistry(keysAPI(), prefix, { ttl: 2 });
      // a registrant whose process stops refreshing (its session closed, its key left to expire)
      const stalled = new ServiceRegistry(keysAPI(), prefix, { ttl: 2 });
      const changes: string[] = [];
      const controller = new AbortController();
      const watching = (async () => {
        for await (const change of consumer.watch('api', { signal: controller.signal }))
          changes.push(`${change.type} ${change.instance.id}`);
      })();
      // the first read is in once the first registration shows as a change
      const a = await registry.register({ service: 'api', id: 'a', address: '10.0.0.1', port: 80 });
      await expect.poll(() => changes).toEqual(['added a']);
      const c = await stalled.register({ service: 'api', id: 'c', address: '10.0.0.3', port: 80 });
      await expect.poll(() => changes.at(-1)).toBe('added c');
      await a.close();
      await expect.poll(() => changes.at(-1)).toBe('removed a');
      const stoppedAt = performance.now();
      await stalled.session.close();
      await expect.poll(() => changes.at(-1), { timeout: expiryBoundMs(2) }).toBe('removed c');
      expect(performance.now() - stoppedAt).toBeLessThan(expiryBoundMs(2));
      controller.abort();
      await watching;

      const message = (id: string, address: string): RegistryMessage => ({
        recipe: 'registry',
        service: 'api',
        id,
        key: `${prefix}/api/${id}`,
        instance: expect.objectContaining({ service: 'api', id, address, port: 80 }),
      });
      expect(rec.of<RegistryMessage>('registryAdd')).toEqual([
        message('a', '10.0.0.1'),
        message('c', '10.0.0.3'),
      ]);
      expect(rec.of<RegistryMessage>('registryRemove')).toEqual([message('a', '10.0.0.1')]);
      expect(rec.of<RegistryMessage>('registryExpire')).toEqual([message('c', '10.0.0.3')]);
      expect(rec.seen.map((s) => `${s.channel} ${s.message.key}`)).toEqual([
        `registryAdd ${prefix}/api/a`,
        `registryAdd ${prefix}/api/c`,
        `registryRemove ${prefix}/api/a`,
        `registryExpire ${prefix}/api/c`,
      ]);
      await c.close();
      for (const closable of [consumer, registry, stalled]) await closable.close();
    } finally {
      rec.stop();
    }
  });
});
