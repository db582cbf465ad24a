/**
 * The core's read-and-watch loops with fake keys: `watchUntil` (read, decide, watch, learn) and `followChanges`
 * (the same as a stream), and their one rule for failed reads: a transient failure is read again after a
 * pause, etcd's own error and a closed client end the wait, an abort rejects with its reason.
 */
import { ClientClosedError } from '@etcdkit/client';
import { describe, expect, it } from 'vitest';
import { followChanges } from '../../src/core/follow-changes.js';
import { RetryPacing } from '../../src/core/retry.js';
import { readUntilAnswered, watchUntil } from '../../src/core/watch-until.js';
import { etcdError, FakeKeys, node, reply, settle } from './fake-keys.js';

/** A loop's state in these tests: a counter read from `/c`, as of an index. */
interface Count {
  readonly n: number;
  readonly index: number;
}

/** A fake whose every read of `/c` answers with the next of `counts` (at index 10, 11, ...). */
function countingKeys(counts: number[]): FakeKeys {
  const keys = new FakeKeys();
  let reads = 0;
  keys.onCall((call) => {
    if (call.method !== 'get') return;
    const n = counts[Math.min(reads, counts.length - 1)]!;
    call.reply.resolve(reply('get', node('/c', 1, 10 + reads, String(n))));
    reads++;
  });
  return keys;
}

async function readCount(keys: FakeKeys, signal: AbortSignal | undefined): Promise<Count> {
  const response = await keys.get('/c', { quorum: true, ...(signal ? { signal } : {}) });
  return { n: Number(response.node!.value), index: response.index };
}

/** Waits until the counter reaches `goal`, watching `/c`; events carry the new count as their value. */
function untilCount(keys: FakeKeys, goal: number, signal?: AbortSignal): Promise<number> {
  return watchUntil<Count, number>(keys, {
    signal,
    read: (at) => readCount(keys, at),
    decide: ({ n }) => (n >= goal ? { done: true, value: n } : { done: false, watch: { key: '/c' } }),
    learn: (_state, event) =>
      !event?.node || event.node.value === '?'
        ? undefined
        : { n: Number(event.node.value), index: event.node.modifiedIndex },
  });
}

describe('watchUntil', () => {
  it('reads once, watches from the read, and decides on an event without reading again', async () => {
    const keys = countingKeys([1]);
    const done = untilCount(keys, 3);
    await settle();
    expect(keys.watchers[0]).toMatchObject({ key: '/c', afterIndex: 10 });
    keys.watchers[0]!.push(reply('set', node('/c', 1, 11, '2')));
    await settle();
    expect(keys.watchers[1]).toMatchObject({ key: '/c', afterIndex: 11 });
    keys.watchers[1]!.push(reply('set', node('/c', 1, 12, '3')));
    expect(await done).toBe(3);
    expect(keys.of('get')).toHaveLength(1);
  });

  it('reads again when an event cannot be learned, and at once after error 401', async () => {
    const keys = countingKeys([1, 1, 5]);
    const done = untilCount(keys, 3);
    await settle();
    keys.watchers[0]!.push(reply('set', node('/c', 1, 11, '?')));
    await settle();
    expect(keys.of('get')).toHaveLength(2);
    const t0 = performance.now();
    keys.watchers[1]!.fail(etcdError(401, 50));
    expect(await done).toBe(5);
    expect(keys.of('get')).toHaveLength(3);
    expect(performance.now() - t0).toBeLessThan(RetryPacing.transientPauseMs);
  });

  it("watches after the target's own index when it names one, and takes a state from an async learn without an event", async () => {
    const keys = countingKeys([1]);
    const done = watchUntil<Count, number>(keys, {
      read: (at) => readCount(keys, at),
      decide: ({ n, index }) =>
        n >= 2 ? { done: true, value: index } : { done: false, watch: { key: '/c', afterIndex: 40 } },
      learn: async (state, event) => (event ? undefined : { n: state.n + 1, index: 77 }),
    });
    await settle();
    expect(keys.watchers[0]).toMatchObject({ key: '/c', afterIndex: 40 });
    keys.watchers[0]!.fail(etcdError(401, 50));
    expect(await done).toBe(77);
    expect(keys.of('get')).toHaveLength(1);
  });

  it('starts from `initial` without a read, and reads again when `decide` asks', async () => {
    const keys = countingKeys([7]);
    let asked = 0;
    const value = await watchUntil<Count, number>(keys, {
      initial: { n: 0, index: 3 },
      read: (at) => readCount(keys, at),
      decide: ({ n }) => {
        asked++;
        return n > 0 ? { done: true, value: n } : { done: false, reread: true };
      },
    });
    expect(value).toBe(7);
    expect(asked).toBe(2);
    expect(keys.of('get')).toHaveLength(1);
  });

  it('rejects with what decide throws', async () => {
    const keys = countingKeys([1]);
    const refused = new Error('not mine');
    await expect(
      watchUntil(keys, {
        read: (at) => readCount(keys, at),
        decide: () => {
          throw refused;
        },
      }),
    ).rejects.toBe(refused);
  });

  it("reads again after a transient read failure, and ends on etcd's own error from a read", async () => {
    const keys = new FakeKeys();
    const failures: unknown[] = [new Error('socket hang up'), undefined, etcdError(104, 12)];
    let reads = 0;
    keys.onCall((call) => {
      if (call.method !== 'get') return;
      const failure = failures[reads];
      if (failure) call.reply.reject(failure);
      else call.reply.resolve(reply('get', node('/c', 1, 10 + reads, '1')));
      reads++;
    });
    const done = untilCount(keys, 3);
    await new Promise((resolve) => setTimeout(resolve, RetryPacing.transientPauseMs * 1.5));
    await settle();
    expect(reads).toBe(2);
    keys.watchers[0]!.push(reply('set', node('/c', 1, 12, '?')));
    await expect(done).rejects.toMatchObject({ errorCode: 104 });
  });

  it('an abort while watching rejects with its reason', async () => {
    const keys = countingKeys([1]);
    const controller = new AbortController();
    const done = untilCount(keys, 3, controller.signal);
    await settle();
    const reason = new Error('stop');
    controller.abort(reason);
    await expect(done).rejects.toBe(reason);
    expect(keys.watchers[0]!.closed).toBe(true);
  });
});

describe('readUntilAnswered: the one rule for a failed read', () => {
  it('reads again after a transient failure, after the pause', async () => {
    let attempts = 0;
    const t0 = performance.now();
    const value = await readUntilAnswered(async () => {
      if (++attempts < 3) throw new Error('socket hang up');
      return 'read';
    }, undefined);
    expect(value).toBe('read');
    expect(attempts).toBe(3);
    // (half a pause each: a timer fires against the event loop's cached time, and can look a few ms early)
    expect(performance.now() - t0).toBeGreaterThanOrEqual(RetryPacing.transientPauseMs);
  });

  it("etcd's own error and a closed client end it at once", async () => {
    const refused = etcdError(104);
    await expect(readUntilAnswered(() => Promise.reject(refused), undefined)).rejects.toBe(refused);
    const closed = new ClientClosedError();
    await expect(readUntilAnswered(() => Promise.reject(closed), undefined)).rejects.toBe(closed);
  });

  it('an abort during the pause rejects with its reason', async () => {
    const controller = new AbortController();
    const reading = readUntilAnswered(() => Promise.reject(new Error('socket hang up')), controller.signal);
    await settle();
    const reason = new Error('stop');
    controller.abort(reason);
    await expect(reading).rejects.toBe(reason);
  });
});

describe('followChanges', () => {
  /** Follows the counter: each change is the new count; reads are diffed against the state before. */
  function follow(keys: FakeKeys, options: { known?: Count; knownIsRead?: boolean; signal?: AbortSignal }) {
    return followChanges<Count, number>(keys, {
      ...options,
      read: (at) => readCount(keys, at),
      changes: (before, after) => (before?.n === after.n ? [] : [after.n]),
      target: () => ({ key: '/c' }),
      learn: (_state, event) =>
        event.node?.value === '?'
          ? undefined
          : { state: { n: Number(event.node!.value), index: event.node!.modifiedIndex }, changes: [-1] },
    });
  }

  it("yields the first read's changes against what is known, then each event's", async () => {
    const changed = follow(countingKeys([6]), { known: { n: 4, index: 0 } })[Symbol.asyncIterator]();
    expect(await changed.next()).toEqual({ done: false, value: 6 });
    await changed.return(undefined);

    const keys = countingKeys([4]);
    const stream = follow(keys, { known: { n: 4, index: 0 } })[Symbol.asyncIterator]();
    const next = stream.next();
    await settle();
    // the read found nothing new: no change, and the watch goes on from the read
    expect(keys.watchers[0]).toMatchObject({ key: '/c', afterIndex: 10 });
    keys.watchers[0]!.push(reply('set', node('/c', 1, 11, '5')));
    expect(await next).toEqual({ done: false, value: -1 });
    await stream.return(undefined);
  });

  it('with a known read, watches on from it without reading first; an unlearnt event reads again', async () => {
    const keys = countingKeys([9]);
    const stream = follow(keys, { known: { n: 4, index: 7 }, knownIsRead: true })[Symbol.asyncIterator]();
    const next = stream.next();
    await settle();
    expect(keys.of('get')).toHaveLength(0);
    expect(keys.watchers[0]).toMatchObject({ key: '/c', afterIndex: 7 });
    keys.watchers[0]!.push(reply('set', node('/c', 1, 8, '?')));
    expect(await next).toEqual({ done: false, value: 9 });
    expect(keys.of('get')).toHaveLength(1);
    await stream.return(undefined);
  });

  it('ends quietly when its signal aborts during the pause after a failed read; a closed client read throws', async () => {
    const keys = new FakeKeys();
    keys.onCall((call) => call.reply.reject(new Error('socket hang up')));
    const controller = new AbortController();
    const next = follow(keys, { signal: controller.signal })[Symbol.asyncIterator]().next();
    await settle();
    controller.abort(new Error('stop'));
    expect(await next).toEqual({ done: true, value: undefined });

    const closing = new FakeKeys();
    const closed = new ClientClosedError();
    closing.onCall((call) => call.reply.reject(closed));
    await expect(follow(closing, {})[Symbol.asyncIterator]().next()).rejects.toBe(closed);
  });

  it('ends quietly when its signal aborts, and throws a closed client', async () => {
    const keys = countingKeys([1]);
    const controller = new AbortController();
    const stream = follow(keys, { signal: controller.signal })[Symbol.asyncIterator]();
    expect(await stream.next()).toEqual({ done: false, value: 1 });
    const next = stream.next();
    await settle();
    controller.abort(new Error('stop'));
    expect(await next).toEqual({ done: true, value: undefined });

    const closing = countingKeys([1]);
    const closed = follow(closing, {})[Symbol.asyncIterator]();
    await closed.next();
    const ending = closed.next();
    await settle();
    const error = new ClientClosedError();
    closing.watchers[0]!.fail(error);
    await expect(ending).rejects.toBe(error);
  });
});
