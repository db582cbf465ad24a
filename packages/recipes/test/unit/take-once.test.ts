/**
 * `takeOnce` (what `Queue.take` removes an item with) against fake keys: a claim, then a compare-and-delete sent
 * again until its outcome is known, so that a lost reply neither loses the item nor gives it to two takers.
 */

import { ClientClosedError } from '@etcdkit/client';
import { describe, expect, it } from 'vitest';
import {
  CLAIM_TRUSTED_MS,
  CLAIM_TTL_S,
  CLAIM_USE_MS,
  claimKeyOf,
  LISTING_FRESH_MS,
  takeOnce,
} from '../../src/core/take-once.js';
import { type Call, etcdError, FakeKeys, node, reply, settle } from './fake-keys.js';

const KEY = '/q/00000000000000000007';
const CLAIM = '/q/_claims/00000000000000000007';

/** A reply lost on the way back (what the client throws when no answer came: not an etcd error). */
const lost = (): Error => new Error('socket hang up');

/**
 * Fake keys that answer each call with the next of `answers` for its method (a value: a success; an Error: that
 * rejection). The claim's value is the token of the claim create, unless a `get` answer names another.
 */
function keysAnswering(answers: Partial<Record<Call['method'], (Error | string)[]>>): FakeKeys {
  const keys = new FakeKeys();
  keys.onCall((call) => {
    const answer = answers[call.method]?.shift();
    if (answer instanceof Error) call.reply.reject(answer);
    else if (call.method === 'get') {
      const token = answer ?? keys.of('create')[0]?.value ?? '';
      call.reply.resolve(reply('get', node(CLAIM, 8, 8, token)));
    } else call.reply.resolve(reply(call.method, node(call.key, 8, 8, call.value ?? '')));
  });
  return keys;
}

describe('takeOnce', () => {
  it('claims the key (hidden, with a TTL), deletes it on its index, and leaves the claim to lapse', async () => {
    const keys = keysAnswering({});
    expect(await takeOnce(keys, KEY, 7, performance.now())).toBe('taken');
    expect(claimKeyOf(KEY)).toBe(CLAIM);
    const [create] = keys.of('create');
    expect(create).toMatchObject({ key: CLAIM, options: { ttl: CLAIM_TTL_S } });
    expect(create!.value).toMatch(/^[0-9a-f-]{36}$/);
    await settle();
    // not deleted: a taker with an older listing must not be able to claim a key that is gone (see below)
    expect(keys.of('delete')).toMatchObject([{ key: KEY, options: { prevIndex: 7 } }]);
    expect(keys.of('get')).toEqual([]);
  });

  it('a claim that exists is another taker’s: nothing deleted', async () => {
    const keys = keysAnswering({ create: [etcdError(105)] });
    expect(await takeOnce(keys, KEY, 7, performance.now())).toBe('claimed');
    expect(keys.of('delete')).toEqual([]);
  });

  it('a claim whose reply was lost is read back: applied, it is this call’s; another’s token, not', async () => {
    const keys = keysAnswering({ create: [lost()] });
    expect(await takeOnce(keys, KEY, 7, performance.now())).toBe('taken');
    expect(keys.of('get')).toMatchObject([{ key: CLAIM, options: { quorum: true } }]);
    const other = keysAnswering({ create: [lost()], get: ['someone-else'] });
    expect(await takeOnce(other, KEY, 7, performance.now())).toBe('claimed');
    expect(other.of('delete')).toEqual([]);
  });

  it('a claim whose reply was lost and which is not there: the failure passes on, and no delete', async () => {
    const keys = keysAnswering({ create: [lost()], get: [etcdError(100)] });
    await expect(takeOnce(keys, KEY, 7, performance.now())).rejects.toThrow('socket hang up');
    expect(keys.of('delete')).toEqual([]);
  });

  it('a delete whose reply was lost is sent again; a 100 then is this call’s take', async () => {
    const keys = keysAnswering({ delete: [lost(), etcdError(100)] });
    expect(await takeOnce(keys, KEY, 7, performance.now())).toBe('taken');
    expect(keys.of('delete').filter((call) => call.key === KEY)).toHaveLength(2);
  });

  it('a 101 (changed: not deleted by anyone), or a 100 with no lost reply before, is not this call’s', async () => {
    const changed = keysAnswering({ delete: [lost(), etcdError(101)] });
    expect(await takeOnce(changed, KEY, 7, performance.now())).toBe('gone');
    // the key is still there: its claim goes at once, so that no taker waits for it to lapse
    await settle();
    expect(changed.of('delete').map((call) => call.key)).toEqual([KEY, KEY, CLAIM]);
    const plain = keysAnswering({ delete: [etcdError(100)] });
    expect(await takeOnce(plain, KEY, 7, performance.now())).toBe('gone');
    await settle();
    expect(plain.of('delete').map((call) => call.key)).toEqual([KEY]);
  });

  it('a 100 after a lost reply on a claim confirmed long after the listing is left in doubt, not taken', async () => {
    // another taker may have taken the key after that listing, and its claim lapsed since
    const late = keysAnswering({ delete: [lost(), etcdError(100)] });
    expect(await takeOnce(late, KEY, 7, performance.now() - CLAIM_TRUSTED_MS - 1)).toBe('gone');
  });

  it('an abort rejects with its reason; etcd’s other refusals and a closed client pass on', async () => {
    const controller = new AbortController();
    const keys = keysAnswering({ delete: [lost(), lost(), lost()] });
    const taking = takeOnce(keys, KEY, 7, performance.now(), controller.signal);
    controller.abort(new Error('stop'));
    await expect(taking).rejects.toThrow('stop');
    const refused = keysAnswering({ create: [etcdError(110)] });
    await expect(takeOnce(refused, KEY, 7, performance.now())).rejects.toMatchObject({ errorCode: 110 });
    const closed = keysAnswering({ delete: [new ClientClosedError()] });
    await expect(takeOnce(closed, KEY, 7, performance.now())).rejects.toBeInstanceOf(ClientClosedError);
    expect(closed.of('delete')).toHaveLength(1 + 1); // no repeat; the claim's delete
  });

  it('a claim holds longer than its taker accepts replies, and a listing is claimed from before it is trusted', () => {
    // a reply accepted by one taker was made while its claim held; a key deleted after a listing cannot be
    // claimed again within CLAIM_TRUSTED_MS of it
    expect(CLAIM_USE_MS + CLAIM_TRUSTED_MS).toBeLessThanOrEqual(CLAIM_TTL_S * 1000);
    expect(LISTING_FRESH_MS).toBeLessThan(CLAIM_TRUSTED_MS);
  });
});
