import type { Cluster, StartClusterOptions } from './cluster.js';
import { startProcessCluster } from './process-cluster.js';

/** Options of {@link startCluster}: the common options plus the backend. */
export interface StartAnyClusterOptions extends StartClusterOptions {
  /** Where members run. Default `process` (etcd child processes; no Docker needed). */
  readonly backend?: 'process';
}

/**
 * Starts a real etcd v2 cluster for tests and resolves once it has a leader and accepts writes.
 *
 * @example
 * ```ts
 * await using cluster = await startCluster({ size: 3 });
 * const leader = await cluster.waitForLeader();
 * await leader.kill();
 * await cluster.waitForLeader({ exclude: [leader] });
 * ```
 */
export async function startCluster(options: StartAnyClusterOptions = {}): Promise<Cluster> {
  const { backend = 'process', ...rest } = options;
  if (backend !== 'process') throw new TypeError(`unknown backend ${JSON.stringify(backend)}`);
  return startProcessCluster(rest);
}
