import { type Cluster, type Member, startCluster } from '@etcdkit/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, ClusterError, EndpointError, KeysAPI, type Response } from '../../src/index.js';
import { pinOrder } from '../order.js';

let cluster: Cluster;
beforeAll(async () => {
  cluster = await startCluster({ size: 3 });
});
afterAll(() => cluster?.close());

/** A client whose pinned endpoint is `first`, then the others in member order. */
function clientPinnedTo(
  first: Member,
  config: { headerTimeoutPerRequest?: number; watchLivenessInterval?: number } = {},
) {
  const order = [first.clientURL, ...cluster.clientURLs.filter((url) => url !== first.clientURL)];
  const client = new Client({ endpoints: order, ...config });
  pinOrder(client, order);
  return { client, keys: new KeysAPI(client) };
}

/** A member that is not the leader, and the leader. */
async function roles(): Promise<{ leader: Member; follower: Member; other: Member }> {
  const leader = await cluster.waitForLeader();
  const [follower, other] = cluster.members.filter((m) => m !== leader) as [Member, Member];
  return { leader, follower, other };
}

const restore = (): Promise<void> => cluster.restoreAll();

describe('client failover against real member faults', () => {
  it('a SIGKILLed pinned member: the next member answers, and is pinned', async () => {
    const { follower } = await roles();
    const { client, keys } = clientPinnedTo(follower);
    await keys.set('/fo/killed-before', 'x');
    await follower.kill();
    const got = await keys.get('/fo/killed-before');
    expect(got.node?.value).toBe('x');
    expect(client.endpoints()[0]).toBe(follower.clientURL);
    await client.close();
    await restore();
  });

  it('a member SIGKILLed during a request: the request moves on and succeeds', async () => {
    const { follower } = await roles();
    const { client, keys } = clientPinnedTo(follower, { headerTimeoutPerRequest: 0 });
    await keys.set('/fo/killed-during', 'y');
    await follower.pause();
    const pending = keys.get('/fo/killed-during', { quorum: true });
    await new Promise((resolve) => setTimeout(resolve, 300));
    await follower.kill();
    expect((await pending).node?.value).toBe('y');
    await client.close();
    await restore();
  });

  it('a SIGSTOPed member no longer hangs callers: the header timeout moves them on', async () => {
    const { follower } = await roles();
    const { client, keys } = clientPinnedTo(follower, { headerTimeoutPerRequest: 500 });
    await keys.set('/fo/paused', 'z');
    await follower.pause();
    const t0 = performance.now();
    expect((await keys.get('/fo/paused')).node?.value).toBe('z');
    expect(performance.now() - t0).toBeLessThan(3000);
    await client.close();
    await restore();
  });

  it('all members down: a ClusterError with one error per member', async () => {
    const { client, keys } = clientPinnedTo(cluster.members[0]!);
    for (const member of cluster.members) await member.kill();
    const error = (await keys.get('/fo/any').catch((e: unknown) => e)) as ClusterError;
    expect(error).toBeInstanceOf(ClusterError);
    expect(error.errors).toHaveLength(3);
    expect(error.errors.every((e) => e instanceof EndpointError)).toBe(true);
    expect(error.errors.map((e) => (e as EndpointError).endpoint)).toEqual(client.endpoints());
    await client.close();
    await restore();
  });
});

describe('watches under member faults', () => {
  /** Writes `values` through `writer` and collects `values.length` events from `watcherKeys`. */
  async function collect(
    watcherKeys: KeysAPI,
    writer: KeysAPI,
    key: string,
    fault: () => Promise<void>,
    values: string[],
  ): Promise<string[]> {
    const start = await writer.set(key, 'start');
    const watcher = watcherKeys.watcher(key, { afterIndex: start.node!.modifiedIndex });
    const seen: string[] = [];
    const reading = (async () => {
      while (seen.length < values.length) {
        const event: Response = await watcher.next({ signal: AbortSignal.timeout(20_000) });
        seen.push(event.node!.value);
      }
    })();
    await writer.set(key, values[0]!);
    await new Promise((resolve) => setTimeout(resolve, 200));
    await fault();
    for (const value of values.slice(1)) await writer.set(key, value);
    await reading;
    return seen;
  }

  it.each([
    ['SIGKILLed: the watch moves on', 'kill'],
    ['SIGSTOPed (Go caveat 3): the liveness check moves the watch', 'pause'],
    ['isolated from the quorum (Go caveat 4): the watch moves', 'isolate'],
  ] as const)('the watched member %s; every event arrives once, in order', async (_, fault) => {
    const { follower, leader } = await roles();
    const watching = clientPinnedTo(follower, { watchLivenessInterval: 300 });
    const writing = clientPinnedTo(leader);
    const seen = await collect(watching.keys, writing.keys, `/w/${fault}`, () => follower[fault](), [
      '1',
      '2',
      '3',
      '4',
    ]);
    expect(seen).toEqual(['1', '2', '3', '4']);
    await watching.client.close();
    await writing.client.close();
    await restore();
  });
});
