import { sharedClusterEndpoints, uniqueKeyPrefix } from '@etcdkit/testkit/vitest';
import { describe, expect, it } from 'vitest';
import { type ServiceChange, ServiceIdTakenError, ServiceRegistry } from '../../src/index.js';
import { keysFactory } from './helpers.js';

const endpoints = sharedClusterEndpoints();
const keysAPI = keysFactory(() => endpoints);

describe('ServiceRegistry on a real cluster', () => {
  it('registers, lists, watches added/updated/removed, and keeps instances alive past the TTL', async () => {
    const prefix = uniqueKeyPrefix('services');
    const registry = new ServiceRegistry(keysAPI(), prefix, { ttl: 2 });
    const consumer = new ServiceRegistry(keysAPI(), prefix, { ttl: 2 });
    const a = await registry.register({ service: 'api', id: 'a', address: '10.0.0.1', port: 80 });
    await expect(
      registry.register({ service: 'api', id: 'a', address: 'x', port: 1 }),
    ).rejects.toBeInstanceOf(ServiceIdTakenError);

    const changes: string[] = [];
    const controller = new AbortController();
    const watching = (async () => {
      for await (const change of consumer.watch('api', { signal: controller.signal })) {
        changes.push(describeChange(change));
      }
    })();
    await expect.poll(() => changes).toEqual(['added a']);
    const b = await registry.register({
      service: 'api',
      id: 'b',
      address: '10.0.0.2',
      port: 80,
      meta: { zone: 'x' },
    });
    await expect.poll(() => changes.at(-1)).toBe('added b');
    await b.update({ zone: 'y' });
    await expect.poll(() => changes.at(-1)).toBe('updated b zone=y');
    // past the TTL: refreshes keep both alive and wake no watcher
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect((await consumer.list('api')).map((i) => i.id)).toEqual(['a', 'b']);
    expect(changes).toHaveLength(3);
    const t0 = performance.now();
    await a.close();
    await expect.poll(() => changes.at(-1)).toBe('removed a');
    // seen by the close's delete, before the TTL (2 s) could have run out
    expect(performance.now() - t0).toBeLessThan(2000);
    controller.abort();
    await watching;
    await b.close();
    await registry.close();
    await consumer.close();
  });

  it('a cache picks round-robin and follows instances that come and go, a crashed one after its TTL', async () => {
    const prefix = uniqueKeyPrefix('cache');
    const keys = keysAPI();
    const registry = new ServiceRegistry(keys, prefix, { ttl: 2 });
    const regs = await Promise.all(
      ['a', 'b', 'c'].map((id) => registry.register({ service: 'web', id, address: id, port: 1 })),
    );
    const cache = new ServiceRegistry(keysAPI(), prefix, { ttl: 2 }).cache('web');
    await cache.ready();
    expect(cache.instances().map((i) => i.id)).toEqual(['a', 'b', 'c']);
    expect([1, 2, 3, 4].map(() => cache.pick()?.id)).toEqual(['a', 'b', 'c', 'a']);
    await regs[0]!.close();
    await expect.poll(() => cache.instances().map((i) => i.id)).toEqual(['b', 'c']);
    // a crashed instance: its key is not refreshed any more and expires
    await keys.set(`${prefix}/web/z`, JSON.stringify({ service: 'web', id: 'z', address: 'z', port: 1 }), {
      ttl: 2,
    });
    await expect.poll(() => cache.instances().map((i) => i.id)).toEqual(['b', 'c', 'z']);
    await expect.poll(() => cache.instances().map((i) => i.id), { timeout: 6000 }).toEqual(['b', 'c']);
    cache.close();
    for (const reg of regs) await reg.close();
    await registry.close();
  });

  it('re-registers an instance whose key was deleted behind its back', async () => {
    const prefix = uniqueKeyPrefix('reregister');
    const keys = keysAPI();
    const registry = new ServiceRegistry(keys, prefix, { ttl: 2 });
    const reg = await registry.register({ service: 'api', id: 'x', address: 'x', port: 1 });
    await keys.delete(reg.key);
    await expect
      .poll(async () => (await registry.list('api')).map((i) => i.id), { timeout: 5000 })
      .toEqual(['x']);
    await reg.close();
    expect(await registry.list('api')).toEqual([]);
    await registry.close();
  });

  it('a registration closed after its registry: deleted at once, never published again', async () => {
    const prefix = uniqueKeyPrefix('closed-registry');
    const keys = keysAPI();
    const registry = new ServiceRegistry(keys, prefix, { ttl: 2 });
    const reg = await registry.register({ service: 'api', id: 'x', address: 'x', port: 1 });
    await registry.close();
    // the key is no longer kept (it would expire by TTL), and its loss is no cause to publish it again
    await expect(registry.register({ service: 'api', id: 'y', address: 'y', port: 1 })).rejects.toMatchObject(
      {
        name: 'ReleasedError',
        how: 'closed',
      },
    );
    await reg.close();
    expect(await registry.list('api')).toEqual([]);
  });
});

function describeChange(change: ServiceChange): string {
  const zone = change.instance.meta?.zone;
  return `${change.type} ${change.instance.id}${change.type === 'updated' ? ` zone=${String(zone)}` : ''}`;
}
