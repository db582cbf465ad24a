/**
 * Election.campaign and its Term with fake keys: a candidate watches only its predecessor; a resign is told as
 * a resign, never as a loss, and a loss stays a loss. Real etcd's part is in `election.test.ts` (integration).
 */
import { describe, expect, it } from 'vitest';
import { Election } from '../../src/election.js';
import { ReleasedError, SessionLostError } from '../../src/errors.js';
import { dirReply, etcdError, FakeKeys, node, reply, settle } from './fake-keys.js';

const DIR = '/e';
const OURS = `${DIR}/8`;
const AHEAD = `${DIR}/5`;

/**
 * Fake keys whose in-order create makes the candidate's key (index 8), whose writes and deletes of it succeed,
 * and whose re-read of a key (a loss watch's) finds it gone (a 100).
 */
function electionKeys(): FakeKeys {
  const keys = new FakeKeys();
  let index = 20;
  keys.onCall((call) => {
    if (call.method === 'createInOrder') call.reply.resolve(reply('create', node(OURS, 8, 8, call.value)));
    if (call.method === 'set' && call.key === OURS && !call.options.refresh)
      call.reply.resolve(reply('compareAndSwap', node(OURS, 8, ++index, call.value)));
    if (call.method === 'delete') call.reply.resolve(reply('compareAndDelete', node(call.key, 8, ++index)));
    if (call.method === 'resync') call.reply.reject(etcdError(100, ++index));
  });
  return keys;
}

/** A candidate first in line: campaign() and its one read answered. */
async function leading(keys: FakeKeys, election: Election) {
  const campaigning = election.campaign('me');
  await settle();
  keys.of('get')[0]!.reply.resolve(dirReply(DIR, 9, node(OURS, 8, 8, '{"value":"me"}')));
  return campaigning;
}

describe('Election.campaign', () => {
  it('a candidate behind another watches only the one ahead, and leads on its removal without reading again', async () => {
    const keys = electionKeys();
    await using election = new Election(keys.api, DIR, { ttl: 2 });
    const campaigning = election.campaign('me');
    await settle();
    keys
      .of('get')[0]!
      .reply.resolve(
        dirReply(DIR, 9, node(AHEAD, 5, 5, '{"value":"them"}'), node(OURS, 8, 8, '{"value":"me"}')),
      );
    await settle();
    const ahead = keys.watchers.filter((watcher) => watcher.key === AHEAD);
    expect(ahead).toHaveLength(1);
    expect(keys.watchers.some((watcher) => watcher.key === DIR)).toBe(false);
    ahead[0]!.push(reply('delete', node(AHEAD, 5, 12), node(AHEAD, 5, 5, '{"value":"them"}')));
    const term = await campaigning;
    expect(term.key).toBe(OURS);
    expect(term.fencingToken).toBe(8);
    expect(keys.of('get')).toHaveLength(1);
  });
});

describe('Term', () => {
  it('resign() aborts the signal with a ReleasedError (resigned), deletes the key, and refuses proclaim', async () => {
    const keys = electionKeys();
    await using election = new Election(keys.api, DIR, { ttl: 2 });
    const term = await leading(keys, election);
    await term.resign();
    expect(term.signal.reason).toBeInstanceOf(ReleasedError);
    expect(term.signal.reason).toMatchObject({ how: 'resigned' });
    expect(term.signal.reason).not.toBeInstanceOf(SessionLostError);
    expect(term.valid).toBe(false);
    expect(keys.of('delete').map((call) => call.key)).toEqual([OURS]);
    await expect(term.proclaim('again')).rejects.toBe(term.signal.reason);
  });

  it('a term whose key is deleted by someone else is lost at once, and a resign after keeps the loss', async () => {
    const keys = electionKeys();
    await using election = new Election(keys.api, DIR, { ttl: 2 });
    const term = await leading(keys, election);
    await settle();
    keys.watchers.find((watcher) => watcher.key === OURS)!.push(reply('delete', node(OURS, 8, 30)));
    await settle();
    expect(term.signal.reason).toBeInstanceOf(SessionLostError);
    await term.resign();
    expect(term.signal.reason).toBeInstanceOf(SessionLostError);
  });
});
