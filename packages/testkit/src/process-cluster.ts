import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RaftTimings, StartClusterOptions } from './cluster.js';
import { resolveEtcdBinary } from './etcd-binary.js';
import { EtcdCluster } from './etcd-cluster.js';
import { forgetDir, reapDir } from './internal/reaper.js';
import { ProcessLauncher } from './launchers/process-launcher.js';
import { EtcdMember } from './member.js';
import { freePorts, releasePorts } from './ports.js';
import { TcpProxy } from './tcp-proxy.js';

const HOST = '127.0.0.1';
const START_ATTEMPTS = 3;
/** Ports per member: client, peer listener, peer proxy, client proxy. */
const PORTS_PER_MEMBER = 4;
/**
 * A booting member asks each peer for `/members` (etcd's isMemberBootstrapped) with a 1 s timeout. Peers of a
 * new cluster are bound but not yet serving, so each ask would wait out that second; refusing it at the proxy
 * fails it fast, which is what etcd expects of a new cluster. Lifted once the cluster is ready.
 */
export const BOOTSTRAP_PROBE = /^GET \/members /;

/** Resolves the `timings` option to etcd's `--heartbeat-interval` / `--election-timeout` in ms. */
export function raftTimings(timings: RaftTimings = 'fast'): { heartbeatMs: number; electionMs: number } {
  if (timings === 'fast') return { heartbeatMs: 50, electionMs: 250 };
  if (timings === 'default') return { heartbeatMs: 100, electionMs: 1000 };
  return timings;
}

/** The flags every backend passes to etcd, besides the URLs and data dir. */
export function commonEtcdArgs(name: string, token: string, options: StartClusterOptions): string[] {
  const { heartbeatMs, electionMs } = raftTimings(options.timings);
  return [
    `--name=${name}`,
    `--initial-cluster-token=${token}`,
    '--enable-v2=true',
    `--heartbeat-interval=${heartbeatMs}`,
    `--election-timeout=${electionMs}`,
    '--logger=zap',
    '--log-outputs=stderr',
  ];
}

/** A unique `--initial-cluster-token`. */
export function clusterToken(): string {
  return `etcdkit-${randomBytes(6).toString('hex')}`;
}

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
  let lastError: unknown;
  for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
    const cluster = await createProcessCluster(size, binary.path, binary.version, options);
    try {
      await cluster.start();
      await cluster.waitReady(options.startTimeoutMs ?? 30_000);
      for (const member of cluster.members) member.peerProxy?.refuseRequests(undefined);
      return cluster;
    } catch (error) {
      await cluster.close();
      lastError = error;
      // A port taken by another process between our check and etcd's bind: try again on other ports.
      if (!String((error as Error).message).includes('address already in use')) break;
    }
  }
  throw lastError;
}

/** A cluster of etcd child processes. Start one with {@link startProcessCluster}. */
export type ProcessCluster = EtcdCluster;

/** Allocates ports, proxies and dirs for every member, without starting them. */
async function createProcessCluster(
  size: number,
  etcdBin: string,
  version: string,
  options: StartClusterOptions,
): Promise<EtcdCluster> {
  const parent = options.dataDirRoot ?? tmpdir();
  mkdirSync(parent, { recursive: true });
  const root = mkdtempSync(join(parent, 'etcdkit-'));
  reapDir(root);
  const token = clusterToken();
  const ports = await freePorts(size * PORTS_PER_MEMBER);
  const port = (i: number, which: 0 | 1 | 2 | 3): number => ports[PORTS_PER_MEMBER * i + which]!;
  const proxies: TcpProxy[] = [];
  const release = async (): Promise<void> => {
    await Promise.all(proxies.map((proxy) => proxy.close()));
    rmSync(root, { recursive: true, force: true });
    forgetDir(root);
    releasePorts(ports);
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
  const tls = options.clientTLS;
  const scheme = tls ? 'https' : 'http';
  const tlsArgs = tls
    ? [
        `--cert-file=${tls.certFile}`,
        `--key-file=${tls.keyFile}`,
        ...(tls.trustedCAFile ? [`--trusted-ca-file=${tls.trustedCAFile}`, '--client-cert-auth=true'] : []),
      ]
    : [];
  const probeTLS = tls
    ? {
        ca: readFileSync(tls.trustedCAFile ?? tls.certFile),
        ...(tls.trustedCAFile ? { cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) } : {}),
      }
    : undefined;
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
      launcher: new ProcessLauncher(etcdBin, join(root, `${name}.etcd`), join(root, `${name}.log`)),
      args: (initialCluster, state) => [
        ...commonEtcdArgs(name, token, options),
        `--listen-client-urls=${directClientURL}`,
        `--advertise-client-urls=${clientURL}`,
        `--listen-peer-urls=http://${HOST}:${port(i, 1)}`,
        `--initial-advertise-peer-urls=${peerURL}`,
        `--initial-cluster=${initialCluster}`,
        `--initial-cluster-state=${state}`,
        ...tlsArgs,
        ...(options.extraArgs ?? []),
      ],
    });
  });
  return new EtcdCluster({
    backend: 'process',
    members,
    token,
    version,
    release,
    releaseSync: () => rmSync(root, { recursive: true, force: true }),
  });
}
