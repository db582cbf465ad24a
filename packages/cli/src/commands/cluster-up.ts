import { buildLocalEtcdImage, type StartAnyClusterOptions, startCluster } from '@etcdkit/testkit';
import { interrupted } from '../run-command.js';
import { UsageError } from '../usage.js';
import { positiveInteger } from './lock.js';

/** Options of `etcdkit cluster up`. */
export interface ClusterUpValues {
  size?: string | undefined;
  backend?: string | undefined;
  image?: string | undefined;
  network?: string | undefined;
}

/**
 * `etcdkit cluster up`: starts a local etcd v2 cluster (fast raft timings), prints its endpoints, and keeps it
 * up until SIGINT or SIGTERM; then removes it (processes or containers, and data).
 */
export async function clusterUpCommand(
  action: string | undefined,
  values: ClusterUpValues,
  print: (line: string) => void,
): Promise<number> {
  if (action !== 'up') throw new UsageError('etcdkit cluster needs up');
  const size = positiveInteger(values.size ?? '3', '--size');
  const backend = values.backend ?? 'process';
  let options: StartAnyClusterOptions;
  if (backend === 'process') {
    if (values.image || values.network)
      throw new UsageError('--image and --network are for --backend docker');
    options = { size };
  } else if (backend === 'docker') {
    const network = values.network ?? 'host';
    if (network !== 'host' && network !== 'bridge') throw new UsageError('--network is host or bridge');
    const image = values.image === 'local' ? await buildLocalEtcdImage() : values.image;
    options = { size, backend: 'docker', network, ...(image ? { image } : {}) };
  } else {
    throw new UsageError(`--backend is process or docker, got ${backend}`);
  }
  const interrupt = interrupted();
  const t0 = performance.now();
  const cluster = await startCluster(options);
  try {
    const leader = await cluster.waitForLeader();
    print(
      `etcd ${cluster.version}: ${size}-member v2 cluster (${cluster.backend}) up in ${(performance.now() - t0).toFixed(0)} ms`,
    );
    for (const member of cluster.members) {
      const where = member.pid ? `pid ${member.pid}` : cluster.backend;
      print(`  ${member.name}  ${member.clientURL}  (${where})${member === leader ? '  leader' : ''}`);
    }
    print('');
    print(`export ETCDCTL_API=2 ETCDCTL_ENDPOINTS=${cluster.clientURLs.join(',')}`);
    print('Ctrl-C to stop');
    if (!interrupt.signal.aborted) {
      await new Promise((resolve) => interrupt.signal.addEventListener('abort', resolve, { once: true }));
    }
    return 0;
  } finally {
    interrupt.dispose();
    await cluster.close();
    print('cluster stopped, data removed');
  }
}
