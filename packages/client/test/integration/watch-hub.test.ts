import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { sharedClusterEndpoints, uniqueKeyPrefix } from '@etcdkit/testkit/vitest';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type CallStartMessage,
  Client,
  ClientChannels,
  ErrorCode,
  EtcdError,
  KeysAPI,
  type Response,
  type Watcher,
} from '../../src/index.js';

// every shared watcher shares, however few (the default waits alone below 4 at once: a test of its own)
const client = new Client({ endpoints: sharedClusterEndpoints(), sharedWatchThreshold: 1 });
const keys = new KeysAPI(client);
afterAll(() => client.close());

/** The keys of the watch calls (long-polls) sent while a test runs, and how many of each are in flight. */
const polls: string[] = [];
const inFlight = new Map<string, number>();
const onCall = (message: unknown): void => {
  const { call } = message as CallStartMessage;
  if (call.operation !== 'watch') return;
  polls.push(call.key ?? '');
  inFlight.set(call.key ?? '', (inFlight.get(call.key ?? '') ?? 0) + 1);
};
const onCallDone = (message: unknown): void => {
  const { call } = message as CallStartMessage;
  if (call.operation === 'watch') inFlight.set(call.key ?? '', (inFlight.get(call.key ?? '') ?? 0) - 1);
};
beforeEach(() => {
  polls.length = 0;
  inFlight.clear();
  subscribe(ClientChannels.callStart, onCall);
  subscribe(ClientChannels.callEnd, onCallDone);
  subscribe(ClientChannels.callError, onCallDone);
});
afterEach(() => {
  unsubscribe(ClientChannels.callStart, onCall);
  unsubscribe(ClientChannels.callEnd, onCallDone);
  unsubscribe(ClientChannels.callError, onCallDone);
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `action key value` of an event, the key below `base`. */
const show = (base: string, event: Response) =>
  `${event.action} ${event.node!.key.slice(base.length)} ${event.node!.value}`;

describe('shared watchers (one long-poll per directory)', () => {
  it('serve many watchers below one directory with one long-poll, each event once, in order', async () => {
    const base = uniqueKeyPrefix('hub');
    const start = await keys.set(`${base}/k0`, 'start');
    const watchers = Array.from({ length: 100 }, (_, i) =>
      keys.watcher(`${base}/k${i % 10}`, { afterIndex: start.index, shared: true }),
    );
    const seen = watchers.map(() => [] as string[]);
    const loops = watchers.map(async (watcher, i) => {
      for (let n = 0; n < 3; n++) seen[i]!.push(show(base, await watcher.next()));
    });
    await sleep(200);
    for (let round = 0; round < 3; round++)
      for (let k = 0; k < 10; k++) await keys.set(`${base}/k${k}`, `v${round}`);
    await Promise.all(loops);
    for (const [i, events] of seen.entries())
      expect(events).toEqual([0, 1, 2].map((r) => `set /k${i % 10} v${r}`));
    // one long-poll at a time, re-sent after each event of the directory: far fewer than one per watcher and event
    expect(polls.every((key) => key === base)).toBe(true);
    expect(polls.length).toBeLessThanOrEqual(31 + 2);
    for (const watcher of watchers) watcher.close();
  });

  it('keep etcd’s rules: recursive or not, a directory’s removal, a hidden key (waits alone)', async () => {
    const base = uniqueKeyPrefix('rules');
    const start = await keys.set(`${base}/d/x`, '1');
    const after = { afterIndex: start.index, shared: base };
    const exact = keys.watcher(`${base}/d`, after);
    const recursive = keys.watcher(`${base}/d`, { ...after, recursive: true });
    const below = keys.watcher(`${base}/d/x`, after);
    const hidden = keys.watcher(`${base}/_h/y`, after);
    const pending = [exact.next(), recursive.next(), below.next(), hidden.next()];
    await keys.set(`${base}/d/x`, '2');
    await keys.set(`${base}/_h/y`, 'h');
    await keys.delete(`${base}/d`, { recursive: true });
    const [e1, r1, b1, h1] = await Promise.all(pending);
    expect(show(base, r1!)).toBe('set /d/x 2');
    expect(show(base, b1!)).toBe('set /d/x 2');
    expect(show(base, h1!)).toBe('set /_h/y h');
    // the directory's removal reaches its own watch and every watch below it
    expect(e1!.action).toBe('delete');
    expect(e1!.node!.key).toBe(`${base}/d`);
    expect((await recursive.next()).node!.key).toBe(`${base}/d`);
    expect((await below.next()).node!.key).toBe(`${base}/d`);
    for (const w of [exact, recursive, below, hidden]) w.close();
  });

  it('a watcher behind the hub gets past events (buffer or going back), from now gets only new ones', async () => {
    const base = uniqueKeyPrefix('behind');
    const first = await keys.set(`${base}/a`, '1');
    const ahead = keys.watcher(`${base}/a`, { afterIndex: first.index, shared: true });
    const waiting = ahead.next();
    const second = await keys.set(`${base}/a`, '2');
    expect((await waiting).node!.value).toBe('2');
    const held = ahead.next();
    // from the buffer: the hub has the event at second's index
    const late = keys.watcher(`${base}/a`, { afterIndex: first.index, shared: true });
    expect((await late.next()).node!.modifiedIndex).toBe(second.node!.modifiedIndex);
    // below what the hub ever had: it goes back, and both get what they asked for
    const older = keys.watcher(`${base}/a`, { afterIndex: first.index - 1, shared: true });
    expect((await older.next()).node!.modifiedIndex).toBe(first.node!.modifiedIndex);
    const fromNow = keys.watcher(`${base}/a`, { shared: true });
    const next = fromNow.next();
    await sleep(100);
    const third = await keys.set(`${base}/a`, '3');
    expect((await next).node!.modifiedIndex).toBe(third.node!.modifiedIndex);
    expect((await held).node!.modifiedIndex).toBe(third.node!.modifiedIndex);
    for (const w of [ahead, late, older, fromNow]) w.close();
  });

  it('a watcher whose index etcd has cleared gets its own error 401, then resync() resumes', async () => {
    const base = uniqueKeyPrefix('hub-cleared');
    const start = await keys.set(`${base}/k`, 'start');
    for (let i = 0; i < 1010; i += 10) {
      await Promise.all(Array.from({ length: 10 }, (_, j) => keys.set(`${base}/filler`, String(i + j))));
    }
    const watcher = keys.watcher(`${base}/k`, { afterIndex: start.index, shared: true });
    const error = await watcher.next().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EtcdError);
    expect((error as EtcdError).errorCode).toBe(ErrorCode.EventIndexCleared);
    await watcher.resync();
    const after = await keys.set(`${base}/k`, 'after');
    expect((await watcher.next()).node!.modifiedIndex).toBe(after.node!.modifiedIndex);
    watcher.close();
  });

  it('close and abort end one watcher’s wait, not the others’', async () => {
    const base = uniqueKeyPrefix('hub-abort');
    const start = await keys.set(`${base}/k`, '0');
    const make = (): Watcher => keys.watcher(`${base}/k`, { afterIndex: start.index, shared: true });
    const [closed, aborted, kept] = [make(), make(), make()];
    const controller = new AbortController();
    const reason = new Error('stop');
    const waits = [closed.next(), aborted.next({ signal: controller.signal }), kept.next()];
    closed.close();
    controller.abort(reason);
    await expect(waits[0]).rejects.toMatchObject({ name: 'AbortError' });
    await expect(waits[1]).rejects.toBe(reason);
    const set = await keys.set(`${base}/k`, '1');
    expect((await waits[2]!).node!.modifiedIndex).toBe(set.node!.modifiedIndex);
    kept.close();
  });

  it('below the threshold, shared watchers wait alone; at it, all move into one long-poll', async () => {
    await using fewFirst = new Client({ endpoints: sharedClusterEndpoints() });
    const few = new KeysAPI(fewFirst);
    const base = uniqueKeyPrefix('threshold');
    const start = await few.set(`${base}/k`, '0');
    const watchers = Array.from({ length: 10 }, () =>
      few.watcher(`${base}/k`, { afterIndex: start.index, shared: true }),
    );
    const waits = watchers.map((w) => w.next());
    await sleep(100);
    // 3 waited alone (each its own long-poll of the key); the 4th started the hub's one long-poll of the
    // directory, and the 3 moved into it: one long-poll in flight
    expect(polls.filter((key) => key === `${base}/k`)).toHaveLength(3);
    expect(polls.filter((key) => key === base)).toHaveLength(1);
    expect(inFlight.get(`${base}/k`)).toBe(0);
    expect(inFlight.get(base)).toBe(1);
    const set = await few.set(`${base}/k`, '1');
    for (const event of await Promise.all(waits))
      expect(event.node!.modifiedIndex).toBe(set.node!.modifiedIndex);
    for (const w of watchers) w.close();
  });

  it('rejects a shared directory that is not above the key', () => {
    expect(() => keys.watcher('/a/b', { shared: '/c' })).toThrow(RangeError);
  });
});
