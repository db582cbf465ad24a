/**
 * Barrier with fake keys: what a wait reads and watches, and what ends it; a held barrier's signal. What real
 * etcd does with these requests is the integration tests' part (`more-recipes.test.ts`).
 */
import { describe, expect, it } from 'vitest';
import { Barrier, BarrierHeldError } from '../../src/barrier.js';
import { SessionLostError } from '../../src/errors.js';
import { etcdError, FakeKeys, node, outcomeOf, reply, settle, soon } from './fake-keys.js';

const KEY = '/gate';

describe('Barrier.wait', () => {
  it('resolves after one quorum read when the barrier is down, and watches nothing', async () => {
    const keys = new FakeKeys();
    const waiting = outcomeOf(new Barrier(keys.api, KEY).wait(), 'down');
    await settle();
    const [read] = keys.of('get');
    expect(read!.options.quorum).toBe(true);
    read!.reply.reject(etcdError(100, 7));
    expect(await waiting).toBe('down');
    expect(keys.watchers).toHaveLength(0);
  });

  it('watches the key from the read’s index while it is up, and ends on its removal without reading again', async () => {
    const keys = new FakeKeys();
    const waiting = outcomeOf(new Barrier(keys.api, KEY).wait(), 'down');
    await settle();
    keys.of('get')[0]!.reply.resolve(reply('get', node(KEY, 5, 5, '{}')));
    await settle();
    const [watch] = keys.watchers;
    expect(watch!.key).toBe(KEY);
    expect(watch!.afterIndex).toBe(5);
    watch!.push(reply('expire', node(KEY, 5, 9), node(KEY, 5, 5, '{}')));
    expect(await waiting).toBe('down');
    expect(keys.of('get')).toHaveLength(1);
  });

  it('reads again after an event that is no removal, or error 401, and waits on', async () => {
    const keys = new FakeKeys();
    const waiting = outcomeOf(new Barrier(keys.api, KEY).wait(), 'down');
    await settle();
    keys.of('get')[0]!.reply.resolve(reply('get', node(KEY, 5, 5, '{}')));
    await settle();
    keys.watchers[0]!.push(reply('set', node(KEY, 5, 6, '{}')));
    await settle();
    expect(keys.of('get')).toHaveLength(2);
    keys.of('get')[1]!.reply.resolve(reply('get', node(KEY, 5, 6, '{}')));
    await settle();
    keys.watchers.at(-1)!.fail(etcdError(401, 2000));
    await settle();
    expect(keys.of('get')).toHaveLength(3);
    expect(await soon(waiting)).toBe('still waiting');
    keys.of('get')[2]!.reply.reject(etcdError(100, 2001));
    expect(await waiting).toBe('down');
  });

  it('an abort of its signal rejects with the reason, and closes the watch', async () => {
    const keys = new FakeKeys();
    const controller = new AbortController();
    const waiting = outcomeOf(new Barrier(keys.api, KEY).wait({ signal: controller.signal }), 'down');
    await settle();
    keys.of('get')[0]!.reply.resolve(reply('get', node(KEY, 5, 5, '{}')));
    await settle();
    controller.abort('enough');
    expect(await waiting).toBe('enough');
    await settle();
    expect(keys.watchers.every((watcher) => watcher.closed)).toBe(true);
  });
});

describe('Barrier.hold', () => {
  it('refuses with BarrierHeldError when the key exists already (error 105)', async () => {
    const keys = new FakeKeys();
    keys.onCall((call) => call.reply.reject(etcdError(105, 3)));
    await expect(new Barrier(keys.api, KEY).hold()).rejects.toBeInstanceOf(BarrierHeldError);
  });

  it('with a TTL, its signal aborts with SessionLostError once the key is deleted by someone else', async () => {
    const keys = new FakeKeys();
    keys.onCall((call) => {
      if (call.method === 'create') call.reply.resolve(reply('create', node(KEY, 4, 4, call.value)));
      if (call.method === 'resync') call.reply.reject(etcdError(100, 12));
    });
    await using barrier = new Barrier(keys.api, KEY, { ttl: 2 });
    await barrier.hold();
    const signal = barrier.signal!;
    expect(signal.aborted).toBe(false);
    await settle();
    keys.watchers.find((watcher) => watcher.key === KEY)!.push(reply('delete', node(KEY, 4, 11)));
    const lost = new Promise((resolve) => signal.addEventListener('abort', () => resolve(signal.reason)));
    expect(await soon(lost)).toBeInstanceOf(SessionLostError);
  });
});
