import { describe, expect, it } from 'vitest';
import { Session } from '../../src/core/session.js';
import { SessionLostError } from '../../src/errors.js';
import { type Call, etcdError, FakeKeys, node, reply, settle } from './fake-keys.js';

const KEY = '/s/1';
const VALUE = '{"owner":"me"}';

/** A key kept with its value, refreshed every 50 ms (TTL 30: no deadline during a test). */
function kept(options: { refreshIntervalMs?: number } = {}) {
  const keys = new FakeKeys();
  const session = new Session(keys.api, { ttl: 30, refreshIntervalMs: options.refreshIntervalMs ?? 50 });
  const key = session.keep(KEY, { createdIndex: 10, modifiedIndex: 10, value: VALUE }, performance.now());
  const watcher = keys.watchers[0]!;
  return { keys, session, key, watcher };
}

/** Resolves with the `nth` call (1-based) of `method`, waiting for it to be made. */
async function call(keys: FakeKeys, method: Call['method'], nth = 1): Promise<Call> {
  await expect.poll(() => keys.of(method).length, { timeout: 2000, interval: 5 }).toBeGreaterThanOrEqual(nth);
  return keys.of(method)[nth - 1]!;
}

describe('SessionKey writes are retry-safe compare-and-swaps', () => {
  it('a refresh goes out retrySafe with no timeout of its own; only halting the key abandons it', async () => {
    const { keys, session, key } = kept();
    const refresh = await call(keys, 'set');
    expect(refresh.options).toMatchObject({ refresh: true, prevExist: true, prevIndex: 10, retrySafe: true });
    const signal = refresh.options.signal as AbortSignal;
    await new Promise((resolve) => setTimeout(resolve, 300)); // several refresh intervals
    expect(signal.aborted).toBe(false);
    expect(keys.of('set')).toHaveLength(1); // one refresh at a time
    key.halt();
    expect(signal.aborted).toBe(true);
    await session.close();
  });

  it('a 101 on a refresh whose late first attempt moved the index: the key is read, adopted, refreshed again', async () => {
    const { keys, session, key } = kept();
    (await call(keys, 'set')).reply.reject(etcdError(101));
    const read = await call(keys, 'get');
    expect(read.options).toMatchObject({ quorum: true, retrySafe: true });
    read.reply.resolve(reply('get', node(KEY, 10, 12, VALUE)));
    const again = await call(keys, 'set', 2);
    expect(again.options).toMatchObject({ refresh: true, prevIndex: 12 });
    expect(key.signal.aborted).toBe(false);
    expect(key.modifiedIndex).toBe(12);
    await session.close();
  });

  it('a 101 on a refresh where the key holds a value none of ours gave it: lost, changed by someone else', async () => {
    const { keys, session, key } = kept();
    (await call(keys, 'set')).reply.reject(etcdError(101));
    (await call(keys, 'get')).reply.resolve(reply('get', node(KEY, 10, 12, 'theirs')));
    await settle();
    expect(key.signal.reason).toBeInstanceOf(SessionLostError);
    expect((key.signal.reason as Error).message).toMatch(/changed by someone else/);
    expect(key.gone).toBe(false);
    await session.close();
  });

  it('a 101 on a refresh where the key was created again: lost as gone', async () => {
    const { keys, session, key } = kept();
    (await call(keys, 'set')).reply.reject(etcdError(101));
    (await call(keys, 'get')).reply.resolve(reply('get', node(KEY, 40, 40, VALUE)));
    await settle();
    expect(key.gone).toBe(true);
    await session.close();
  });

  it('a key kept without its value cannot tell: a 101 on a refresh loses it', async () => {
    const keys = new FakeKeys();
    const session = new Session(keys.api, { ttl: 30, refreshIntervalMs: 50 });
    const key = session.keep(KEY, 10, performance.now());
    (await call(keys, 'set')).reply.reject(etcdError(101));
    (await call(keys, 'get')).reply.resolve(reply('get', node(KEY, 10, 12, VALUE)));
    await settle();
    expect(key.signal.reason).toBeInstanceOf(SessionLostError);
    await session.close();
  });

  it('a modify whose own late attempt applied (101 on the repeat, the key holds its value) is done', async () => {
    const { keys, session, key, watcher } = kept({ refreshIntervalMs: 10_000 });
    const held = '{"owner":"me","held":true}';
    const write = key.modify(
      async (prevIndex, signal) =>
        (await keys.set(KEY, held, { prevIndex, retrySafe: true, signal })).node!.modifiedIndex,
      { value: held },
    );
    (await call(keys, 'set')).reply.reject(etcdError(101));
    (await call(keys, 'get')).reply.resolve(reply('get', node(KEY, 10, 13, held)));
    await write;
    expect(key.modifiedIndex).toBe(13);
    expect(key.value).toBe(held);
    expect(keys.of('set')).toHaveLength(1); // not written twice
    // the loss watch then sees that write's event: ours
    watcher.push(reply('compareAndSwap', node(KEY, 10, 13, held)));
    await settle();
    expect(key.signal.aborted).toBe(false);
    await session.close();
  });

  it('a modify that meets a late refresh of ours (the key holds the old value) writes again at the new index', async () => {
    const { keys, session, key } = kept({ refreshIntervalMs: 10_000 });
    const held = '{"owner":"me","held":true}';
    const write = key.modify(
      async (prevIndex) => (await keys.set(KEY, held, { prevIndex })).node!.modifiedIndex,
      { value: held },
    );
    (await call(keys, 'set')).reply.reject(etcdError(101));
    (await call(keys, 'get')).reply.resolve(reply('get', node(KEY, 10, 12, VALUE)));
    const second = await call(keys, 'set', 2);
    expect(second.options).toMatchObject({ prevIndex: 12 });
    second.reply.resolve(reply('compareAndSwap', node(KEY, 10, 14, held)));
    await write;
    expect(key.modifiedIndex).toBe(14);
    await session.close();
  });

  it('the watch sees a change with one of our values at an index no reply gave: a late attempt of ours, not a loss', async () => {
    const { keys, session, key, watcher } = kept({ refreshIntervalMs: 10_000 });
    const held = '{"owner":"me","held":true}';
    const write = key.modify(
      async (prevIndex) => (await keys.set(KEY, held, { prevIndex })).node!.modifiedIndex,
      { value: held },
    );
    // the write fails over (its first attempt abandoned) and fails: its outcome is unknown
    (await call(keys, 'set')).reply.reject(new Error('no member answered'));
    await expect(write).rejects.toThrow('no member answered');
    // the abandoned attempt applied after all
    watcher.push(reply('compareAndSwap', node(KEY, 10, 15, held)));
    await settle();
    expect(key.signal.aborted).toBe(false);
    expect(key.modifiedIndex).toBe(15);
    // and a change to a value that is not ours still loses the key
    watcher.push(reply('compareAndSwap', node(KEY, 10, 16, 'theirs')));
    await settle();
    expect(key.signal.reason).toBeInstanceOf(SessionLostError);
    await session.close();
  });

  it('a key adopted after a 101 keeps its old validity deadline: only a refresh of its own reply pushes it', async () => {
    const keys = new FakeKeys();
    // TTL 2 s, margin 500 ms: valid until sentAt + 1500 ms; sent 1000 ms ago, so about 500 ms are left
    const session = new Session(keys.api, { ttl: 2, refreshIntervalMs: 100 });
    const key = session.keep(
      KEY,
      { createdIndex: 10, modifiedIndex: 10, value: VALUE },
      performance.now() - 1000,
    );
    const t0 = performance.now();
    const lost = new Promise<number>((resolve) =>
      key.signal.addEventListener('abort', () => resolve(performance.now()), { once: true }),
    );
    (await call(keys, 'set')).reply.reject(etcdError(101));
    (await call(keys, 'get')).reply.resolve(reply('get', node(KEY, 10, 12, VALUE)));
    const again = await call(keys, 'set', 2); // left unanswered
    expect(again.options).toMatchObject({ prevIndex: 12 });
    const at = await lost;
    expect(at - t0).toBeLessThan(1000); // the first deadline, not one counted from the adoption
    expect((key.signal.reason as Error).message).toMatch(/validity deadline/);
    await session.close();
  });

  it('a modify written again after a late refresh, whose repeat then meets its own late attempt, is done', async () => {
    const { keys, session, key } = kept({ refreshIntervalMs: 10_000 });
    const held = '{"owner":"me","held":true}';
    const write = key.modify(
      async (prevIndex, signal) =>
        (await keys.set(KEY, held, { prevIndex, retrySafe: true, signal })).node!.modifiedIndex,
      { value: held },
    );
    (await call(keys, 'set')).reply.reject(etcdError(101));
    (await call(keys, 'get')).reply.resolve(reply('get', node(KEY, 10, 12, VALUE))); // a late refresh
    (await call(keys, 'set', 2)).reply.reject(etcdError(101));
    (await call(keys, 'get', 2)).reply.resolve(reply('get', node(KEY, 10, 13, held))); // its own attempt
    await write;
    expect(key.signal.aborted).toBe(false);
    expect(key.modifiedIndex).toBe(13);
    expect(key.value).toBe(held);
    await session.close();
  });

  it('a modify whose 101 cannot be judged (the read fails) rejects, and the key is not lost', async () => {
    const { keys, session, key } = kept({ refreshIntervalMs: 10_000 });
    const write = key.update('{"owner":"me","held":true}');
    (await call(keys, 'set')).reply.reject(etcdError(101));
    (await call(keys, 'get')).reply.reject(new Error('no member answered'));
    await expect(write).rejects.toMatchObject({ errorCode: 101 });
    expect(key.signal.aborted).toBe(false);
    await session.close();
  });

  it('remove while a refresh is in flight: the refresh is abandoned and the delete goes out at once, retrySafe', async () => {
    const { keys, session, key } = kept();
    const refresh = await call(keys, 'set');
    const removing = key.remove();
    expect((refresh.options.signal as AbortSignal).aborted).toBe(true);
    refresh.reply.reject((refresh.options.signal as AbortSignal).reason);
    const deletion = await call(keys, 'delete');
    expect(deletion.options).toMatchObject({ prevIndex: 10, retrySafe: true });
    deletion.reply.resolve(reply('compareAndDelete', node(KEY, 10, 17)));
    await removing;
    expect(key.signal.aborted).toBe(false); // a release is no loss
    await session.close();
  });

  it('remove: 101 (a late write of ours moved the index) reads the key and deletes it by its current index; 100 is done', async () => {
    const { keys, session, key } = kept({ refreshIntervalMs: 10_000 });
    const removing = key.remove();
    (await call(keys, 'delete')).reply.reject(etcdError(101));
    (await call(keys, 'get')).reply.resolve(reply('get', node(KEY, 10, 18, VALUE)));
    const second = await call(keys, 'delete', 2);
    expect(second.options).toMatchObject({ prevIndex: 18, retrySafe: true });
    second.reply.reject(etcdError(100)); // an earlier attempt of this delete applied late
    await removing;
    expect(keys.of('delete')).toHaveLength(2);
    await session.close();
  });

  it('remove leaves a key created again by someone else alone', async () => {
    const { keys, session, key } = kept({ refreshIntervalMs: 10_000 });
    const removing = key.remove();
    (await call(keys, 'delete')).reply.reject(etcdError(101));
    (await call(keys, 'get')).reply.resolve(reply('get', node(KEY, 40, 40, VALUE)));
    await removing;
    expect(keys.of('delete')).toHaveLength(1);
    await session.close();
  });
});
