/**
 * A registry cache follows its service again after etcd refuses a read of it (the follow ends on etcd's own
 * error): it does not freeze on the last instances it knew. Fake keys: which etcd error a real cluster gives
 * here (a permission taken away) needs auth set up; the loop's logic is what is checked.
 */
import type { Node } from '@etcdkit/client';
import { describe, expect, it } from 'vitest';
import { ServiceRegistry } from '../../src/registry.js';
import { dirReply, etcdError, FakeKeys, settle } from './fake-keys.js';

function instanceNode(id: string, index: number): Node {
  const value = JSON.stringify({ id, service: 'api', address: `10.0.0.${index}` });
  return { key: `/svc/api/${id}`, dir: false, value, createdIndex: index, modifiedIndex: index };
}

function serviceReply(index: number, ids: string[]) {
  return dirReply('/svc/api', index, ...ids.map((id, i) => instanceNode(id, i + 1)));
}

describe('ServiceCache', () => {
  it('follows again, from a read, after etcd refused a read', async () => {
    const keys = new FakeKeys();
    const answers = [
      () => serviceReply(5, ['a']),
      () => Promise.reject(etcdError(110, 6)),
      () => serviceReply(8, ['a', 'b']),
    ];
    let reads = 0;
    keys.onCall((call) => {
      if (call.method !== 'get') return;
      const answer = answers[Math.min(reads++, answers.length - 1)]!();
      if (answer instanceof Promise) answer.catch((error: unknown) => call.reply.reject(error));
      else call.reply.resolve(answer);
    });
    const registry = new ServiceRegistry(keys, '/svc');
    const cache = registry.cache('api');
    await cache.ready();
    expect(cache.instances().map((instance) => instance.id)).toEqual(['a']);
    await settle();
    // the watch from the first read fails with 401: the follow reads again, and etcd refuses it
    keys.watchers[0]!.fail(etcdError(401, 6));
    await settle();
    expect(reads).toBe(2);
    // after the pause, the cache follows again from a new read, and sees the instance added meanwhile
    await new Promise((resolve) => setTimeout(resolve, 150));
    await settle();
    expect(reads).toBe(3);
    expect(cache.instances().map((instance) => instance.id)).toEqual(['a', 'b']);
    cache.close();
  });
});
