import { describe, expect, it } from 'vitest';
import type { Client } from '../../src/client.js';
import { EtcdError } from '../../src/errors.js';
import { AbortHook } from '../../src/internal/abort-hook.js';
import { isWithin } from '../../src/internal/event-match.js';
import { kDo } from '../../src/internal/symbols.js';
import { type HubRegistry, WatchHub } from '../../src/internal/watch-hub.js';
import type { Response } from '../../src/keys.js';
import type { Watcher } from '../../src/watcher.js';

/**
 * A fake of etcd's v2 history for one directory, and of the hub's long-polls on it: a poll answers with the
 * first event at or after its index below the directory (at once from history, else when written), or error 401
 * below `oldest`. `manual`: written events are not delivered until `deliver()`.
 */
class FakeHistory {
  readonly events: Response[] = [];
  readonly polls: FakePoll[] = [];
  oldest = 1;
  index = 100;
  constructor(readonly dir: string) {}

  write(key: string, action = 'set'): Response {
    this.index++;
    const event: Response = {
      action,
      node: { key, dir: false, value: '', createdIndex: this.index, modifiedIndex: this.index },
      index: this.index,
      clusterId: '',
    };
    this.events.push(event);
    for (const poll of this.polls) poll.offer();
    return event;
  }

  readonly stream = (afterIndex: number, redundant?: () => boolean): Watcher => {
    const poll = new FakePoll(this, afterIndex + 1, redundant);
    this.polls.push(poll);
    return poll as unknown as Watcher;
  };
}

class FakePoll {
  #pending: { resolve(event: Response): void; reject(error: unknown): void } | undefined;
  closed = false;
  /** How many long-polls (`next()` calls) this poll has made. */
  nexts = 0;
  /** Rejections of close() come a turn later, as undici's do. */
  lateClose = false;
  /** For each long-poll, whether the hub sent it to two members. */
  readonly onTwo: boolean[] = [];
  constructor(
    readonly history: FakeHistory,
    public waitIndex: number,
    readonly redundant?: () => boolean,
  ) {}

  next(): Promise<Response> {
    this.nexts++;
    this.onTwo.push(this.redundant?.() ?? false);
    if (this.closed) return Promise.reject(new DOMException('watcher closed', 'AbortError'));
    if (this.waitIndex < this.history.oldest) {
      const cause = `the requested history has been cleared [${this.history.oldest}/${this.waitIndex}]`;
      return Promise.reject(
        new EtcdError(401, 'The event in requested index is outdated and cleared', cause, 0),
      );
    }
    return new Promise((resolve, reject) => {
      this.#pending = { resolve, reject };
      this.offer();
    });
  }

  offer(): void {
    const event = this.history.events.find(
      (e) => e.node!.modifiedIndex >= this.waitIndex && isWithin(this.history.dir, e.node!.key),
    );
    if (!event || !this.#pending) return;
    const { resolve } = this.#pending;
    this.#pending = undefined;
    this.waitIndex = event.node!.modifiedIndex + 1;
    resolve(event);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    const pending = this.#pending;
    this.#pending = undefined;
    const error = new DOMException('watcher closed', 'AbortError');
    if (this.lateClose) setImmediate(() => pending?.reject(error));
    else pending?.reject(error);
  }
}

const turn = () => new Promise((resolve) => setImmediate(resolve));
const registry = (): HubRegistry & { forgotten: number } => {
  const r = {
    forgotten: 0,
    forget: () => {
      r.forgotten++;
    },
    revive: () => {},
  };
  return r;
};
/** A client whose one call (the "now" read) answers 404 at `index`, after `delayMs`. */
const fakeClient = (index = 100, delayMs = 0) =>
  ({
    [kDo]: async () => {
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      throw new EtcdError(100, 'Key not found', '/d/_etcdkit_now', index);
    },
  }) as unknown as Client;

describe('the watch hub (a fake etcd history)', () => {
  it('a wait behind the long-poll gets its own first event, not the one the poll had in flight', async () => {
    const history = new FakeHistory('/d');
    const hub = new WatchHub(fakeClient(), '/d', '/v2/keys/d', history.stream, registry());
    const early = history.write('/d/late'); // 101
    for (let i = 0; i < 20; i++) history.write('/d/other');
    const ahead = hub.next('/d/a', false, 120, {}, new AbortHook());
    await turn();
    const inFlight = history.write('/d/late'); // answers the poll from 120: resolved, not yet taken
    const late = hub.next('/d/late', false, early.index, {}, new AbortHook());
    expect(((await late) as Response).node!.modifiedIndex).toBe(early.node!.modifiedIndex);
    const next = hub.next('/d/late', false, early.index + 1, {}, new AbortHook());
    expect(((await next) as Response).node!.modifiedIndex).toBe(inFlight.node!.modifiedIndex);
    const own = history.write('/d/a');
    expect(((await ahead) as Response).node!.modifiedIndex).toBe(own.node!.modifiedIndex);
  });

  it('the waits an event settles run (several promise hops) before the hub sends its next long-poll', async () => {
    const history = new FakeHistory('/d');
    const hub = new WatchHub(fakeClient(), '/d', '/v2/keys/d', history.stream, registry());
    const order: string[] = [];
    const longPolls = (): number => history.polls.reduce((sum, poll) => sum + poll.nexts, 0);
    const deep = async (): Promise<void> => {
      await hub.next('/d/a', false, 101, {}, new AbortHook());
      await Promise.resolve();
      await Promise.resolve();
      order.push(`woken after ${longPolls()} long-poll(s)`);
    };
    const woken = deep();
    const other = hub.next('/d/b', false, 101, {}, new AbortHook()); // keeps the hub polling
    await turn();
    expect(longPolls()).toBe(1);
    history.write('/d/a');
    await woken;
    await turn();
    expect(order).toEqual(['woken after 1 long-poll(s)']);
    expect(longPolls()).toBe(2); // then the next long-poll
    history.write('/d/b');
    await other;
  });

  it('a wait that joins while the hub stops its idle long-poll is served, not failed', async () => {
    const history = new FakeHistory('/d');
    const hub = new WatchHub(fakeClient(), '/d', '/v2/keys/d', history.stream, registry());
    const closer = new AbortHook();
    const first = hub.next('/d/a', false, 101, {}, closer);
    await turn();
    for (const poll of history.polls) poll.lateClose = true;
    closer.abort(new Error('gone'));
    await expect(first).rejects.toThrow('gone');
    // the linger ends the long-poll a second later; a wait joins before its rejection arrives
    await new Promise((resolve) => setTimeout(resolve, 1050));
    const joined = hub.next('/d/a', false, 101, {}, new AbortHook());
    const event = history.write('/d/a');
    expect(((await joined) as Response).node!.modifiedIndex).toBe(event.node!.modifiedIndex);
  });

  it('error 401: waits below the oldest kept index go alone (with their index), the rest stay', async () => {
    const history = new FakeHistory('/d');
    history.oldest = 150;
    for (let i = 0; i < 60; i++) history.write('/d/filler'); // up to 160
    const hub = new WatchHub(fakeClient(), '/d', '/v2/keys/d', history.stream, registry());
    const below = hub.next('/d/a', false, 120, {}, new AbortHook());
    const kept = hub.next('/d/b', false, 155, {}, new AbortHook());
    expect(await below).toBe(120);
    const event = history.write('/d/b');
    expect(((await kept) as Response).node!.modifiedIndex).toBe(event.node!.modifiedIndex);
  });

  it('error 401 that leaves nobody waiting stops the long-poll (no poll again at a cleared index)', async () => {
    const history = new FakeHistory('/d');
    history.oldest = 150;
    for (let i = 0; i < 60; i++) history.write('/d/filler');
    const hub = new WatchHub(fakeClient(), '/d', '/v2/keys/d', history.stream, registry());
    expect(await hub.next('/d/a', false, 120, {}, new AbortHook())).toBe(120);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(history.polls).toHaveLength(1);
  });

  it('keeps its long-poll running a moment after the last wait is served: the next waits join it', async () => {
    const history = new FakeHistory('/d');
    const hub = new WatchHub(fakeClient(), '/d', '/v2/keys/d', history.stream, registry());
    const waits = [0, 1, 2, 3].map(() => hub.next('/d', true, 101, {}, new AbortHook()));
    await turn();
    history.write('/d/x');
    await Promise.all(waits);
    expect(hub.waitsAlone(4, 102)).toBeUndefined();
    expect(history.polls.filter((poll) => !poll.closed)).toHaveLength(1);
  });

  it('forgets itself when a wait from now is aborted during its read of "now"', async () => {
    const history = new FakeHistory('/d');
    const r = registry();
    const hub = new WatchHub(fakeClient(100, 50), '/d', '/v2/keys/d', history.stream, r);
    const controller = new AbortController();
    const wait = hub.next('/d/k', false, 0, { signal: controller.signal }, new AbortHook());
    controller.abort(new Error('stop'));
    await expect(wait).rejects.toThrow('stop');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(hub.ended).toBe(true);
    expect(r.forgotten).toBe(1);
  });

  it('waits alone below the threshold; the long-poll takes over those it covers', async () => {
    const history = new FakeHistory('/d');
    history.index = 115;
    const hub = new WatchHub(fakeClient(), '/d', '/v2/keys/d', history.stream, registry());
    const older = hub.waitsAlone(4, 90)!;
    const same = hub.waitsAlone(4, 110)!;
    expect(older).toBeDefined();
    expect(same).toBeDefined();
    expect(hub.waitsAlone(2, 110)).toBeUndefined(); // a third would reach a threshold of 2
    const started = hub.next('/d/k', false, 110, {}, new AbortHook());
    expect(same.aborted).toBe(true); // from 110 on, the long-poll covers it
    expect(older.aborted).toBe(false); // from 90 it would have to go back: it keeps waiting alone
    hub.doneAlone(same);
    hub.doneAlone(older);
    const event = history.write('/d/k');
    expect(((await started) as Response).node!.modifiedIndex).toBe(event.node!.modifiedIndex);
  });

  it('plain and redundant waits share one long-poll, on two members while a redundant one waits', async () => {
    const history = new FakeHistory('/d');
    const hub = new WatchHub(fakeClient(), '/d', '/v2/keys/d', history.stream, registry());
    const plain = hub.next('/d/a', false, 101, {}, new AbortHook());
    expect(history.polls.map((poll) => poll.onTwo)).toEqual([[false]]);
    // a redundant wait joins: the single wait in flight ends, and the long-poll goes on from where it stood
    const redundant = hub.next('/d/b', false, 101, {}, new AbortHook(), true);
    await turn();
    expect(history.polls[0]!.closed).toBe(true);
    expect(history.polls[1]!.waitIndex).toBe(101);
    expect(history.polls[1]!.onTwo).toEqual([true]);
    // a second one restarts nothing
    const second = hub.next('/d/c', false, 101, {}, new AbortHook(), true);
    await turn();
    expect(history.polls).toHaveLength(2);
    history.write('/d/b');
    expect(((await redundant) as Response).node!.key).toBe('/d/b');
    await turn();
    expect(history.polls[1]!.onTwo).toEqual([true, true]);
    history.write('/d/c');
    expect(((await second) as Response).node!.key).toBe('/d/c');
    await turn();
    // only the plain wait is left: the long-poll's next wait goes to one member
    expect(history.polls[1]!.onTwo).toEqual([true, true, false]);
    history.write('/d/a');
    expect(((await plain) as Response).node!.key).toBe('/d/a');
    expect(history.polls).toHaveLength(2);
  });

  it('a redundant wait that leaves (aborted) leaves the long-poll on one member from its next wait', async () => {
    const history = new FakeHistory('/d');
    const hub = new WatchHub(fakeClient(), '/d', '/v2/keys/d', history.stream, registry());
    const plain = hub.next('/d/a', false, 101, {}, new AbortHook());
    const closer = new AbortHook();
    const redundant = hub.next('/d/b', false, 101, {}, closer, true);
    await turn();
    closer.abort(new DOMException('watcher closed', 'AbortError'));
    await expect(redundant).rejects.toThrow('watcher closed');
    history.write('/d/x');
    await turn();
    expect(history.polls.at(-1)!.onTwo).toEqual([true, false]);
    history.write('/d/a');
    expect(((await plain) as Response).node!.key).toBe('/d/a');
  });

  it('a redundant wait that joins between two waits of the long-poll restarts nothing: the next goes to two', async () => {
    const history = new FakeHistory('/d');
    const hub = new WatchHub(fakeClient(), '/d', '/v2/keys/d', history.stream, registry());
    const first = hub.next('/d/a', false, 101, {}, new AbortHook());
    const plain = hub.next('/d/b', false, 101, {}, new AbortHook());
    history.write('/d/a');
    await first;
    // the hub hands the event over and waits a turn before its next long-poll: a redundant wait joins then
    const redundant = hub.next('/d/c', false, 102, {}, new AbortHook(), true);
    await turn();
    expect(history.polls.map((poll) => [poll.closed, poll.onTwo])).toEqual([[false, [false, true]]]);
    history.write('/d/c');
    history.write('/d/b');
    expect(((await redundant) as Response).node!.key).toBe('/d/c');
    expect(((await plain) as Response).node!.key).toBe('/d/b');
  });

  it('a long-poll that takes over redundant waits alone starts on two members', async () => {
    const history = new FakeHistory('/d');
    const hub = new WatchHub(fakeClient(), '/d', '/v2/keys/d', history.stream, registry());
    const moved = hub.waitsAlone(4, 101, true)!;
    // a plain wait starts the long-poll, which moves the redundant one in (the watcher then calls doneAlone and
    // waits in the hub, in one go)
    const plain = hub.next('/d/a', false, 101, {}, new AbortHook());
    expect(moved.aborted).toBe(true);
    hub.doneAlone(moved);
    const redundant = hub.next('/d/b', false, 101, {}, new AbortHook(), true);
    await turn();
    expect(history.polls.map((poll) => [poll.closed, poll.onTwo])).toEqual([[false, [true]]]);
    history.write('/d/b');
    expect(((await redundant) as Response).node!.key).toBe('/d/b');
    history.write('/d/a');
    expect(((await plain) as Response).node!.key).toBe('/d/a');
  });
});
