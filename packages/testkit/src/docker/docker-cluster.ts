import type { StartClusterOptions } from '../cluster.js';
import { clientTLSArgs, clusterToken, memberArgs, probeTLSFor } from '../etcd-args.js';
import { EtcdCluster } from '../etcd-cluster.js';
import type { NetworkAttachment } from '../launchers/launcher.js';
import { bootCluster, createLoopbackCluster } from '../loopback-cluster.js';
import { KernelFaultMember } from '../netns/kernel-member.js';
import { freePorts, releasePorts } from '../ports.js';
import { TcpProxy } from '../tcp-proxy.js';
import { DockerBridgeNetwork } from './bridge-network.js';
import { ContainerLauncher, type ContainerSpec } from './container-launcher.js';
import { DEFAULT_ETCD_IMAGE } from './image.js';
import { imageEtcdVersion } from './image-version.js';
import { loadTestcontainers } from './runtime.js';
import { ownLabels, sweepDockerLeftovers } from './sweep.js';

/** Options of the Docker backend. */
export interface DockerClusterOptions extends StartClusterOptions {
  /** The etcd image (3.4 or 3.5). Default {@link DEFAULT_ETCD_IMAGE}; offline, see `buildLocalEtcdImage`. */
  readonly image?: string;
  /**
   * `host` (default): members share the host's network and loopback ports, with the same TCP proxies as the
   * process backend, so every proxy fault works. `bridge`: a network of its own, members reach each other by
   * name, client URLs are published on 127.0.0.1, and network faults are the kernel's, in the containers'
   * network namespaces (a {@link DockerBridgeCluster}'s `network`; root on the Docker host). Peer-link connection
   * drops are not available (there is no proxy between members); peer delay is netem where the kernel has
   * sch_netem, else relays on the host (see {@link KernelFaultNetwork.netem}).
   */
  readonly network?: 'host' | 'bridge';
}

const DATA_DIR = '/data/etcd';
const TLS_DIR = '/etc/etcdkit-tls';

/** Where a member container sees a host TLS file. */
const tlsPathInContainer = (file: string): string => `${TLS_DIR}/${file.replaceAll('/', '_')}`;

/**
 * Starts an N-member etcd v2 cluster in Docker containers, through testcontainers. Leftovers of crashed runs
 * are swept first. Everything is labelled (`org.etcdkit.testkit=true`, the cluster token, the owner) and
 * removed on close, on a failed start, by the reaper if the test process dies, and by the next sweep.
 *
 * With `network: 'bridge'`, a {@link DockerBridgeCluster}.
 *
 * @throws {UnsupportedEtcdVersionError} when the image's etcd has no v2 API.
 * @throws {ClusterStartError} when the cluster did not come up.
 */
export async function startDockerCluster(
  options: DockerClusterOptions & { readonly network: 'bridge' },
): Promise<DockerBridgeCluster>;
export async function startDockerCluster(options?: DockerClusterOptions): Promise<EtcdCluster>;
export async function startDockerCluster(options: DockerClusterOptions = {}): Promise<EtcdCluster> {
  const size = options.size ?? 3;
  if (!Number.isInteger(size) || size < 1)
    throw new RangeError(`size must be a positive integer, got ${size}`);
  await sweepDockerLeftovers();
  const image = options.image ?? DEFAULT_ETCD_IMAGE;
  const create = options.network === 'bridge' ? createBridgeCluster : createHostCluster;
  const version = await imageEtcdVersion(image);
  const cluster = await bootCluster(() => create(size, image, options), options);
  cluster.version = version;
  return cluster;
}

function tlsFiles(options: StartClusterOptions): NonNullable<ContainerSpec['files']> {
  const tls = options.clientTLS;
  if (!tls) return [];
  return [tls.certFile, tls.keyFile, ...(tls.trustedCAFile ? [tls.trustedCAFile] : [])].map((source) => ({
    source,
    target: tlsPathInContainer(source),
  }));
}

/** Host network: the process backend's layout, with containers instead of child processes. */
function createHostCluster(size: number, image: string, options: DockerClusterOptions): Promise<EtcdCluster> {
  return createLoopbackCluster({
    backend: 'docker',
    size,
    version: image,
    options,
    launcher: (name, token) =>
      new ContainerLauncher({
        image,
        name: `${token}-${name}`,
        labels: ownLabels(token),
        networkMode: 'host',
        files: tlsFiles(options),
        dataDir: DATA_DIR,
      }),
    tlsFile: tlsPathInContainer,
    release: async () => {},
    releaseSync: () => {},
  });
}

/**
 * A Docker cluster on a bridge network of its own (`network: 'bridge'`); `network` injects kernel-level faults in
 * the containers' network namespaces, as the netns backend does.
 */
export class DockerBridgeCluster extends EtcdCluster {
  /** The cluster's bridge network and its faults (partitions, one-way cuts, loss, rate limits, netem). */
  readonly network: DockerBridgeNetwork;

  constructor(spec: ConstructorParameters<typeof EtcdCluster>[0], network: DockerBridgeNetwork) {
    super(spec);
    this.network = network;
  }
}

/** A bridge network of the cluster's own: peers by container name, client ports published on 127.0.0.1. */
async function createBridgeCluster(
  size: number,
  image: string,
  options: DockerClusterOptions,
): Promise<DockerBridgeCluster> {
  const { getContainerRuntimeClient } = await loadTestcontainers();
  const docker = (await getContainerRuntimeClient()).container.dockerode;
  const token = clusterToken();
  const network = await DockerBridgeNetwork.create(docker, token);
  const ports = await freePorts(size * 2);
  const proxies: TcpProxy[] = [];
  const release = async (): Promise<void> => {
    await Promise.all(proxies.map((proxy) => proxy.close()));
    releasePorts(ports);
    await network.remove();
  };
  try {
    const scheme = options.clientTLS ? 'https' : 'http';
    const tlsArgs = clientTLSArgs(options.clientTLS, tlsPathInContainer);
    const probeTLS = probeTLSFor(options.clientTLS);
    const members: KernelFaultMember[] = [];
    for (let i = 0; i < size; i++) {
      const name = `m${i}`;
      const host = `${token}-${name}`;
      const directClientURL = `${scheme}://127.0.0.1:${ports[2 * i]}`;
      const clientProxy = options.clientProxies
        ? await TcpProxy.start({ listenPort: ports[2 * i + 1]!, targetPort: ports[2 * i]! })
        : undefined;
      if (clientProxy) proxies.push(clientProxy);
      const clientURL = clientProxy ? `${scheme}://127.0.0.1:${ports[2 * i + 1]}` : directClientURL;
      const peerURL = `http://${host}:2380`;
      const launcher = new ContainerLauncher({
        image,
        name: host,
        labels: ownLabels(token),
        networkMode: token,
        ports: [{ container: 2379, host: ports[2 * i]! }],
        files: tlsFiles(options),
        dataDir: DATA_DIR,
      });
      let attachment: NetworkAttachment | undefined;
      const member = new KernelFaultMember(
        {
          name,
          clientURL,
          directClientURL,
          peerURL,
          clientProxy,
          probeTLS,
          launcher,
          network: {
            disconnect: () => attachment!.disconnect(),
            connect: () => attachment!.connect(),
          },
          args: memberArgs(
            name,
            token,
            options,
            {
              listenClient: `${scheme}://0.0.0.0:2379`,
              advertiseClient: clientURL,
              listenPeer: 'http://0.0.0.0:2380',
              advertisePeer: peerURL,
            },
            tlsArgs,
          ),
        },
        network,
        'a Docker bridge network',
      );
      attachment = network.attach(member, launcher, host);
      members.push(member);
    }
    return new DockerBridgeCluster(
      { backend: 'docker', members, token, version: image, release, releaseSync: () => {} },
      network,
    );
  } catch (error) {
    await release();
    throw error;
  }
}
