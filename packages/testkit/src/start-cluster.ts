import type { Cluster, StartClusterOptions } from './cluster.js';
import type { DockerBridgeCluster, DockerClusterOptions } from './docker/docker-cluster.js';
import type { NetnsCluster, NetnsClusterOptions } from './netns/netns-cluster.js';
import { startProcessCluster } from './process-cluster.js';

/** Options of {@link startCluster}: the common options plus the backend and its own options. */
export type StartAnyClusterOptions =
  | (StartClusterOptions & {
      /** Where members run: `process` (default; etcd child processes, no Docker needed) or `docker`. */
      readonly backend?: 'process';
    })
  | (DockerClusterOptions & { readonly backend: 'docker' })
  | (NetnsClusterOptions & { readonly backend: 'netns' });

/**
 * Starts a real etcd v2 cluster for tests and resolves once it has a leader and accepts writes. The backend is
 * one option: `process` (default), `docker` (`image`, `network: 'host' | 'bridge'`: a bridge network is a
 * {@link DockerBridgeCluster}, with kernel-level faults) or `netns` (each member in a
 * network namespace of its own, faults in the kernel; needs root: a {@link NetnsCluster}), with the same
 * {@link Cluster} and {@link Member} interface.
 *
 * @example
 * ```ts
 * await using cluster = await startCluster({ size: 3 });
 * const leader = await cluster.waitForLeader();
 * await leader.kill();
 * await cluster.waitForLeader({ exclude: [leader] });
 * ```
 */
export async function startCluster(
  options: NetnsClusterOptions & { readonly backend: 'netns' },
): Promise<NetnsCluster>;
export async function startCluster(
  options: DockerClusterOptions & { readonly backend: 'docker'; readonly network: 'bridge' },
): Promise<DockerBridgeCluster>;
export async function startCluster(options?: StartAnyClusterOptions): Promise<Cluster>;
export async function startCluster(options: StartAnyClusterOptions = {}): Promise<Cluster> {
  const { backend = 'process', ...rest } = options;
  if (backend === 'process') return startProcessCluster(rest);
  if (backend === 'docker') {
    const { startDockerCluster } = await import('./docker/docker-cluster.js');
    return startDockerCluster(rest);
  }
  if (backend === 'netns') {
    const { startNetnsCluster } = await import('./netns/netns-cluster.js');
    return startNetnsCluster(rest);
  }
  throw new TypeError(`unknown backend ${JSON.stringify(backend)}: use 'process', 'docker' or 'netns'`);
}
