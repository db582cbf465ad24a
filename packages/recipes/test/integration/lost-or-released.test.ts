// A waiter whose own key vanishes is told at once; a recipe never hands out what it already lost; a voluntary
// end (release, resign) is no loss. Against a real cluster; the key vanishes by an external delete at a chosen
// moment, so every case is deterministic.
import diagnosticsChannel from 'node:diagnostics_channel';
import { ClientChannels, EtcdError, type KeysAPI, type WatchStartMessage } from '@etcdkit/client';
import { sharedClusterEndpoints, uniqueKeyPrefix } from '@etcdkit/testkit/vitest';
import { Agent, type Dispatcher } from 'undici';
import { describe, expect, it } from 'vitest';
import {
  Barrier,
  DoubleBarrier,
  Election,
  Lock,
  type LostMessage,
  RecipeChannels,
  ReleasedError,
  Semaphore,
  SessionExpiredError,
  SessionLostError,
} from '../../src/index.js';
import { keysFactory, LOADED_MACHINE_HEADROOM_MS } from './helpers.js';

const endpoints = sharedClusterEndpoints();
const keysAPI = keysFactory(() => endpoints);

// The tests delete keys themselves and never wait for one to expire, so a long TTL costs no time; it keeps
// the next refresh (every TTL/3 = 5 s), which would also find a deleted key gone, far beyond the bound below,
// so only a watch can tell a waiter within it.
const TTL = 15;
/** A key's loss is seen at once by a watch of it: one notify, then one quorum read, on a loaded machine. */
const TOLD_AT_ONCE_MS = LOADED_MACHINE_HEADROOM_MS;
// A resigned key must not be taken for lost: with a short TTL, its refresh would have run within this window.
const RESIGN_TTL = 2;
const RESIGN_REFRESH_MS = Math.round((RESIGN_TTL * 1000) / 3);

/** The member keys of a double barrier, in creation order (a quorum read). */
function memberKeys(keys: KeysAPI, name: string): Promise<string[]> {
  return childKeys(keys, `${name}/members`);
}

/** The keys in directory `dir` (a lock's queue, a barrier's members), in creation order (a quorum read). */
async function childKeys(keys: KeysAPI, dir: string): Promise<string[]> {
  try {
    const response = await keys.get(dir, { quorum: true });
    return (response.node?.nodes ?? [])
      .slice()
      .sort((a, b) => a.createdIndex - b.createdIndex)
      .map((node) => node.key);
  } catch (error) {
    if (error instanceof EtcdError && error.errorCode === 100) return [];
    throw error;
  }
}

/** Tracks a promise's state without awaiting it. */
function track<T>(promise: Promise<T>): { done: () => boolean; promise: Promise<T> } {
  let settled = false;
  const settle = (): void => {
    settled = true;
  };
  promise.then(settle, settle);
  return { done: () => settled, promise };
}

/** Keeps the `lost` messages about keys under `prefix` until `stop()`. */
function recordLost(prefix: string): { messages: LostMessage[]; stop(): void } {
  const messages: LostMessage[] = [];
  const handler = (message: unknown): void => {
    if ((message as LostMessage).key.startsWith(prefix)) messages.push(message as LostMessage);
  };
  diagnosticsChannel.subscribe(RecipeChannels.lost, handler);
  return { messages, stop: () => diagnosticsChannel.unsubscribe(RecipeChannels.lost, handler) };
}

/**
 * An undici Agent that runs `before(request)` first for the requests it returns a promise for: the request goes to
 * etcd once the promise settles. It lets a test change the cluster at an exact point of a recipe's exchange.
 */
class BeforeRequestAgent extends Agent {
  readonly #before: (request: Dispatcher.DispatchOptions) => Promise<void> | undefined;

  constructor(before: (request: Dispatcher.DispatchOptions) => Promise<void> | undefined) {
    super();
    this.#before = before;
  }

  override dispatch(request: Agent.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const pending = this.#before(request);
    if (!pending) return super.dispatch(request, handler);
    pending.then(
      () => super.dispatch(request, handler),
      (error: Error) => handler.onError?.(error),
    );
    return true;
  }
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('DoubleBarrier: a member whose key vanishes', () => {
  it('is told at once in enter(), and the members after it are not stranded', async () => {
    const name = uniqueKeyPrefix('double-lost');
    const admin = keysAPI();
    const [a, b, c] = Array.from({ length: 3 }, () => new DoubleBarrier(keysAPI(), name, 3, { ttl: TTL }));
    const enteringA = track(a!.enter());
    await expect.poll(() => memberKeys(admin, name)).toHaveLength(1);
    // B's wait is bounded: without being told, it would reject with a TimeoutError instead
    const enteringB = b!.enter({ signal: AbortSignal.timeout(TOLD_AT_ONCE_MS * 2) });
    await expect.poll(() => memberKeys(admin, name)).toHaveLength(2);
    const [keyA, keyB] = await memberKeys(admin, name);

    const deletedAt = performance.now();
    await admin.delete(keyB!);
    await expect(enteringB).rejects.toBeInstanceOf(SessionExpiredError);
    expect(performance.now() - deletedAt).toBeLessThan(TOLD_AT_ONCE_MS);
    expect(await memberKeys(admin, name)).toEqual([keyA]);

    // C comes after it: only live keys count, so A and C wait for a third member (B's vanished key is none)
    const enteringC = track(c!.enter());
    await expect.poll(() => memberKeys(admin, name)).toHaveLength(2);
    expect(enteringA.done()).toBe(false);
    expect(enteringC.done()).toBe(false);
    // B, told, enters again: the barrier opens for all three
    await b!.enter({ signal: AbortSignal.timeout(TOLD_AT_ONCE_MS) });
    await Promise.all([enteringA.promise, enteringC.promise]);

    await Promise.all([a!.leave(), b!.leave(), c!.leave()]);
    expect(await memberKeys(admin, name)).toEqual([]);
    for (const member of [a, b, c]) await member!.close();
  });

  it('is told in leave() while it waits as the lowest member, and the others still leave', async () => {
    const name = uniqueKeyPrefix('double-lost-leave');
    const admin = keysAPI();
    const [a, b] = Array.from({ length: 2 }, () => new DoubleBarrier(keysAPI(), name, 2, { ttl: TTL }));
    const enteringA = a!.enter();
    await expect.poll(() => memberKeys(admin, name)).toHaveLength(1);
    await Promise.all([enteringA, b!.enter()]);
    const [keyA] = await memberKeys(admin, name);
    // A, the lowest, waits for B (the highest) to go first
    const leavingA = a!.leave({ signal: AbortSignal.timeout(TOLD_AT_ONCE_MS * 2) });
    const deletedAt = performance.now();
    await admin.delete(keyA!);
    await expect(leavingA).rejects.toBeInstanceOf(SessionExpiredError);
    expect(performance.now() - deletedAt).toBeLessThan(TOLD_AT_ONCE_MS);
    await a!.leave(); // out already: resolves at once
    await b!.leave({ signal: AbortSignal.timeout(LOADED_MACHINE_HEADROOM_MS) });
    expect(await memberKeys(admin, name)).toEqual([]);
    for (const member of [a, b]) await member!.close();
  });
});

describe('Barrier: a holder whose key vanishes', () => {
  it('is told at once through its signal; a release is no loss', async () => {
    const name = uniqueKeyPrefix('barrier-lost');
    const admin = keysAPI();
    await using barrier = new Barrier(keysAPI(), `${name}/lost`, { ttl: TTL });
    expect(barrier.signal).toBeUndefined();
    await barrier.hold();
    const signal = barrier.signal!;
    expect(signal.aborted).toBe(false);
    const deletedAt = performance.now();
    await admin.delete(`${name}/lost`);
    await expect.poll(() => signal.aborted, { timeout: TOLD_AT_ONCE_MS, interval: 20 }).toBe(true);
    expect(performance.now() - deletedAt).toBeLessThan(TOLD_AT_ONCE_MS);
    expect(signal.reason).toBeInstanceOf(SessionLostError);

    await using released = new Barrier(keysAPI(), `${name}/released`, { ttl: TTL });
    await released.hold();
    const heldSignal = released.signal!;
    await released.release();
    expect(released.signal).toBeUndefined();
    await new Promise((resolve) => setTimeout(resolve, 500)); // the key's watch sees the delete meanwhile
    expect(heldSignal.aborted).toBe(false);
  });
});

describe('Semaphore: never hands out a lost permit', () => {
  it('a permit whose key is deleted while it wakes the waiter behind it is removed, and acquire rejects', async () => {
    const name = uniqueKeyPrefix('sem-lost');
    const admin = keysAPI();
    const holder = new Semaphore(keysAPI(), name, 1, { ttl: 5 });
    const held = await holder.acquire();

    // The waiter's first compare-and-swap of its own key (not a refresh: that one also says prevExist) is the
    // touch that wakes the waiter behind it, after its grant: someone deletes the key just before it reaches etcd.
    const ownKeyTouch = new RegExp(`^/v2/keys${escapeRegExp(name)}/(\\d+)\\?prevIndex=\\d+$`);
    // The first waiter past the permits watches the whole queue: once that watch starts, it waits (its own
    // key's loss watch shares one long-poll of the queue's directory with it, so no request tells).
    let watching!: () => void;
    const waits = new Promise<void>((resolve) => {
      watching = resolve;
    });
    const onWatchStart = (message: unknown): void => {
      const { watch } = message as WatchStartMessage;
      if (watch.key === name && watch.recursive && !watch.hub) watching();
    };
    diagnosticsChannel.subscribe(ClientChannels.watchStart, onWatchStart);
    let deleted: string | undefined;
    const agent = new BeforeRequestAgent((request) => {
      const match = request.method === 'PUT' ? ownKeyTouch.exec(request.path) : null;
      if (!match || deleted !== undefined) return undefined;
      deleted = `${name}/${match[1]}`;
      return admin.delete(deleted).then(() => undefined);
    });
    try {
      const waiter = new Semaphore(keysAPI({ dispatcher: agent }), name, 1, { ttl: 5 });
      const acquiring = waiter.acquire({ signal: AbortSignal.timeout(10_000) });
      await waits;
      expect(deleted).toBeUndefined();
      await held.release();

      const error = await acquiring.then(
        (permit) => permit,
        (reason: unknown) => reason,
      );
      expect(deleted).toBeDefined();
      expect(error).toBeInstanceOf(SessionLostError);
      expect((error as SessionLostError).key).toBe(deleted);
      expect(((error as SessionLostError).cause as EtcdError).errorCode).toBe(100);
      expect((await admin.get(name, { quorum: true })).node?.nodes ?? []).toEqual([]);
      await waiter.close();
    } finally {
      diagnosticsChannel.unsubscribe(ClientChannels.watchStart, onWatchStart);
      await holder.close();
      await agent.close();
    }
  });
});

describe('a voluntary end is no loss', () => {
  it('resign aborts the term signal with a ReleasedError and publishes no lost', async () => {
    const name = uniqueKeyPrefix('resigned');
    const lost = recordLost(name);
    try {
      const election = new Election(keysAPI(), name, { ttl: RESIGN_TTL });
      const next = new Election(keysAPI(), name, { ttl: RESIGN_TTL });
      const term = await election.campaign('a');
      const campaigning = next.campaign('b');
      expect(term.signal.aborted).toBe(false);
      await term.resign();
      expect(term.signal.reason).toBeInstanceOf(ReleasedError);
      expect(term.signal.reason).toMatchObject({ code: 'ETCDKIT_RELEASED', how: 'resigned', key: term.key });
      await expect(term.proclaim('late')).rejects.toBe(term.signal.reason);
      // the next candidate saw the delete: a watch of the resigned key would have taken it for a loss by then,
      // a refresh within one refresh interval more
      const nextTerm = await campaigning;
      await new Promise((resolve) => setTimeout(resolve, RESIGN_REFRESH_MS));
      expect(term.signal.reason).toBeInstanceOf(ReleasedError);
      expect(lost.messages).toEqual([]);

      // a real loss stays a loss: the leader key deleted by someone else
      await keysAPI().delete(nextTerm.key);
      await expect
        .poll(() => nextTerm.signal.reason, { timeout: TOLD_AT_ONCE_MS })
        .toBeInstanceOf(SessionLostError);
      await nextTerm.resign();
      expect(nextTerm.signal.reason).toBeInstanceOf(SessionLostError);
      expect(lost.messages.map((message) => message.key)).toEqual([nextTerm.key]);
      for (const e of [election, next]) await e.close();
    } finally {
      lost.stop();
    }
  });

  it('a permit released aborts its signal with a ReleasedError; one lost first keeps its SessionLostError', async () => {
    const name = uniqueKeyPrefix('sem-released');
    const semaphore = new Semaphore(keysAPI(), name, 2, { ttl: TTL });
    const first = await semaphore.acquire();
    const second = await semaphore.acquire();
    await first.release();
    expect(first.signal.reason).toBeInstanceOf(ReleasedError);
    expect(first.signal.reason).toMatchObject({ code: 'ETCDKIT_RELEASED', how: 'released', key: first.key });

    await keysAPI().delete(second.key);
    await expect
      .poll(() => second.signal.reason, { timeout: TOLD_AT_ONCE_MS })
      .toBeInstanceOf(SessionLostError);
    await second.release();
    expect(second.signal.reason).toBeInstanceOf(SessionLostError);
    await semaphore.close();
  });

  it('close() of a recipe aborts its holder signal with a ReleasedError (closed) at once, ends a waiting acquire with it, loses nothing', async () => {
    const name = uniqueKeyPrefix('closed-recipe');
    const lost = recordLost(name);
    try {
      const holder = new Lock(keysAPI(), name, { ttl: TTL });
      const waiter = new Lock(keysAPI(), name, { ttl: TTL });
      const held = await holder.acquire();
      // a second acquire of the same Lock waits in the in-process queue behind the one held here
      const queuedHere = holder.acquire().catch((error: unknown) => error);
      const waiting = track(waiter.acquire());
      await expect
        .poll(async () => (await childKeys(keysAPI(), name)).length, { timeout: TOLD_AT_ONCE_MS })
        .toBe(2);
      const closedAt = performance.now();
      await holder.close();
      // told now, not when the key's validity runs out (10 s away): nothing keeps the key alive any more
      expect(held.signal.reason).toBeInstanceOf(ReleasedError);
      expect(held.signal.reason).toMatchObject({ code: 'ETCDKIT_RELEASED', how: 'closed', key: held.key });
      expect(held.valid).toBe(false);
      expect(await queuedHere).toMatchObject({ name: 'ReleasedError', how: 'closed' });
      // closed for good: a later acquire queues nothing
      await expect(holder.acquire()).rejects.toMatchObject({ name: 'ReleasedError', how: 'closed' });
      // the closed holder's key expires by its TTL (not deleted): the waiter still waits behind it
      expect(waiting.done()).toBe(false);
      await waiter.close();
      const error = await waiting.promise.catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ReleasedError);
      expect(error).toMatchObject({ how: 'closed' });
      expect(performance.now() - closedAt).toBeLessThan(TOLD_AT_ONCE_MS);
      // the waiter gave up its place: its key is deleted, the holder's is left to expire
      expect(await childKeys(keysAPI(), name)).toEqual([held.key]);
      expect(lost.messages).toEqual([]);
      await held.release();
      expect(held.signal.reason).toMatchObject({ how: 'closed' });
    } finally {
      lost.stop();
    }
  });
});
