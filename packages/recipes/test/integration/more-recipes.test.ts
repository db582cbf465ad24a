import { sharedClusterEndpoints, uniqueKeyPrefix } from '@etcdkit/testkit/vitest';
import { describe, expect, it } from 'vitest';
import {
  DoubleBarrier,
  type HeldLock,
  Queue,
  RWLock,
  Semaphore,
  TooManyMembersError,
} from '../../src/index.js';
import { keysFactory } from './helpers.js';

const endpoints = sharedClusterEndpoints();
const keysAPI = keysFactory(() => endpoints);
const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Tracks a promise's state without awaiting it. */
function track<T>(promise: Promise<T>): { done: () => boolean; promise: Promise<T> } {
  let settled = false;
  void promise.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  return { done: () => settled, promise };
}

describe('RWLock', () => {
  it('readers share, a writer is alone, and readers behind a waiting writer wait (no writer starvation)', async () => {
    const name = uniqueKeyPrefix('rw');
    const lock = (): RWLock => new RWLock(keysAPI(), name, { ttl: 5 });
    const r1 = await lock().readLock();
    const r2 = await lock().readLock();
    const w = track(lock().writeLock());
    await pause(150); // the writer queues before r3
    const r3 = track(lock().readLock());
    await pause(150);
    expect([w.done(), r3.done()]).toEqual([false, false]);
    await r1.release();
    await pause(100);
    expect(w.done()).toBe(false);
    await r2.release();
    const writer = await w.promise;
    await pause(100);
    expect(r3.done()).toBe(false);
    await writer.release();
    const reader = await r3.promise;
    expect(reader.fencingToken).toBeGreaterThan(writer.fencingToken);
    await reader.release();
  });
});

describe('Semaphore', () => {
  it('lets at most N hold at once, FIFO, and frees a permit for the first waiter on any release', async () => {
    const name = uniqueKeyPrefix('sem');
    const sem = (): Semaphore => new Semaphore(keysAPI(), name, 2, { ttl: 5 });
    const a = await sem().acquire();
    const b = await sem().acquire();
    const c = track(sem().acquire());
    await pause(100); // c queues before d
    const d = track(sem().acquire());
    await pause(150);
    expect([c.done(), d.done()]).toEqual([false, false]);
    await b.release(); // not the oldest holder: still frees a permit (work-conserving)
    const third = await c.promise;
    await pause(100);
    expect(d.done()).toBe(false);
    await a.release();
    const fourth = await d.promise;
    await third.release();
    await fourth.release();
  });

  it('never exceeds its permits under contention', async () => {
    const name = uniqueKeyPrefix('sem-load');
    let inside = 0;
    let max = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        const sem = new Semaphore(keysAPI(), name, 3, { ttl: 5 });
        for (let i = 0; i < 3; i++) {
          const held: HeldLock = await sem.acquire();
          inside++;
          max = Math.max(max, inside);
          await pause(10);
          inside--;
          await held.release();
        }
      }),
    );
    expect(max).toBeLessThanOrEqual(3);
    expect(max).toBeGreaterThan(1);
  });
});

describe('Queue', () => {
  it('is FIFO, gives each item to exactly one taker, and take blocks while empty', async () => {
    const name = uniqueKeyPrefix('queue');
    const producer = new Queue(keysAPI(), name);
    for (const job of ['j1', 'j2', 'j3']) await producer.put(job);
    expect(await producer.size()).toBe(3);
    const consumers = Array.from({ length: 4 }, () => new Queue(keysAPI(), name));
    const taken = await Promise.all(consumers.slice(0, 3).map((q) => q.take()));
    expect(taken.map((item) => item.value).sort()).toEqual(['j1', 'j2', 'j3']);
    const waiting = track(consumers[3]!.take());
    await pause(150);
    expect(waiting.done()).toBe(false);
    await producer.put('j4');
    expect((await waiting.promise).value).toBe('j4');
    const controller = new AbortController();
    const aborted = consumers[0]!.take({ signal: controller.signal });
    controller.abort(new Error('no more'));
    await expect(aborted).rejects.toThrow('no more');
    expect(await producer.size()).toBe(0);
  });

  it('close() ends a take waiting and refuses later calls; the items stay', async () => {
    const name = uniqueKeyPrefix('queue-close');
    const queue = new Queue(keysAPI(), name);
    const waiting = queue.take();
    await pause(150);
    await queue.close();
    await expect(waiting).rejects.toMatchObject({ name: 'AbortError', message: 'queue closed' });
    await expect(queue.take()).rejects.toMatchObject({ name: 'AbortError' });
    await expect(queue.put('late')).rejects.toMatchObject({ name: 'AbortError' });
    const producer = new Queue(keysAPI(), name);
    await producer.put('kept');
    expect(await producer.size()).toBe(1);
  });
});

describe('DoubleBarrier', () => {
  it('enters together and leaves together', async () => {
    const name = uniqueKeyPrefix('double');
    const members = Array.from({ length: 3 }, () => new DoubleBarrier(keysAPI(), name, 3, { ttl: 5 }));
    const first = track(Promise.all(members.slice(0, 2).map((m) => m.enter())));
    await pause(200);
    expect(first.done()).toBe(false);
    await members[2]!.enter();
    await first.promise;
    await expect(new DoubleBarrier(keysAPI(), name, 3, { ttl: 5 }).enter()).rejects.toBeInstanceOf(
      TooManyMembersError,
    );
    const leaving = track(Promise.all(members.slice(0, 2).map((m) => m.leave())));
    await pause(200);
    expect(leaving.done()).toBe(false);
    await members[2]!.leave();
    await leaving.promise;
    for (const member of members) await member.close();
  });

  it('a leave aborted after it removed its key is taken up again by the next leave()', async () => {
    const name = uniqueKeyPrefix('double-resume');
    const [low, high] = Array.from({ length: 2 }, () => new DoubleBarrier(keysAPI(), name, 2, { ttl: 5 }));
    // the lower member's key first
    const entering = low!.enter();
    await pause(200);
    await Promise.all([entering, high!.enter()]);
    // the higher member removes its key at once and waits for the lowest: abort that wait
    const controller = new AbortController();
    const first = high!.leave({ signal: controller.signal });
    await pause(300);
    const reason = new Error('stop waiting');
    controller.abort(reason);
    await expect(first).rejects.toBe(reason);
    // the next leave() waits for the lowest to go (it does not find its own key gone and give up)
    const again = track(high!.leave());
    await pause(300);
    expect(again.done()).toBe(false);
    await low!.leave();
    await again.promise;
    await low!.close();
    await high!.close();
  });
});
