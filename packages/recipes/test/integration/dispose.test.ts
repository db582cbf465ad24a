import { isKeyNotFound } from '@etcdkit/client';
import { sharedClusterEndpoints, uniqueKeyPrefix } from '@etcdkit/testkit/vitest';
import { describe, expect, it } from 'vitest';
import {
  Barrier,
  DoubleBarrier,
  Election,
  Lock,
  RWLock,
  Semaphore,
  ServiceRegistry,
  Session,
} from '../../src/index.js';
import { expiryBoundMs, keysFactory } from './helpers.js';

const endpoints = sharedClusterEndpoints();
const keysAPI = keysFactory(() => endpoints);
const TTL = 2;

/**
 * Each recipe, disposed by `await using` while it still holds a key it never released: disposing closes its
 * own session, so the key is no longer refreshed and expires by TTL. Without the dispose the session would
 * keep refreshing it, and the key would outlive the bound.
 */
describe('every recipe is AsyncDisposable: `await using` closes its session', () => {
  it('keys held when the block ends are no longer kept alive', async () => {
    const keys = keysAPI();
    const name = uniqueKeyPrefix('dispose');
    const held: string[] = [];
    {
      await using lock = new Lock(keys, `${name}/lock`, { ttl: TTL });
      await using rwlock = new RWLock(keys, `${name}/rwlock`, { ttl: TTL });
      await using semaphore = new Semaphore(keys, `${name}/semaphore`, 2, { ttl: TTL });
      await using election = new Election(keys, `${name}/election`, { ttl: TTL });
      await using registry = new ServiceRegistry(keys, `${name}/registry`, { ttl: TTL });
      await using barrier = new DoubleBarrier(keys, `${name}/barrier`, 1, { ttl: TTL });
      await using gate = new Barrier(keys, `${name}/gate`, { ttl: TTL });
      held.push((await lock.acquire()).key);
      held.push((await rwlock.readLock()).key);
      held.push((await semaphore.acquire()).key);
      held.push((await election.campaign('me')).key);
      await registry.register({ service: 'api', id: 'one', address: '127.0.0.1', port: 1 });
      held.push(`${name}/registry/api/one`);
      await barrier.enter();
      const members = await keys.get(`${name}/barrier/members`, { quorum: true });
      held.push(...(members.node?.nodes ?? []).map((node) => node.key));
      await gate.hold();
      held.push(`${name}/gate`);
    }
    expect(held).toHaveLength(7);
    const disposedAt = performance.now();
    const remaining = async (): Promise<string[]> => {
      const left: string[] = [];
      for (const key of held) {
        try {
          await keys.get(key, { quorum: true });
          left.push(key);
        } catch (error) {
          if (!isKeyNotFound(error)) throw error;
        }
      }
      return left;
    };
    await expect.poll(remaining, { timeout: expiryBoundMs(TTL), interval: 200 }).toEqual([]);
    // gone by expiry, not at once by some release: at least one TTL minus a refresh interval after the dispose
    expect(performance.now() - disposedAt).toBeGreaterThan((TTL * 1000 * 2) / 3 - 100);
  });
});

describe('every long-lived object closes with close()', () => {
  it('a held lock and a term close as release() and resign() do: the key is deleted, the signal says so', async () => {
    const keys = keysAPI();
    const name = uniqueKeyPrefix('close');
    await using lock = new Lock(keys, `${name}/lock`, { ttl: TTL });
    await using election = new Election(keys, `${name}/election`, { ttl: TTL });
    const held = await lock.acquire();
    const term = await election.campaign('me');
    await held.close();
    await term.close();
    expect(held.signal.reason).toMatchObject({ code: 'ETCDKIT_RELEASED', how: 'released' });
    expect(term.signal.reason).toMatchObject({ code: 'ETCDKIT_RELEASED', how: 'resigned' });
    for (const key of [held.key, term.key])
      await expect(keys.get(key, { quorum: true })).rejects.toSatisfy(isKeyNotFound);
    // closed twice: nothing more happens
    await held.close();
    await term.close();
  });

  it('a session key closes as stop() does: no longer kept (its signal says closed), not deleted', async () => {
    const keys = keysAPI();
    const name = uniqueKeyPrefix('close-key');
    await using session = new Session(keys, { ttl: TTL });
    const sentAt = performance.now();
    const created = await keys.create(`${name}/kept`, 'v', { ttl: TTL });
    const kept = session.keep(`${name}/kept`, created.node!.modifiedIndex, sentAt);
    await kept.close();
    expect(kept.signal.reason).toMatchObject({ code: 'ETCDKIT_RELEASED', how: 'closed' });
    await expect(keys.get(`${name}/kept`, { quorum: true })).resolves.toBeDefined();
  });
});
