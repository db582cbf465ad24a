import type { Cluster, Member } from '@etcdkit/testkit';
import { Client, type ClientConfig, KeysAPI } from '../src/index.js';

/** Puts the endpoints in a known order (the first is pinned): setEndpoints shuffles, so retry until it fits. */
export function pinOrder(client: Client, endpoints: readonly string[]): void {
  for (let i = 0; i < 1000; i++) {
    if (client.endpoints().join() === endpoints.join()) return;
    client.setEndpoints(endpoints);
  }
  throw new Error('could not order endpoints');
}

/** A client whose endpoints are `order` (the first pinned), added to `clients` for the test to close. */
export function pinnedClient(
  order: readonly Member[],
  config: Partial<ClientConfig>,
  clients: Client[],
): { client: Client; keys: KeysAPI } {
  const urls = order.map((member) => member.clientURL);
  const client = new Client({ endpoints: urls, ...config });
  pinOrder(client, urls);
  clients.push(client);
  return { client, keys: new KeysAPI(client) };
}

/** The raft leader of a 3-member cluster and its two followers. */
export async function leaderAndFollowers(
  cluster: Cluster,
): Promise<{ leader: Member; a: Member; b: Member }> {
  const leader = await cluster.waitForLeader();
  const [a, b] = cluster.members.filter((m) => m !== leader) as [Member, Member];
  return { leader, a, b };
}
