/**
 * Semaphore.acquire with fake keys: a permit is never handed out once its key's validity has passed, even when
 * the grant came in time and only the touch that wakes the waiter behind was slow (a chaos run's case).
 */
import { describe, expect, it } from 'vitest';
import { learnWhole } from '../../src/core/queue-driver.js';
import { SessionLostError } from '../../src/errors.js';
import { Semaphore } from '../../src/semaphore.js';
import { dirReply, FakeKeys, node, reply, settle } from './fake-keys.js';

const DIR = '/sem';
const OURS = `${DIR}/8`;

describe('Semaphore.acquire', () => {
  it('a grant whose touch of the waiter behind outlasts the key’s validity rejects with SessionLostError, and removes the key', async () => {
    const keys = new FakeKeys();
    let sentTouchAt = 0;
    keys.onCall((call) => {
      if (call.method === 'createInOrder') call.reply.resolve(reply('create', node(OURS, 8, 8, call.value)));
      // every read after the first: the permit's holder is gone, ours is first
      if (call.method === 'get' && keys.of('get').length > 1)
        call.reply.resolve(dirReply(DIR, 40, node(OURS, 8, 8, '{}')));
      // the touch (a write of our own key with its value, no refresh) times out after 2 s, a request timeout;
      // refreshes are never answered; the removal is
      if (call.method === 'delete') call.reply.resolve(reply('compareAndDelete', node(call.key, 8, 50)));
      if (call.method === 'set' && call.key === OURS && sentTouchAt === 0 && !call.options.prevExist) {
        sentTouchAt = performance.now();
        setTimeout(() => call.reply.reject(new Error('headers timeout')), 2000);
      }
    });
    // TTL 2: the key's validity ends 1.5 s after its create was sent (margin 500 ms)
    await using semaphore = new Semaphore(keys.api, DIR, 1, { ttl: 2 });
    const acquiring = semaphore.acquire().then(
      () => 'handed out',
      (error: unknown) => error,
    );
    await settle();
    // past the permits: ours is second, behind a holder; it watches the directory
    keys.of('get')[0]!.reply.resolve(dirReply(DIR, 20, node(`${DIR}/5`, 5, 5, '{}'), node(OURS, 8, 8, '{}')));
    await settle();
    const watcher = keys.watchers.find((w) => w.key === DIR)!;
    watcher.push(reply('delete', node(`${DIR}/5`, 5, 30), node(`${DIR}/5`, 5, 5, '{}')));
    const outcome = await acquiring;
    expect(sentTouchAt).toBeGreaterThan(0); // the grant came, then the touch went out
    expect(outcome).toBeInstanceOf(SessionLostError);
    // not held: its key is removed
    await settle();
    expect(keys.of('delete').map((call) => call.key)).toContain(OURS);
  });
});

describe('the first Semaphore waiter', () => {
  it('reads the queue once: joins behind it and touches ahead move nobody, and a release ahead grants it', async () => {
    const keys = new FakeKeys();
    keys.onCall((call) => {
      if (call.method === 'createInOrder') call.reply.resolve(reply('create', node(OURS, 8, 8, call.value)));
      if (call.method === 'set' && call.key === OURS && !call.options.refresh)
        call.reply.resolve(reply('compareAndSwap', node(OURS, 8, 40, call.value)));
      if (call.method === 'delete') call.reply.resolve(reply('compareAndDelete', node(call.key, 8, 50)));
    });
    await using semaphore = new Semaphore(keys.api, DIR, 2, { ttl: 2 });
    const acquiring = semaphore.acquire();
    await settle();
    keys
      .of('get')[0]!
      .reply.resolve(
        dirReply(DIR, 20, node(`${DIR}/4`, 4, 4, '{}'), node(`${DIR}/5`, 5, 5, '{}'), node(OURS, 8, 8, '{}')),
      );
    await settle();
    // each wait is a watcher of its own, from the index after the last event
    const dirWatch = () => keys.watchers.filter((watcher) => watcher.key === DIR).at(-1)!;
    const push = async (event: ReturnType<typeof reply>, from: number) => {
      expect(dirWatch().afterIndex).toBe(from);
      dirWatch().push(event);
      await settle();
    };
    // two waiters join behind, a holder ahead is touched (a waiter it woke): no read, the watch goes on
    await push(reply('create', node(`${DIR}/21`, 21, 21, '{}')), 20);
    await push(reply('create', node(`${DIR}/22`, 22, 22, '{}')), 21);
    await push(reply('set', node(`${DIR}/5`, 5, 23, '{}'), node(`${DIR}/5`, 5, 5, '{}')), 22);
    // a waiter behind gives up
    await push(reply('delete', node(`${DIR}/21`, 21, 24), node(`${DIR}/21`, 21, 21, '{}')), 23);
    expect(keys.of('get')).toHaveLength(1);
    // a holder releases: the permit is ours, without reading the queue again
    await push(reply('delete', node(`${DIR}/4`, 4, 25), node(`${DIR}/4`, 4, 4, '{}')), 24);
    const held = await acquiring;
    expect(held.key).toBe(OURS);
    expect(keys.of('get')).toHaveLength(1);
    await held.release();
  });
});

describe('learnWhole: a wait on the whole queue applies every event to its read', () => {
  const listing = {
    entries: [4, 5, 8].map((i) => ({ key: `${DIR}/${i}`, createdIndex: i, modifiedIndex: i, data: {} })),
    index: 20,
  };
  const keysOf = (event: Parameters<typeof learnWhole>[1]) =>
    learnWhole(listing, event, DIR)?.listing.entries.map((entry) => entry.key);

  it('drops a removed entry wherever it stood, and moves nobody on a create or a change', () => {
    expect(keysOf(reply('expire', node(`${DIR}/5`, 5, 30)))).toEqual([`${DIR}/4`, OURS]);
    expect(keysOf(reply('delete', node(OURS, 8, 30)))).toEqual([`${DIR}/4`, `${DIR}/5`]);
    expect(keysOf(reply('create', node(`${DIR}/31`, 31, 31)))).toEqual([`${DIR}/4`, `${DIR}/5`, OURS]);
    expect(keysOf(reply('compareAndSwap', node(`${DIR}/4`, 4, 31)))).toEqual([`${DIR}/4`, `${DIR}/5`, OURS]);
    expect(learnWhole(listing, reply('create', node(`${DIR}/31`, 31, 31)), DIR)).toMatchObject({
      trusted: true,
      seen: { key: `${DIR}/31`, index: 31 },
    });
  });

  it('reads again after no event, an event on the directory itself, or on a key below an entry', () => {
    expect(learnWhole(listing, undefined, DIR)).toBeUndefined();
    expect(learnWhole(listing, reply('delete', { ...node(DIR, 1, 30), dir: true }), DIR)).toBeUndefined();
    expect(learnWhole(listing, reply('set', node(`${DIR}/4/x`, 30, 30)), DIR)).toBeUndefined();
    expect(learnWhole(listing, reply('set', node('/elsewhere', 30, 30)), DIR)).toBeUndefined();
  });
});
