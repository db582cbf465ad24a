import type { StartClusterOptions } from './cluster.js';
import { clientTLSArgs, clusterToken, memberArgs, probeTLSFor } from './etcd-args.js';
import { EtcdCluster } from './etcd-cluster.js';
import type { EtcdLauncher } from './launchers/launcher.js';
import { EtcdMember } from './member.js';
import { freePorts, releasePorts } from './ports.js';
import { TcpProxy } from './tcp-proxy.js';

const HOST = '127.0.0.1';
/** Ports per member: client, peer listener, peer proxy, client proxy. */
const PORTS_PER_MEMBER = 4;
/**
 * A booting member asks each peer for `/members` (etcd's isMemberBootstrapped) with a 1 s timeout. Peers of a
 * new cluster are bound but not yet serving, so each ask would wait out that second; refusing it at the proxy
 * fails it fast, which is what etcd expects of a new cluster. Lifted once the cluster is ready.
 */
const BOOTSTRAP_PROBE = /^GET \/members /;

/** What differs between the backends that run members on the host's loopback (processes, host-network containers). */
export interface LoopbackLayout {
  readonly backend: string;
  readonly size: number;
  readonly version: string;
  readonly options: StartClusterOptions;
  /** The launcher of member `name` of the cluster with `token`. */
  readonly launcher: (name: string, token: string) => EtcdLauncher;
  /** Where a member sees a host file (TLS material). */
  readonly tlsFile: (hostPath: string) => string;
  /** Frees what the backend made besides launchers, proxies and ports. */
  readonly release: () => Promise<void>;
  readonly releaseSync: () => void;
}

/**
 * Lays out a cluster on 127.0.0.1: free ports for each member's client and peer listeners, a {@link TcpProxy}
 * in front of each advertised peer URL (and, with `clientProxies`, each client URL). Nothing is started yet.
 */
export async function createLoopbackCluster(layout: LoopbackLayout): Promise<EtcdCluster> {
  const { size, options } = layout;
  const token = clusterToken();
  const ports = await freePorts(size * PORTS_PER_MEMBER);
  const port = (i: number, which: 0 | 1 | 2 | 3): number => ports[PORTS_PER_MEMBER * i + which]!;
  const proxies: TcpProxy[] = [];
  const release = async (): Promise<void> => {
    await Promise.all(proxies.map((proxy) => proxy.close()));
    releasePorts(ports);
    await layout.release();
  };
  const peerProxies: TcpProxy[] = [];
  const clientProxies: (TcpProxy | undefined)[] = [];
  try {
    for (let i = 0; i < size; i++) {
      const peerProxy = await TcpProxy.start({ listenPort: port(i, 2), targetPort: port(i, 1) });
      peerProxy.refuseRequests(BOOTSTRAP_PROBE);
      proxies.push(peerProxy);
      peerProxies.push(peerProxy);
      const clientProxy = options.clientProxies
        ? await TcpProxy.start({ listenPort: port(i, 3), targetPort: port(i, 0) })
        : undefined;
      if (clientProxy) proxies.push(clientProxy);
      clientProxies.push(clientProxy);
    }
  } catch (error) {
    await release();
    throw error;
  }
  const scheme = options.clientTLS ? 'https' : 'http';
  const tlsArgs = clientTLSArgs(options.clientTLS, layout.tlsFile);
  const probeTLS = probeTLSFor(options.clientTLS);
  const members = Array.from({ length: size }, (_, i) => {
    const name = `m${i}`;
    const directClientURL = `${scheme}://${HOST}:${port(i, 0)}`;
    const clientURL = clientProxies[i] ? `${scheme}://${HOST}:${port(i, 3)}` : directClientURL;
    const peerURL = `http://${HOST}:${port(i, 2)}`;
    return new EtcdMember({
      name,
      clientURL,
      directClientURL,
      peerURL,
      peerProxy: peerProxies[i],
      clientProxy: clientProxies[i],
      probeTLS,
      launcher: layout.launcher(name, token),
      args: memberArgs(
        name,
        token,
        options,
        {
          listenClient: directClientURL,
          advertiseClient: clientURL,
          listenPeer: `http://${HOST}:${port(i, 1)}`,
          advertisePeer: peerURL,
        },
        tlsArgs,
      ),
    });
  });
  return new EtcdCluster({
    backend: layout.backend,
    members,
    token,
    version: layout.version,
    release,
    releaseSync: layout.releaseSync,
  });
}

/**
 * Starts a created cluster and waits until it is ready, retrying on fresh ports when a port was taken between
 * our check and etcd's bind. Whatever fails is closed (everything it started removed) before the error is thrown.
 */
export async function bootCluster(
  create: () => Promise<EtcdCluster>,
  options: StartClusterOptions,
  attempts = 3,
): Promise<EtcdCluster> {
  let lastError: unknown;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const cluster = await create();
    try {
      await cluster.start();
      await cluster.waitReady(options.startTimeoutMs ?? 30_000);
      for (const member of cluster.members) member.peerProxy?.refuseRequests(undefined);
      return cluster;
    } catch (error) {
      await cluster.close().catch(() => {});
      lastError = error;
      if (!/address already in use|port is already allocated/.test(String((error as Error).message))) break;
    }
  }
  throw lastError;
}
