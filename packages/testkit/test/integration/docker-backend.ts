import { getContainerRuntimeClient } from 'testcontainers';
import { buildLocalEtcdImage, type Cluster, kernelHasNetem, startDockerCluster } from '../../src/index.js';
import type { Backend } from './fault-suite.js';

/**
 * The image the Docker tests run: `ETCDKIT_TEST_IMAGE` when set (e.g. the upstream default on a machine that
 * can pull), else one built here FROM scratch from the host's etcd (no registry is reachable on CI).
 */
let image: Promise<string> | undefined;
export function testImage(): Promise<string> {
  image ??= process.env.ETCDKIT_TEST_IMAGE
    ? Promise.resolve(process.env.ETCDKIT_TEST_IMAGE)
    : buildLocalEtcdImage();
  return image;
}

/** Containers and networks labelled with the cluster's token that still exist. */
export async function dockerLeftovers(token: string): Promise<string[]> {
  const docker = (await getContainerRuntimeClient()).container.dockerode;
  const filters = JSON.stringify({ label: [`org.etcdkit.cluster=${token}`] });
  const containers = await docker.listContainers({ all: true, filters });
  const networks = await docker.listNetworks({ filters });
  return [...containers.map((c) => `container ${c.Names[0]}`), ...networks.map((n) => `network ${n.Name}`)];
}

/** Bridge networks' peer delay is netem in the container's namespace: there when the kernel has sch_netem. */
const netem = await kernelHasNetem();

export function dockerBackend(network: 'host' | 'bridge'): Backend {
  return {
    peerProxies: network === 'host' || netem,
    async start(options) {
      return startDockerCluster({ ...options, image: await testImage(), network });
    },
    leftovers: (cluster: Cluster) => dockerLeftovers(cluster.token),
  };
}
