import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StartClusterOptions } from './cluster.js';
import { resolveEtcdBinary } from './etcd-binary.js';
import type { EtcdCluster } from './etcd-cluster.js';
import { forgetDir, reapDir } from './internal/reaper.js';
import { ProcessLauncher } from './launchers/process-launcher.js';
import { bootCluster, createLoopbackCluster } from './loopback-cluster.js';

/** A cluster of etcd child processes. Start one with {@link startProcessCluster}. */
export type ProcessCluster = EtcdCluster;

/**
 * Starts an N-member etcd v2 cluster as child processes on free loopback ports: all members at once, each with
 * its own data dir, one unique cluster token, and a {@link TcpProxy} in front of each advertised peer URL (and,
 * with `clientProxies`, each client URL) for network faults. Resolves when a majority follows one leader and a
 * v2 write succeeds. If anything fails on the way, everything started so far is killed and removed before the
 * error is thrown.
 *
 * @throws {EtcdNotFoundError | UnsupportedEtcdVersionError} when etcd is missing or has no v2 API.
 * @throws {ClusterStartError} when the cluster did not come up.
 */
export async function startProcessCluster(options: StartClusterOptions = {}): Promise<ProcessCluster> {
  const size = options.size ?? 3;
  if (!Number.isInteger(size) || size < 1)
    throw new RangeError(`size must be a positive integer, got ${size}`);
  const binary = await resolveEtcdBinary(options.etcdBin);
  return bootCluster(() => createProcessCluster(size, binary.path, binary.version, options), options);
}

/** Makes a data folder for the cluster and lays its members out on loopback as child processes. */
function createProcessCluster(
  size: number,
  etcdBin: string,
  version: string,
  options: StartClusterOptions,
): Promise<EtcdCluster> {
  const parent = options.dataDirRoot ?? tmpdir();
  mkdirSync(parent, { recursive: true });
  const root = mkdtempSync(join(parent, 'etcdkit-'));
  reapDir(root);
  const removeRoot = (): void => {
    rmSync(root, { recursive: true, force: true });
    forgetDir(root);
  };
  return createLoopbackCluster({
    backend: 'process',
    size,
    version,
    options,
    launcher: (name) => new ProcessLauncher(etcdBin, join(root, `${name}.etcd`), join(root, `${name}.log`)),
    tlsFile: (path) => path,
    release: async () => removeRoot(),
    releaseSync: removeRoot,
  }).catch((error: unknown) => {
    removeRoot();
    throw error;
  });
}
