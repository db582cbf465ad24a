import { Client, KeysAPI } from '@etcdkit/client';
import { sharedClusterEndpoints, uniqueKeyPrefix } from '@etcdkit/testkit/vitest';
import { afterAll, describe, expect, it } from 'vitest';
import { Election, Lock, Queue } from '../../src/index.js';
import { pinOrder } from './helpers.js';
import { replyDroppingProxy } from './reply-dropping-proxy.js';

const endpoints = sharedClusterEndpoints();

const clients: Client[] = [];
afterAll(async () => {
  for (const client of clients) await client.close();
});

/**
 * A client pinned to the proxy, with the other members behind it. `redundancy: false` sends a release to one
 * member at a time (not to the proxy and the next member at once), so that its reply is the one the proxy drops.
 */
function throughProxy(proxyURL: string, redundancy = true): KeysAPI {
  const order = [proxyURL, ...endpoints.slice(1)];
  const client = new Client({ endpoints: order, headerTimeoutPerRequest: 2000, redundancy });
  clients.push(client);
  pinOrder(client, order);
  return new KeysAPI(client);
}

function direct(): KeysAPI {
  const client = new Client({ endpoints });
  clients.push(client);
  return new KeysAPI(client);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A lock held through a proxy that then drops the reply of the release's delete (`redundancy`: whether the
 * release also goes to the next member at once). Returns how long the release took and how many replies the
 * proxy dropped, once another client has taken the lock after it (with a higher fencing token).
 */
async function releaseWithReplyLost(
  prefix: string,
  redundancy: boolean,
): Promise<{ ms: number; dropped: number }> {
  const proxy = await replyDroppingProxy(new URL(endpoints[0]!));
  const name = uniqueKeyPrefix(prefix);
  const lock = new Lock(throughProxy(proxy.url, redundancy), name, { ttl: 10 });
  try {
    const held = await lock.acquire({ signal: AbortSignal.timeout(10_000) });
    proxy.arm('DELETE ');
    const t0 = performance.now();
    await held.release();
    const ms = performance.now() - t0;
    const dropped = proxy.dropped();
    const next = await new Lock(direct(), name, { ttl: 10 }).acquire({ signal: AbortSignal.timeout(3000) });
    expect(next.fencingToken).toBeGreaterThan(held.fencingToken);
    await next.release();
    return { ms, dropped };
  } finally {
    await lock.close();
    proxy.close();
  }
}

describe('a repeated write that meets its own first attempt is not a conflict', () => {
  it('a refresh applied by etcd whose reply is lost: repeated on another member (101), the key is re-read and kept', async () => {
    const proxy = await replyDroppingProxy(new URL(endpoints[0]!));
    const lock = new Lock(throughProxy(proxy.url), uniqueKeyPrefix('ambiguous-refresh'), { ttl: 3 });
    try {
      const held = await lock.acquire({ signal: AbortSignal.timeout(10_000) });
      proxy.arm('refresh=true');
      // the first refresh is due a third of the TTL after the create; then two more TTLs of refreshes
      await sleep(1000 + 2 * 3000);
      expect(proxy.dropped()).toBe(1);
      expect(held.signal.aborted).toBe(false);
      const node = (await direct().get(held.key, { quorum: true })).node!;
      expect(node.createdIndex).toBe(held.fencingToken);
      await held.release();
      await expect(direct().get(held.key, { quorum: true })).rejects.toMatchObject({ errorCode: 100 });
    } finally {
      await lock.close();
      proxy.close();
    }
  });

  it('a release whose delete is applied but whose reply is lost: repeated (100), it is done at once', async () => {
    const { ms, dropped } = await releaseWithReplyLost('ambiguous-release', false);
    expect(dropped).toBe(1);
    // no wait for the TTL: one failed attempt, one repeat
    expect(ms).toBeLessThan(3000);
  });

  it('a release sent to two members, one of whose replies is lost: the other copy answers, it is done at once', async () => {
    const { ms } = await releaseWithReplyLost('ambiguous-release-fanned', true);
    // no repeat needed: the copy on the next member answers (its 200, or 100 when the proxied copy was first)
    expect(ms).toBeLessThan(1000);
  });

  it('a queue take whose delete is applied but whose reply is lost: repeated (100), the item is this taker’s, and no other', async () => {
    const proxy = await replyDroppingProxy(new URL(endpoints[0]!));
    const name = uniqueKeyPrefix('ambiguous-take');
    try {
      const producer = new Queue(direct(), name);
      await producer.put('first');
      await producer.put('second');
      proxy.arm('DELETE ');
      const taken = await new Queue(throughProxy(proxy.url, false), name).take({
        signal: AbortSignal.timeout(10_000),
      });
      expect(proxy.dropped()).toBe(1);
      // a take that had moved on to the next item would have lost the first one
      expect(taken.value).toBe('first');
      expect((await producer.take({ signal: AbortSignal.timeout(3000) })).value).toBe('second');
      expect(await producer.size()).toBe(0);
    } finally {
      proxy.close();
    }
  });

  it('a proclamation applied by etcd whose reply is lost: repeated (101), the key holds it, and the term goes on', async () => {
    const proxy = await replyDroppingProxy(new URL(endpoints[0]!));
    const name = uniqueKeyPrefix('ambiguous-proclaim');
    const election = new Election(throughProxy(proxy.url), name, { ttl: 10 });
    try {
      const term = await election.campaign('first', { signal: AbortSignal.timeout(10_000) });
      await sleep(200); // let the mark-held write go first
      proxy.arm('proclaimed-once');
      await term.proclaim('proclaimed-once');
      expect(proxy.dropped()).toBe(1);
      expect(term.signal.aborted).toBe(false);
      expect(await new Election(direct(), name).leader()).toMatchObject({
        key: term.key,
        value: 'proclaimed-once',
      });
      await term.proclaim('proclaimed-twice');
      expect(term.signal.aborted).toBe(false);
      await term.resign();
    } finally {
      await election.close();
      proxy.close();
    }
  });
});
