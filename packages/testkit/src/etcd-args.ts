import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ClientTLSFiles, RaftTimings, StartClusterOptions } from './cluster.js';
import type { ProbeTLS } from './internal/http.js';

/** Resolves the `timings` option to etcd's `--heartbeat-interval` / `--election-timeout` in ms. */
export function raftTimings(timings: RaftTimings = 'fast'): { heartbeatMs: number; electionMs: number } {
  if (timings === 'fast') return { heartbeatMs: 50, electionMs: 250 };
  if (timings === 'default') return { heartbeatMs: 100, electionMs: 1000 };
  return timings;
}

/** A unique `--initial-cluster-token`. */
export function clusterToken(): string {
  return `etcdkit-${randomBytes(6).toString('hex')}`;
}

/** Where a member listens and what it advertises. */
export interface MemberURLs {
  readonly listenClient: string;
  readonly advertiseClient: string;
  readonly listenPeer: string;
  readonly advertisePeer: string;
}

/**
 * Every flag of one member on any backend: name, token, v2, raft timings, logging, its URLs, the initial
 * cluster, client TLS (`tlsArgs`) and the user's `extraArgs`. The data dir is the launcher's to add.
 */
export function memberArgs(
  name: string,
  token: string,
  options: StartClusterOptions,
  urls: MemberURLs,
  tlsArgs: readonly string[],
): (initialCluster: string, state: 'new' | 'existing') => string[] {
  const { heartbeatMs, electionMs } = raftTimings(options.timings);
  return (initialCluster, state) => [
    `--name=${name}`,
    `--initial-cluster-token=${token}`,
    '--enable-v2=true',
    `--heartbeat-interval=${heartbeatMs}`,
    `--election-timeout=${electionMs}`,
    '--logger=zap',
    '--log-outputs=stderr',
    `--listen-client-urls=${urls.listenClient}`,
    `--advertise-client-urls=${urls.advertiseClient}`,
    `--listen-peer-urls=${urls.listenPeer}`,
    `--initial-advertise-peer-urls=${urls.advertisePeer}`,
    `--initial-cluster=${initialCluster}`,
    `--initial-cluster-state=${state}`,
    ...tlsArgs,
    ...(options.extraArgs ?? []),
  ];
}

/** etcd's client TLS flags; `at` maps a host file to where the member sees it (a container path). */
export function clientTLSArgs(
  tls: ClientTLSFiles | undefined,
  at: (file: string) => string = (f) => f,
): string[] {
  if (!tls) return [];
  return [
    `--cert-file=${at(tls.certFile)}`,
    `--key-file=${at(tls.keyFile)}`,
    ...(tls.trustedCAFile ? [`--trusted-ca-file=${at(tls.trustedCAFile)}`, '--client-cert-auth=true'] : []),
  ];
}

/** What testkit's own probes present to https members: the CA, and a client certificate when asked for one. */
export function probeTLSFor(tls: ClientTLSFiles | undefined): ProbeTLS | undefined {
  if (!tls) return undefined;
  return {
    ca: readFileSync(tls.trustedCAFile ?? tls.certFile),
    ...(tls.trustedCAFile ? { cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) } : {}),
  };
}
