// Service registry: two instances register (kept alive by TTL refreshes), a client-side cache picks them
// round-robin, and when one leaves the cache drops it.
//   ETCDCTL_ENDPOINTS=http://127.0.0.1:2379 node examples/registry.mjs
import { Client, KeysAPI } from '@etcdkit/client';
import { ServiceRegistry } from '@etcdkit/recipes';

const endpoints = (process.env.ETCDCTL_ENDPOINTS ?? 'http://127.0.0.1:2379').split(',');
const prefix = process.env.EXAMPLE_PREFIX ?? '/examples';
const client = new Client({ endpoints });
const keys = new KeysAPI(client);
const registry = new ServiceRegistry(keys, `${prefix}/services`, { ttl: 5 });

const a = await registry.register({ service: 'api', id: 'api-1', address: '10.0.0.7', port: 8080 });
const b = await registry.register({
  service: 'api',
  id: 'api-2',
  address: '10.0.0.8',
  port: 8080,
  meta: { zone: 'b' },
});

const cache = registry.cache('api');
await cache.ready();
const picks = [cache.pick(), cache.pick(), cache.pick()].map((instance) => instance?.id);
console.log('picked:', picks.join(', '));

await a.close(); // deregisters at once; a crashed instance would expire after its TTL
while (cache.instances().length !== 1) await new Promise((resolve) => setTimeout(resolve, 20));
console.log(
  'instances now:',
  cache
    .instances()
    .map((instance) => instance.id)
    .join(', '),
);

cache.close();
await b.close();
await registry.close();
client.close();
