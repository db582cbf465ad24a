import { sharedClusterEndpoints, uniqueKeyPrefix } from '@etcdkit/testkit/vitest';
import { describe, expect, it } from 'vitest';
import { Lock } from '../../src/index.js';
import { keysFactory } from './helpers.js';
import { replyDroppingProxy } from './reply-dropping-proxy.js';

const endpoints = sharedClusterEndpoints();
const keysAPI = keysFactory(() => endpoints);

describe('a create whose reply is lost', () => {
  it('is found again by its owner id, never duplicated, and the lock is acquired', async () => {
    const proxy = await replyDroppingProxy(new URL(endpoints[0]!));
    proxy.arm('POST '); // the create of the lock's queue entry
    try {
      const name = uniqueKeyPrefix('lost-reply');
      const lock = new Lock(keysAPI({ endpoints: [proxy.url] }), name, { ttl: 5 });
      const held = await lock.acquire({ signal: AbortSignal.timeout(10_000) });
      expect(proxy.dropped()).toBe(1);
      const listing = await keysAPI().get(name, { quorum: true });
      expect(listing.node?.nodes?.map((node) => node.key)).toEqual([held.key]);
      await held.release();
      await lock.close();
    } finally {
      proxy.close();
    }
  });
});
