import type { Response } from '@etcdkit/client';
import { describe, expect, it } from 'vitest';
import { orRemove } from '../../src/core/held.js';
import { learn, predecessor, QueueTicket, type RemovedHere, watchFrom } from '../../src/core/queue-driver.js';
import { listQueueAfter, type QueueEntry, type QueueListing } from '../../src/core/queue-listing.js';
import { isRemovedHere, markRemovedHere } from '../../src/core/removed-here.js';
import { Session } from '../../src/core/session.js';
import { SessionLostError } from '../../src/errors.js';
import { dirReply, etcdError, FakeKeys, node, reply, settle } from './fake-keys.js';

const DIR = '/q';
const HELD = JSON.stringify({ owner: 'x', held: true });
const WAITING = JSON.stringify({ owner: 'x' });

function entry(index: number): QueueEntry {
  return { key: `${DIR}/${index}`, createdIndex: index, modifiedIndex: index, data: {} };
}

/** A read at index 20 of the queue [5, 6, 7, 8]; ours is 8. */
const listing: QueueListing = { entries: [5, 6, 7, 8].map(entry), index: 20 };
const MINE = 3;
const keysOf = (l: QueueListing | undefined) => l?.entries.map((e) => e.key);

describe('learn: what an event on an entry ahead tells a waiter without reading again', () => {
  it('a removal of an entry that was not marked held drops that entry only; the rest ahead may be stale', () => {
    for (const action of ['delete', 'expire', 'compareAndDelete']) {
      const event = reply(action, node(`${DIR}/7`, 7, 30), node(`${DIR}/7`, 7, 7, WAITING));
      const learned = learn(listing, event, MINE);
      expect(keysOf(learned?.listing)).toEqual([`${DIR}/5`, `${DIR}/6`, `${DIR}/8`]);
      expect(learned?.trusted).toBe(false);
      expect(learned?.seen).toEqual({ key: `${DIR}/7`, index: 30 });
      expect(learned?.listing.index).toBe(20); // still the read's index: stale entries are watched from it
    }
  });

  it('an unmarked removal also drops the entries ahead that this process removed itself', () => {
    const unmarked = (clusterId: string) => ({
      ...reply('delete', node(`${DIR}/7`, 7, 30), node(`${DIR}/7`, 7, 7, WAITING)),
      clusterId,
    });
    const client = {};
    markRemovedHere(client, 'c1', `${DIR}/5`, 5);
    markRemovedHere(client, 'c1', `${DIR}/6`, 6);
    markRemovedHere(client, 'c1', `${DIR}/8`, 8); // ours, behind the event's entry: never dropped by this rule
    const removed: RemovedHere = (clusterId, entry) =>
      isRemovedHere(client, clusterId, entry.key, entry.createdIndex);
    const learned = learn(listing, unmarked('c1'), MINE, removed);
    expect(keysOf(learned?.listing)).toEqual([`${DIR}/8`]);
    expect(learned?.trusted).toBe(false);
    // the same key names in another cluster are not known to be gone
    expect(keysOf(learn(listing, unmarked('c2'), MINE, removed)?.listing)).toEqual([
      `${DIR}/5`,
      `${DIR}/6`,
      `${DIR}/8`,
    ]);
  });

  it('knows a removal only through the same client, in the same cluster, of the same createdIndex', () => {
    const client = {};
    const other = {};
    markRemovedHere(client, 'c1', `${DIR}/5`, 5);
    expect(isRemovedHere(client, 'c1', `${DIR}/5`, 5)).toBe(true);
    expect(isRemovedHere(other, 'c1', `${DIR}/5`, 5)).toBe(false);
    expect(isRemovedHere(client, 'c2', `${DIR}/5`, 5)).toBe(false);
    // a key of that name made again (a named key, not an in-order one) is another key
    expect(isRemovedHere(client, 'c1', `${DIR}/5`, 50)).toBe(false);
    // a reply without a cluster id records nothing
    markRemovedHere(client, '', `${DIR}/6`, 6);
    expect(isRemovedHere(client, '', `${DIR}/6`, 6)).toBe(false);
  });

  it('a removal of a marked holder drops it and everything ahead of it (the hand-over shortcut)', () => {
    const event = reply('delete', node(`${DIR}/7`, 7, 31), node(`${DIR}/7`, 7, 25, HELD));
    const learned = learn(listing, event, MINE);
    expect(keysOf(learned?.listing)).toEqual([`${DIR}/8`]);
    expect(learned?.trusted).toBe(true);
  });

  it('a mark-held write tells that everything ahead of the holder is gone', () => {
    const event = reply('compareAndSwap', node(`${DIR}/7`, 7, 25, HELD), node(`${DIR}/7`, 7, 7, WAITING));
    const learned = learn(listing, event, MINE);
    expect(keysOf(learned?.listing)).toEqual([`${DIR}/7`, `${DIR}/8`]);
    expect(learned?.trusted).toBe(true);
    expect(learned?.seen).toEqual({ key: `${DIR}/7`, index: 25 });
  });

  it('cannot interpret other events: a change without the mark, a key behind ours or unknown, no event', () => {
    expect(learn(listing, reply('compareAndSwap', node(`${DIR}/7`, 7, 25, WAITING)), MINE)).toBeUndefined();
    expect(learn(listing, reply('delete', node(`${DIR}/8`, 8, 25)), MINE)).toBeUndefined();
    expect(learn(listing, reply('create', node(`${DIR}/40`, 40, 40)), MINE)).toBeUndefined();
    expect(learn(listing, undefined, MINE)).toBeUndefined();
  });
});

describe('watchFrom: where a waiter watches its blocker from', () => {
  it('the read index, or past the last event seen on that key (or below that directory, recursively)', () => {
    const seen = { key: `${DIR}/7`, index: 30 };
    expect(watchFrom(listing, undefined, { key: `${DIR}/7` })).toBe(20);
    expect(watchFrom(listing, seen, { key: `${DIR}/7` })).toBe(30);
    // another key: its events since the read must not be skipped
    expect(watchFrom(listing, seen, { key: `${DIR}/6` })).toBe(20);
    // the whole queue: the event seen was the first below it after the read
    expect(watchFrom(listing, seen, { key: DIR, recursive: true })).toBe(30);
    expect(watchFrom(listing, seen, { key: DIR })).toBe(20);
    expect(watchFrom(listing, { key: '/qq/1', index: 30 }, { key: DIR, recursive: true })).toBe(20);
  });
});

/** A ticket at /q/8 on a fake keys object, its create answered at once. */
async function ticketOnFake(): Promise<{ keys: FakeKeys; session: Session; ticket: QueueTicket }> {
  const keys = new FakeKeys();
  keys.onCall((call) => {
    if (call.method === 'createInOrder')
      call.reply.resolve(reply('create', node(`${DIR}/8`, 8, 8, call.value)));
  });
  const session = new Session(keys.api, { ttl: 30 });
  const ticket = await QueueTicket.enqueue(session, DIR, {}, undefined);
  keys.onCall(() => {});
  return { keys, session, ticket };
}

describe('mark-held and release: a release never waits for the mark-held write', () => {
  it('a release right after the grant sends one delete and no mark', async () => {
    const { keys, session, ticket } = await ticketOnFake();
    ticket.markHeld();
    const removed = ticket.remove();
    await settle();
    expect(keys.of('set')).toEqual([]);
    const [del] = keys.of('delete');
    expect(del?.options).toMatchObject({ prevIndex: 8 });
    del!.reply.resolve(reply('compareAndDelete', node(`${DIR}/8`, 8, 9)));
    await removed;
    expect(keys.calls.map((c) => c.method)).toEqual(['createInOrder', 'delete']);
    expect(ticket.kept.signal.aborted).toBe(false);
    await session.close();
  });

  it('with the mark in flight, the delete goes out at once and the mark is abandoned; a 101 (the mark landed first) reads the key and deletes it by the index read', async () => {
    const { keys, session, ticket } = await ticketOnFake();
    ticket.markHeld();
    await settle();
    const [mark] = keys.of('set');
    expect(mark?.options).toMatchObject({ prevIndex: 8, retrySafe: true });
    expect(JSON.parse(mark!.value!)).toMatchObject({ held: true });
    const removed = ticket.remove();
    await settle();
    // not waiting for the mark's reply: its request is abandoned
    expect((mark!.options.signal as AbortSignal).aborted).toBe(true);
    const [first] = keys.of('delete');
    expect(first?.options).toMatchObject({ prevIndex: 8, retrySafe: true });
    first!.reply.reject(etcdError(101));
    await settle();
    const [read] = keys.of('get');
    expect(read?.options).toMatchObject({ quorum: true });
    read!.reply.resolve(reply('get', node(`${DIR}/8`, 8, 12, mark!.value)));
    await settle();
    const second = keys.of('delete')[1];
    expect(second?.options).toMatchObject({ prevIndex: 12 });
    second!.reply.resolve(reply('compareAndDelete', node(`${DIR}/8`, 8, 13)));
    await removed;
    expect(ticket.kept.signal.aborted).toBe(false);
    await session.close();
  });

  it('a rewrite right after the grant (a proclaim) drops the mark-held write not sent yet: one write, held, with the new value', async () => {
    const { keys, session, ticket } = await ticketOnFake();
    ticket.markHeld();
    const rewriting = ticket.rewrite({ value: 'proclaimed' });
    await settle();
    const writes = keys.of('set');
    expect(writes).toHaveLength(1);
    expect(JSON.parse(writes[0]!.value!)).toMatchObject({ value: 'proclaimed', held: true });
    expect(writes[0]!.options).toMatchObject({ prevIndex: 8, retrySafe: true });
    writes[0]!.reply.resolve(reply('compareAndSwap', node(`${DIR}/8`, 8, 9, writes[0]!.value)));
    await rewriting;
    await settle();
    expect(keys.of('set')).toHaveLength(1);
    await session.close();
  });

  it('with the mark in flight, a delete that lands first wins; the mark then fails and that is no loss', async () => {
    const { keys, session, ticket } = await ticketOnFake();
    ticket.markHeld();
    await settle();
    const [mark] = keys.of('set');
    const removed = ticket.remove();
    await settle();
    keys.of('delete')[0]!.reply.resolve(reply('compareAndDelete', node(`${DIR}/8`, 8, 9)));
    await removed;
    mark!.reply.reject(etcdError(100));
    await settle();
    expect(ticket.kept.signal.aborted).toBe(false);
    expect(keys.of('delete')).toHaveLength(1);
    await session.close();
  });

  it('a release answered 100 (the other copy, sent to another member at once, was applied first) is done, and its key known removed here, with the cluster id of the create', async () => {
    const keys = new FakeKeys();
    keys.onCall((call) => {
      if (call.method === 'createInOrder')
        call.reply.resolve({ ...reply('create', node(`${DIR}/8`, 8, 8, call.value)), clusterId: 'c9' });
    });
    const session = new Session(keys.api, { ttl: 30 });
    const ticket = await QueueTicket.enqueue(session, DIR, {}, undefined);
    keys.onCall(() => {});
    const removed = ticket.remove();
    await settle();
    const [del] = keys.of('delete');
    expect(del?.options).toMatchObject({ prevIndex: 8, retrySafe: true, fanOut: 2 });
    del!.reply.reject(etcdError(100));
    await removed;
    expect(keys.of('delete')).toHaveLength(1);
    expect(isRemovedHere(keys.api, 'c9', `${DIR}/8`, 8)).toBe(true);
    await session.close();
  });

  it('a 101 not explained by our own write reads the key, and never deletes a key of another createdIndex', async () => {
    const { keys, session, ticket } = await ticketOnFake();
    const removed = ticket.remove();
    await settle();
    keys.of('delete')[0]!.reply.reject(etcdError(101));
    await settle();
    const [read] = keys.of('get');
    expect(read?.options).toMatchObject({ quorum: true });
    read!.reply.resolve(reply('get', node(`${DIR}/8`, 50, 51)));
    await removed;
    expect(keys.of('delete')).toHaveLength(1);
    await session.close();
  });

  it('a 101 not explained by our own write, on our key still: deletes with the index read', async () => {
    const { keys, session, ticket } = await ticketOnFake();
    const removed = ticket.remove();
    await settle();
    keys.of('delete')[0]!.reply.reject(etcdError(101));
    await settle();
    keys.of('get')[0]!.reply.resolve(reply('get', node(`${DIR}/8`, 8, 17)));
    await settle();
    const second = keys.of('delete')[1];
    expect(second?.options).toMatchObject({ prevIndex: 17 });
    second!.reply.resolve(reply('compareAndDelete', node(`${DIR}/8`, 8, 18)));
    await removed;
    await session.close();
  });
});

describe('listQueueAfter: the read after a removal ahead', () => {
  /** The directory read every test of this block answers with, at `index`. */
  const readAt = (index: number): Response =>
    dirReply(DIR, index, node(`${DIR}/9`, 9, 9), node(`${DIR}/7`, 7, 7));

  it('is a local read when it reached the event index, in creation order', async () => {
    const keys = new FakeKeys();
    keys.onCall((call) => call.reply.resolve(readAt(30)));
    const listing = await listQueueAfter(keys.api, DIR, 30);
    expect(keys.calls.map((c) => c.options.quorum)).toEqual([undefined]);
    expect(listing).toMatchObject({ index: 30, entries: [{ key: `${DIR}/7` }, { key: `${DIR}/9` }] });
  });

  it('falls back to a quorum read when the member answering lags behind the event', async () => {
    const keys = new FakeKeys();
    keys.onCall((call) => call.reply.resolve(readAt(call.options.quorum ? 31 : 29)));
    const listing = await listQueueAfter(keys.api, DIR, 30);
    expect(keys.calls.map((c) => c.options.quorum)).toEqual([undefined, true]);
    expect(listing.index).toBe(31);
  });
});

describe('waitUntil: a wait that ends without an event (error 401)', () => {
  const watchersOf = (keys: FakeKeys, key: string) => keys.watchers.filter((w) => w.key === key);

  it("the hand-over shortcut: a mark-held event moves the watch past it, and the marked holder's delete grants without a read", async () => {
    const { keys, session, ticket } = await ticketOnFake();
    const granted = ticket.waitUntil(predecessor);
    await settle();
    keys
      .of('get')[0]!
      .reply.resolve(dirReply(DIR, 20, node(`${DIR}/5`, 5, 5, WAITING), node(`${DIR}/8`, 8, 8, WAITING)));
    await settle();
    const [first] = watchersOf(keys, `${DIR}/5`);
    expect(first?.afterIndex).toBe(20);
    first!.push(reply('compareAndSwap', node(`${DIR}/5`, 5, 30, HELD), node(`${DIR}/5`, 5, 5, WAITING)));
    await settle();
    // the mark told nothing to wait for less: the watch goes on from the mark's index, not the read's
    const second = watchersOf(keys, `${DIR}/5`)[1];
    expect(second?.afterIndex).toBe(30);
    second!.push(reply('delete', node(`${DIR}/5`, 5, 31), node(`${DIR}/5`, 5, 30, HELD)));
    const listing = await granted;
    expect(listing.entries.map((entry) => entry.key)).toEqual([`${DIR}/8`]);
    expect(keys.of('get').map((call) => call.key)).toEqual([DIR]);
    expect(ticket.handoffFrom).toBe(`${DIR}/5`);
    await session.close();
  });

  it('an abort that comes with the event which would grant ends the wait: no grant', async () => {
    const { keys, session, ticket } = await ticketOnFake();
    const controller = new AbortController();
    const granted = ticket.waitUntil(predecessor, controller.signal);
    await settle();
    keys
      .of('get')[0]!
      .reply.resolve(dirReply(DIR, 20, node(`${DIR}/5`, 5, 5, HELD), node(`${DIR}/8`, 8, 8, WAITING)));
    await settle();
    watchersOf(keys, `${DIR}/5`)[0]!.push(
      reply('delete', node(`${DIR}/5`, 5, 31), node(`${DIR}/5`, 5, 5, HELD)),
    );
    controller.abort(new Error('given up'));
    await expect(granted).rejects.toThrow('given up');
    await session.close();
  });

  it('reads only the key it waits on while that key is there, and waits on from that read: no queue read', async () => {
    const { keys, session, ticket } = await ticketOnFake();
    const granted = ticket.waitUntil(predecessor);
    await settle();
    const [queueRead] = keys.of('get');
    expect(queueRead?.key).toBe(DIR);
    queueRead!.reply.resolve(
      dirReply(DIR, 20, node(`${DIR}/5`, 5, 5, WAITING), node(`${DIR}/8`, 8, 8, WAITING)),
    );
    await settle();
    const [first] = watchersOf(keys, `${DIR}/5`);
    expect(first?.afterIndex).toBe(20);
    first!.fail(etcdError(401, 1200));
    await settle();
    const keyRead = keys.of('get')[1];
    expect(keyRead?.key).toBe(`${DIR}/5`);
    expect(keyRead?.options).toMatchObject({ quorum: true });
    keyRead!.reply.resolve({ ...reply('get', node(`${DIR}/5`, 5, 900, WAITING)), index: 1300 });
    await settle();
    const second = watchersOf(keys, `${DIR}/5`)[1];
    expect(second?.afterIndex).toBe(1300);
    second!.push(reply('delete', node(`${DIR}/5`, 5, 1310), node(`${DIR}/5`, 5, 900, WAITING)));
    const listing = await granted;
    expect(listing.entries.map((entry) => entry.key)).toEqual([`${DIR}/8`]);
    expect(keys.of('get').map((call) => call.key)).toEqual([DIR, `${DIR}/5`]);
    await session.close();
  });

  it('reads the whole queue when the target may wake on a change a read cannot show (a semaphore touch)', async () => {
    const { keys, session, ticket } = await ticketOnFake();
    const granted = ticket.waitUntil((entries, mine) =>
      mine === 0 ? undefined : { key: entries[mine - 1]!.key },
    );
    await settle();
    keys.of('get')[0]!.reply.resolve(dirReply(DIR, 20, node(`${DIR}/5`, 5, 5), node(`${DIR}/8`, 8, 8)));
    await settle();
    watchersOf(keys, `${DIR}/5`)[0]!.fail(etcdError(401, 1200));
    await settle();
    const again = keys.of('get')[1];
    expect(again?.key).toBe(DIR);
    again!.reply.resolve(dirReply(DIR, 1300, node(`${DIR}/8`, 8, 8)));
    expect((await granted).entries.map((entry) => entry.key)).toEqual([`${DIR}/8`]);
    await session.close();
  });

  it('reads the whole queue again when the key it waits on is gone', async () => {
    const { keys, session, ticket } = await ticketOnFake();
    const granted = ticket.waitUntil(predecessor);
    await settle();
    keys.of('get')[0]!.reply.resolve(dirReply(DIR, 20, node(`${DIR}/5`, 5, 5), node(`${DIR}/8`, 8, 8)));
    await settle();
    watchersOf(keys, `${DIR}/5`)[0]!.fail(etcdError(401, 1200));
    await settle();
    keys.of('get')[1]!.reply.reject(etcdError(100, 1300));
    await settle();
    const again = keys.of('get')[2];
    expect(again?.key).toBe(DIR);
    again!.reply.resolve(dirReply(DIR, 1300, node(`${DIR}/8`, 8, 8)));
    expect((await granted).entries.map((entry) => entry.key)).toEqual([`${DIR}/8`]);
    await session.close();
  });
});

describe('orRemove: a failed wait removes its key, and a lost one does not wait for that', () => {
  it('a wait failed by the key loss rejects before its delete answers; an abort waits for the delete', async () => {
    {
      const { keys, session, ticket } = await ticketOnFake();
      const lost = new Promise<never>((_, reject) =>
        ticket.kept.signal.addEventListener('abort', () => reject(ticket.kept.signal.reason), { once: true }),
      );
      const waiting = orRemove(ticket, () => lost).catch((error: unknown) => error);
      ticket.kept.lose('etcd out of reach past the validity deadline');
      // told while the delete has no answer (etcd out of reach: its attempts could take seconds)
      expect(await waiting).toBeInstanceOf(SessionLostError);
      expect(keys.of('delete')).toHaveLength(1);
      keys.of('delete')[0]!.reply.resolve(reply('compareAndDelete', node(`${DIR}/8`, 8, 9)));
      await session.close();
    }
    {
      const { keys, session, ticket } = await ticketOnFake();
      const reason = new Error('caller gave up');
      let settled = false;
      const waiting = orRemove(ticket, () => Promise.reject(reason)).catch((error: unknown) => {
        settled = true;
        return error;
      });
      await settle();
      expect(keys.of('delete')).toHaveLength(1);
      expect(settled).toBe(false);
      keys.of('delete')[0]!.reply.resolve(reply('compareAndDelete', node(`${DIR}/8`, 8, 9)));
      expect(await waiting).toBe(reason);
      await session.close();
    }
  }, 5000);

  it('a key lost or closed between the grant and the return is not handed out: rejects and removes it', async () => {
    const { keys, session, ticket } = await ticketOnFake();
    keys.onCall((call) => {
      if (call.method === 'delete') call.reply.resolve(reply('compareAndDelete', node(`${DIR}/8`, 8, 9)));
    });
    const granted = orRemove(ticket, async () => {
      await session.close(); // lands after the grant
      return 'granted';
    });
    await expect(granted).rejects.toMatchObject({ name: 'ReleasedError', how: 'closed' });
    expect(keys.of('delete')).toHaveLength(1);
  });
});
