/**
 * DoubleBarrier.enter with fake keys: who writes the ready flag, and a member whose own key vanishes while it
 * waits is told at once (a chaos run's case: a member key applied late during a leader stall had expired).
 * What real etcd does with these requests is the integration tests' part (`more-recipes.test.ts`).
 */
import type { Node, Response } from '@etcdkit/client';
import { describe, expect, it } from 'vitest';
import { DoubleBarrier, TooManyMembersError } from '../../src/double-barrier.js';
import { SessionExpiredError } from '../../src/errors.js';
import { etcdError, FakeKeys, node, outcomeOf, reply, settle, soon } from './fake-keys.js';

const DIR = '/b';
const MEMBERS = `${DIR}/members`;
const OURS = `${MEMBERS}/8`;
const OTHER = `${MEMBERS}/5`;

/** The quorum read of the barrier: its member keys, and the ready flag when `ready`. */
function barrierRead(index: number, members: Node[], ready = false): Response {
  const nodes: Node[] = [
    { key: MEMBERS, dir: true, value: '', createdIndex: 2, modifiedIndex: 2, nodes: members },
  ];
  if (ready) nodes.push(node(`${DIR}/ready`, 3, 3, 'ready'));
  return {
    action: 'get',
    node: { key: DIR, dir: true, value: '', createdIndex: 1, modifiedIndex: 1, nodes },
    index,
    clusterId: '',
  };
}

/**
 * Fake keys whose in-order create makes this member's key (index 8), whose deletes and ready flag writes
 * succeed, and whose re-read of a key (a loss watch's) finds it gone (a 100).
 */
function barrierKeys(): FakeKeys {
  const keys = new FakeKeys();
  keys.onCall((call) => {
    if (call.method === 'resync') call.reply.reject(etcdError(100, 21));
    if (call.method === 'createInOrder') call.reply.resolve(reply('create', node(OURS, 8, 8, call.value)));
    if (call.method === 'delete') call.reply.resolve(reply('compareAndDelete', node(call.key, 8, 50)));
    if (call.method === 'set' && call.key === `${DIR}/ready`)
      call.reply.resolve(reply('set', node(call.key, 60, 60, 'ready')));
  });
  return keys;
}

/** The quorum reads of the barrier directory so far. */
const reads = (keys: FakeKeys) => keys.of('get').filter((call) => call.key === DIR);

/**
 * A member that found itself alone in a barrier of 2 and now waits on the barrier's watch; `entering` is its
 * enter() outcome (see {@link outcomeOf}).
 */
async function waitingAlone(keys: FakeKeys, barrier: DoubleBarrier): Promise<{ entering: Promise<unknown> }> {
  const entering = outcomeOf(barrier.enter(), 'entered');
  await settle();
  reads(keys)[0]!.reply.resolve(barrierRead(9, [node(OURS, 8, 8, '{}')]));
  await settle();
  return { entering };
}

describe('DoubleBarrier.enter', () => {
  it('the member that sees `count` live members writes the ready flag (TTL twice the session’s), then passes', async () => {
    const keys = barrierKeys();
    await using barrier = new DoubleBarrier(keys.api, DIR, 2, { ttl: 2 });
    const entering = outcomeOf(barrier.enter(), 'entered');
    await settle();
    reads(keys)[0]!.reply.resolve(barrierRead(9, [node(OTHER, 5, 5, '{}'), node(OURS, 8, 8, '{}')]));
    expect(await entering).toBe('entered');
    const flag = keys.of('set').filter((call) => call.key === `${DIR}/ready`);
    expect(flag).toHaveLength(1);
    expect(flag[0]!.options.ttl).toBe(4);
  });

  it('a member that finds the ready flag passes without writing it', async () => {
    const keys = barrierKeys();
    await using barrier = new DoubleBarrier(keys.api, DIR, 2, { ttl: 2 });
    const entering = outcomeOf(barrier.enter(), 'entered');
    await settle();
    reads(keys)[0]!.reply.resolve(barrierRead(9, [node(OURS, 8, 8, '{}')], true));
    expect(await entering).toBe('entered');
    expect(keys.of('set').filter((call) => call.key === `${DIR}/ready`)).toHaveLength(0);
  });

  it('a member past the count is refused with TooManyMembersError, and its key removed', async () => {
    const keys = barrierKeys();
    await using barrier = new DoubleBarrier(keys.api, DIR, 1, { ttl: 2 });
    const entering = outcomeOf(barrier.enter(), 'entered');
    await settle();
    reads(keys)[0]!.reply.resolve(barrierRead(9, [node(OTHER, 5, 5, '{}'), node(OURS, 8, 8, '{}')]));
    expect(await entering).toBeInstanceOf(TooManyMembersError);
    expect(keys.of('delete').map((call) => call.key)).toContain(OURS);
  });

  it('waits on a watch of the barrier, and passes on the event that completes the count, reading nothing more', async () => {
    const keys = barrierKeys();
    await using barrier = new DoubleBarrier(keys.api, DIR, 2, { ttl: 2 });
    const { entering } = await waitingAlone(keys, barrier);
    const watch = keys.watchers.find((watcher) => watcher.key === DIR)!;
    expect(watch.afterIndex).toBe(9);
    watch.push(reply('create', node(`${MEMBERS}/12`, 12, 12, '{}')));
    expect(await entering).toBe('entered');
    expect(reads(keys)).toHaveLength(1);
    expect(keys.of('set').filter((call) => call.key === `${DIR}/ready`)).toHaveLength(1);
  });

  it('a waiting member whose key the barrier watch sees expire is told at once with SessionExpiredError', async () => {
    const keys = barrierKeys();
    await using barrier = new DoubleBarrier(keys.api, DIR, 2, { ttl: 2 });
    const { entering } = await waitingAlone(keys, barrier);
    const watch = keys.watchers.find((watcher) => watcher.key === DIR)!;
    watch.push(reply('expire', node(OURS, 8, 20), node(OURS, 8, 8, '{}')));
    expect(await soon(entering)).toBeInstanceOf(SessionExpiredError);
    // out of the barrier: it never opens it for the others
    expect(keys.of('set').filter((call) => call.key === `${DIR}/ready`)).toHaveLength(0);
  });

  it('a waiting member whose key its own loss watch sees deleted is told at once, with no event on the barrier', async () => {
    const keys = barrierKeys();
    await using barrier = new DoubleBarrier(keys.api, DIR, 2, { ttl: 2 });
    const { entering } = await waitingAlone(keys, barrier);
    const own = keys.watchers.find((watcher) => watcher.key === OURS);
    expect(own).toBeDefined();
    own!.push(reply('delete', node(OURS, 8, 21), node(OURS, 8, 8, '{}')));
    expect(await soon(entering)).toBeInstanceOf(SessionExpiredError);
  });
});
