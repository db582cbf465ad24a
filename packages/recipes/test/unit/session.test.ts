import { ClientClosedError, EtcdError } from '@etcdkit/client';
import { describe, expect, it, vi } from 'vitest';
import { Session } from '../../src/core/session.js';
import { ReleasedError, SessionLostError } from '../../src/errors.js';
import { etcdError, FakeKeys, node, reply, settle } from './fake-keys.js';

const KEY = '/s/1';

/** A key kept by a session on a fake keys object (TTL 30: no refresh during a test). */
function kept(createdIndex = 10, modifiedIndex = createdIndex) {
  const keys = new FakeKeys();
  const session = new Session(keys.api, { ttl: 30 });
  const key = session.keep(KEY, modifiedIndex, performance.now(), createdIndex);
  const watcher = keys.watchers[0]!;
  return { keys, session, key, watcher };
}

describe('SessionKey loss watch: its own key, from its own index', () => {
  it('watches the key from its modifiedIndex at once, and stops watching when stopped', async () => {
    const { session, key, watcher } = kept(10, 14);
    expect(watcher.key).toBe(KEY);
    expect(watcher.afterIndex).toBe(14);
    expect(watcher.waiting).toBe(true);
    await key.stop();
    await settle();
    expect(watcher.waiting).toBe(false);
    expect(watcher.closed).toBe(true);
    // stopped while kept: a voluntary end, no loss (see 'SessionKey stopped while kept' below)
    expect(key.signal.reason).toBeInstanceOf(ReleasedError);
    await session.close();
  });

  it('passes over its own write, also when the event comes before the write reply', async () => {
    const { keys, session, key, watcher } = kept();
    const write = key.modify(async (prevIndex) => {
      const response = await keys.set(KEY, 'held', { prevIndex });
      return response.node!.modifiedIndex;
    });
    await settle();
    watcher.push(reply('compareAndSwap', node(KEY, 10, 12, 'held')));
    await settle();
    expect(key.signal.aborted).toBe(false);
    keys.of('set')[0]!.reply.resolve(reply('compareAndSwap', node(KEY, 10, 12, 'held')));
    await write;
    await settle();
    expect(key.signal.aborted).toBe(false);
    expect(key.modifiedIndex).toBe(12);
    expect(watcher.waiting).toBe(true); // watching on
    await session.close();
  });

  it('a change by someone else loses the key at once (not gone: it is still there)', async () => {
    const { session, key, watcher } = kept();
    watcher.push(reply('set', node(KEY, 10, 13, 'theirs')));
    await settle();
    expect(key.signal.reason).toBeInstanceOf(SessionLostError);
    expect((key.signal.reason as Error).message).toMatch(/changed by someone else/);
    expect(key.gone).toBe(false);
    expect(watcher.closed).toBe(true);
    await session.close();
  });

  it('a delete or expiry loses the key at once, as gone, with the read that confirms it as cause', async () => {
    for (const action of ['delete', 'expire', 'compareAndDelete']) {
      const { keys, session, key, watcher } = kept();
      watcher.push(reply(action, node(KEY, 10, 20), node(KEY, 10, 10)));
      await settle();
      const [read] = keys.of('resync');
      read!.reply.reject(etcdError(100, 20));
      await settle();
      expect(key.signal.reason).toBeInstanceOf(SessionLostError);
      expect((key.signal.reason as Error).message).toMatch(/the key is gone/);
      expect((key.signal.reason as Error).cause).toBeInstanceOf(EtcdError);
      expect(key.gone).toBe(true);
      await session.close();
    }
  });

  it('a delete after the key was stopped (our release) is no loss', async () => {
    const { session, key, watcher } = kept();
    key.halt();
    watcher.push(reply('delete', node(KEY, 10, 20), node(KEY, 10, 10)));
    await settle();
    expect(key.signal.aborted).toBe(false);
    await session.close();
  });

  it('after a removal, the watch ends with the delete event (its long-poll is not aborted); without one, after a grace', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const { keys, session, key, watcher } = kept();
      const removing = key.remove();
      keys.of('delete')[0]!.reply.resolve(reply('compareAndDelete', node(KEY, 10, 20)));
      await removing;
      await settle();
      expect(watcher.waiting).toBe(true); // aborting it now would cost its connection
      watcher.push(reply('compareAndDelete', node(KEY, 10, 20), node(KEY, 10, 10)));
      await settle();
      expect(watcher.closed).toBe(true);
      expect(key.signal.aborted).toBe(false);

      const other = kept();
      const removingOther = other.key.remove();
      other.keys.of('delete')[0]!.reply.resolve(reply('compareAndDelete', node(KEY, 10, 20)));
      await removingOther;
      await settle();
      expect(other.watcher.closed).toBe(false);
      await vi.advanceTimersByTimeAsync(1000);
      expect(other.watcher.closed).toBe(true);
      await session.close();
      await other.session.close();
    } finally {
      vi.useRealTimers();
    }
  });

  it('error 401 or a failed watch: reads the key once and watches on when it is still ours', async () => {
    const { keys, session, key, watcher } = kept(10, 15);
    watcher.fail(etcdError(401, 2000));
    await settle();
    const [read] = keys.of('resync');
    read!.reply.resolve(reply('get', node(KEY, 10, 15)));
    await settle();
    expect(key.signal.aborted).toBe(false);
    expect(watcher.waiting).toBe(true);
    watcher.fail(new Error('no member could be waited on'));
    await settle();
    keys.of('resync')[1]!.reply.resolve(reply('get', node(KEY, 10, 15)));
    await settle();
    expect(key.signal.aborted).toBe(false);
    await session.close();
  });

  it('the read after a failed watch finds the key gone, or created again by someone else: lost as gone', async () => {
    {
      const { keys, session, key, watcher } = kept();
      watcher.fail(etcdError(401));
      await settle();
      keys.of('resync')[0]!.reply.reject(etcdError(100));
      await settle();
      expect(key.gone).toBe(true);
      await session.close();
    }
    {
      const { keys, session, key, watcher } = kept();
      watcher.fail(etcdError(401));
      await settle();
      keys.of('resync')[0]!.reply.resolve(reply('get', node(KEY, 40, 40)));
      await settle();
      expect(key.gone).toBe(true);
      expect((key.signal.reason as Error).message).toMatch(/created again/);
      await session.close();
    }
  });

  it('a read that fails for a transient reason loses nothing', async () => {
    const { keys, session, key, watcher } = kept();
    watcher.fail(new Error('unreachable'));
    await settle();
    keys.of('resync')[0]!.reply.reject(new Error('unreachable'));
    await settle();
    expect(key.signal.aborted).toBe(false);
    await session.close();
  });
});

describe('SessionKey validity deadline', () => {
  it('a key whose refresh does not answer is lost at its local deadline, before the server could expire it', async () => {
    const keys = new FakeKeys();
    // TTL 2 s, margin 500 ms: valid until sentAt + 1500 ms; sent 1400 ms ago, so about 100 ms are left
    const session = new Session(keys.api, { ttl: 2 });
    const key = session.keep(KEY, 10, performance.now() - 1400);
    expect(key.valid).toBe(true);
    const lost = new Promise<number>((resolve) =>
      key.signal.addEventListener('abort', () => resolve(performance.now()), { once: true }),
    );
    const t0 = performance.now();
    const at = await lost;
    expect(at - t0).toBeLessThan(1000); // the deadline, not a refresh interval (667 ms) plus its timeout
    expect(key.valid).toBe(false);
    expect((key.signal.reason as Error).message).toMatch(/validity deadline/);
    expect(key.gone).toBe(false); // unreachable is not gone
    await session.close();
  });

  it('a refresh answered in time moves the deadline on (counted from when it was sent)', async () => {
    const keys = new FakeKeys();
    keys.onCall((call) => {
      if (call.method === 'set') call.reply.resolve(reply('set', node(KEY, 10, 11)));
    });
    const session = new Session(keys.api, { ttl: 2, refreshIntervalMs: 200 });
    // valid for 1000 ms more; refreshed every 200 ms, each refresh answered
    const key = session.keep(KEY, 10, performance.now() - 500);
    await new Promise((resolve) => setTimeout(resolve, 1300));
    expect(keys.of('set')[0]?.options).toMatchObject({ refresh: true, prevExist: true, prevIndex: 10 });
    expect(key.valid).toBe(true); // past the first deadline, extended by the refreshes
    expect(key.modifiedIndex).toBe(11);
    await session.close();
  });
});

describe('SessionKey stopped while kept: a voluntary end', () => {
  it('stop() aborts the signal with a ReleasedError (closed); after a remove() it leaves the signal alone', async () => {
    {
      const { session, key } = kept();
      await session.close();
      expect(key.signal.reason).toBeInstanceOf(ReleasedError);
      expect(key.signal.reason).toMatchObject({ how: 'closed', key: KEY });
      expect(key.valid).toBe(false);
    }
    {
      const { keys, session, key } = kept();
      keys.onCall((call) => {
        if (call.method === 'delete') call.reply.resolve(reply('delete', node(KEY, 10, 11)));
      });
      await key.remove();
      await session.close();
      expect(key.signal.aborted).toBe(false);
    }
  });

  it('a closed session refuses to create a key (nothing sent) and stops at once a key kept after its close', async () => {
    const keys = new FakeKeys();
    const session = new Session(keys.api, { ttl: 30 });
    await session.close();
    await expect(session.create(KEY, 'v')).rejects.toMatchObject({ name: 'ReleasedError', how: 'closed' });
    expect(keys.calls).toEqual([]);
    // a create that was in flight when the session closed
    const late = session.keep(KEY, 10, performance.now());
    expect(late.signal.reason).toMatchObject({ how: 'closed' });
    await settle();
    expect(keys.watchers.every((watcher) => watcher.closed)).toBe(true);
  });
});

describe('SessionKey on a closed client', () => {
  it('stops refreshing and watching at the first ClientClosedError; the deadline alone decides the loss', async () => {
    const keys = new FakeKeys();
    keys.onCall((call) => {
      if (call.method === 'set') call.reply.reject(new ClientClosedError());
    });
    // TTL 2 s, margin 500 ms, refreshed every 100 ms: valid until sentAt + 1500 ms, about 600 ms from now
    const session = new Session(keys.api, { ttl: 2, refreshIntervalMs: 100 });
    const key = session.keep(KEY, 10, performance.now() - 900);
    const watcher = keys.watchers[0]!;
    watcher.fail(new ClientClosedError());
    const lost = new Promise<void>((resolve) =>
      key.signal.addEventListener('abort', () => resolve(), { once: true }),
    );
    await lost;
    // one refresh, not one every 50 ms (half the interval) until the deadline; no re-read after the watch failed
    expect(keys.of('set')).toHaveLength(1);
    expect(keys.of('resync')).toHaveLength(0);
    expect(keys.watchers).toHaveLength(1);
    expect((key.signal.reason as Error).message).toMatch(/validity deadline/);
    expect(key.gone).toBe(false);
    await session.close();
  });
});

describe('Session.create: a kept key made by the session', () => {
  it('creates the key with the session TTL, keeps it with its node, and passes a 105 on', async () => {
    const keys = new FakeKeys();
    const session = new Session(keys.api, { ttl: 30 });
    const creating = session.create(KEY, 'v');
    await settle();
    const [create] = keys.of('create');
    expect(create).toMatchObject({ key: KEY, value: 'v', options: { ttl: 30 } });
    create!.reply.resolve(reply('create', node(KEY, 20, 20, 'v')));
    const key = await creating;
    expect(key.key).toBe(KEY);
    expect(key.modifiedIndex).toBe(20);
    expect(key.valid).toBe(true);
    expect(keys.watchers[0]).toMatchObject({ key: KEY, afterIndex: 20 }); // its loss watch
    await key.stop();
    const taken = session.create('/s/2', 'v');
    await settle();
    keys.of('create')[1]!.reply.reject(etcdError(105));
    await expect(taken).rejects.toMatchObject({ errorCode: 105 });
    expect(keys.watchers).toHaveLength(1);
    await session.close();
  });
});
