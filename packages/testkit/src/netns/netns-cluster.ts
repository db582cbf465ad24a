import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StartClusterOptions } from '../cluster.js';
import { clusterToken, memberArgs } from '../etcd-args.js';
import { resolveEtcdBinary } from '../etcd-binary.js';
import { EtcdCluster } from '../etcd-cluster.js';
import { forgetDir, reapDir } from '../internal/reaper.js';
import { ProcessLauncher } from '../launchers/process-launcher.js';
import { freePorts, releasePorts } from '../ports.js';
import { TcpProxy } from '../tcp-proxy.js';
import { KernelFaultMember } from './kernel-member.js';
import { NetnsNetwork } from './network.js';

/** Options of the netns backend: the common options (`clientTLS` aside). */
export type NetnsClusterOptions = StartClusterOptions;

const CLIENT_PORT = 2379;
const PEER_PORT = 2380;

/** A cluster whose members each run in a network namespace of their own; `network` injects kernel-level faults. */
export class NetnsCluster extends EtcdCluster {
  /** The run's namespaces, bridge and faults (partitions, loss, rate limits, netem). */
  readonly network: NetnsNetwork;

  constructor(spec: ConstructorParameters<typeof EtcdCluster>[0], network: NetnsNetwork) {
    super(spec);
    this.network = network;
  }
}

/**
 * Starts an N-member etcd v2 cluster with each member in a network namespace of its own (`ip netns exec`),
 * attached by a veth pair to a bridge of the run, on addresses of a /24 reserved for the run
 * (`<subnet>.10`, `.11`, ...; the host is `<subnet>.1`). Client URLs are `http://<address>:2379` (reachable
 * from the host and from {@link NetnsNetwork.client} namespaces), or with `clientProxies` a {@link TcpProxy}
 * on the host's bridge address in front of each. Network faults are the kernel's: see {@link NetnsNetwork}.
 * Everything the run made (namespaces, veths, bridge, rules, qdiscs) is removed on close, on a failed start,
 * by the reaper if the test process dies, and by the next run's sweep.
 *
 * @throws {NetnsUnavailableError} without root, iproute2 or iptables.
 * @throws {EtcdNotFoundError | UnsupportedEtcdVersionError} when etcd is missing or has no v2 API.
 * @throws {ClusterStartError} when the cluster did not come up.
 */
export async function startNetnsCluster(options: NetnsClusterOptions = {}): Promise<NetnsCluster> {
  const size = options.size ?? 3;
  if (!Number.isInteger(size) || size < 1 || size > 90)
    throw new RangeError(`size must be an integer within 1..90, got ${size}`);
  if (options.clientTLS) throw new TypeError('the netns backend does not serve client TLS yet');
  const binary = await resolveEtcdBinary(options.etcdBin);
  const network = await NetnsNetwork.create();
  let cluster: NetnsCluster | undefined;
  try {
    cluster = await createNetnsCluster(size, binary.path, binary.version, network, options);
  } catch (error) {
    await network.close().catch(() => {});
    throw error;
  }
  try {
    await cluster.start();
    await cluster.waitReady(options.startTimeoutMs ?? 30_000);
    return cluster;
  } catch (error) {
    await cluster.close().catch(() => {});
    throw error;
  }
}

async function createNetnsCluster(
  size: number,
  etcdBin: string,
  version: string,
  network: NetnsNetwork,
  options: NetnsClusterOptions,
): Promise<NetnsCluster> {
  const parent = options.dataDirRoot ?? tmpdir();
  mkdirSync(parent, { recursive: true });
  const root = mkdtempSync(join(parent, 'etcdkit-netns-'));
  reapDir(root);
  const removeRoot = (): void => {
    rmSync(root, { recursive: true, force: true });
    forgetDir(root);
  };
  const proxies: TcpProxy[] = [];
  let ports: number[] = [];
  const release = async (): Promise<void> => {
    await Promise.all(proxies.map((proxy) => proxy.close()));
    releasePorts(ports);
    await network.close();
    removeRoot();
  };
  try {
    const token = clusterToken();
    const nodes = await Promise.all(Array.from({ length: size }, (_, i) => network.addMember(`m${i}`, i)));
    if (options.clientProxies) ports = await freePorts(size, network.hostAddress);
    const members: KernelFaultMember[] = [];
    for (const [i, node] of nodes.entries()) {
      const directClientURL = `http://${node.address}:${CLIENT_PORT}`;
      const clientProxy = options.clientProxies
        ? await TcpProxy.start({
            host: network.hostAddress,
            listenPort: ports[i]!,
            targetHost: node.address,
            targetPort: CLIENT_PORT,
          })
        : undefined;
      if (clientProxy) proxies.push(clientProxy);
      const clientURL = clientProxy ? `http://${network.hostAddress}:${ports[i]}` : directClientURL;
      const peerURL = `http://${node.address}:${PEER_PORT}`;
      const etcdFlags = memberArgs(
        node.name,
        token,
        options,
        {
          listenClient: directClientURL,
          advertiseClient: clientURL,
          listenPeer: peerURL,
          advertisePeer: peerURL,
        },
        [],
      );
      let self: KernelFaultMember | undefined;
      const member = new KernelFaultMember(
        {
          name: node.name,
          clientURL,
          directClientURL,
          peerURL,
          clientProxy,
          // `ip netns exec` execs etcd in the namespace: the launcher's pid is etcd's
          launcher: new ProcessLauncher(
            'ip',
            join(root, `${node.name}.etcd`),
            join(root, `${node.name}.log`),
          ),
          args: (initialCluster, state) => [
            'netns',
            'exec',
            node.namespace,
            etcdBin,
            ...etcdFlags(initialCluster, state),
          ],
          network: {
            disconnect: () => network.isolate(self!),
            connect: () => network.heal([self!]),
          },
        },
        network,
        'the netns backend',
      );
      self = member;
      network.attach(member, node);
      members.push(member);
    }
    return new NetnsCluster(
      {
        backend: 'netns',
        members,
        token,
        version,
        release,
        releaseSync: () => {
          network.closeSync();
          removeRoot();
        },
      },
      network,
    );
  } catch (error) {
    await release();
    throw error;
  }
}
