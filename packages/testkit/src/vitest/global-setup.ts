/**
 * A vitest `globalSetup` that starts one shared etcd cluster for a whole test run and hands its client URLs
 * to the tests (read them with `sharedClusterEndpoints()` from `@etcdkit/testkit/vitest`). Tests that inject
 * faults should start a cluster of their own instead.
 *
 * ```ts
 * // vitest.config.ts
 * export default defineConfig({ test: { globalSetup: ['@etcdkit/testkit/vitest/global-setup'] } });
 * ```
 * `ETCDKIT_SHARED_CLUSTER_SIZE` sets the member count (default 3).
 */
import type { TestProject } from 'vitest/node';
import { startCluster } from '../start-cluster.js';
import { SHARED_ENDPOINTS_KEY } from './keys.js';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const size = Number(process.env.ETCDKIT_SHARED_CLUSTER_SIZE ?? 3);
  const cluster = await startCluster({ size });
  project.provide(SHARED_ENDPOINTS_KEY, [...cluster.clientURLs]);
  return () => cluster.close();
}
