import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Cluster, Member, RaftTimings, StartClusterOptions } from './cluster.js';
import { ClusterStartError } from './errors.js';
import { resolveEtcdBinary } from './etcd-binary.js';
import { putKey, sleep } from './internal/http.js';
import { probeLeader, waitForLeader } from './internal/leader.js';
import { forgetDir, reapDir } from './internal/reaper.js';
import { freePorts, releasePorts } from './ports.js';
import { ProcessMember } from './process-member.js';
import { TcpProxy } from './tcp-proxy.js';

const HOST = '127.0.0.1';
const START_ATTEMPTS = 3;
/**
 * A booting member asks each peer for `/members` (etcd's isMemberBootstrapped) with a 1 s timeout. Peers of a
 * new cluster are bound but not yet serving, so each ask would wait out that second; refusing it at the proxy
 * fails it fast, which is what etcd expects of a new cluster. Lifted once the cluster is ready.
 */
const BOOTSTRAP_PROBE = /^GET \/members /;

/** Clusters not yet closed: killed synchronously if the process exits without closing them. */
const liveClusters = new Set<ProcessCluster>();
process.once('exit', () => {
  for (const cluster of liveClusters) cluster.closeSync();
});

/** Resolves the `timings` option to etcd's `--heartbeat-interval` / `--election-timeout` in ms. */
export function raftTimings(timings: RaftTimings = 'fast'): { heartbeatMs: number; electionMs: number } {
  if (timings === 'fast') return { heartbeatMs: 50, electionMs: 250 };
  if (timings === 'default') return { heartbeatMs: 100, electionMs: 1000 };
  return timings;
}

/**
 * Starts an N-member etcd v2 cluster as child processes on free loopback ports: all members at once, each with
 * its own data dir, one unique cluster token, and a {@link TcpProxy} in front of each advertised peer URL for
 * network faults. Resolves when a majority follows one leader and a v2 write succeeds. If anything fails on
 * the way, everything started so far is killed and removed before the error is thrown.
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
    const cluster = await ProcessCluster.create(size, binary.path, binary.version, options);
    try {
      await cluster.waitReady(options.startTimeoutMs ?? 30_000);
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

/** A cluster of etcd child processes. Create it with {@link startProcessCluster}. */
export class ProcessCluster implements Cluster {
  readonly members: readonly ProcessMember[];
  readonly clientURLs: readonly string[];
  readonly token: string;
  readonly version: string;
  readonly #root: string;
  readonly #ports: number[];
  #closed = false;

  private constructor(
    members: ProcessMember[],
    token: string,
    version: string,
    root: string,
    ports: number[],
  ) {
    this.members = members;
    this.clientURLs = members.map((member) => member.clientURL);
    this.token = token;
    this.version = version;
    this.#root = root;
    this.#ports = ports;
    for (const member of members) member.peers = members.filter((other) => other !== member);
  }

  /** Allocates ports, proxies and dirs and spawns every member, without waiting for them. */
  static async create(
    size: number,
    etcdBin: string,
    version: string,
    options: StartClusterOptions,
  ): Promise<ProcessCluster> {
    const parent = options.dataDirRoot ?? tmpdir();
    mkdirSync(parent, { recursive: true });
    const root = mkdtempSync(join(parent, 'etcdkit-'));
    reapDir(root);
    const token = `etcdkit-${randomBytes(6).toString('hex')}`;
    const ports = await freePorts(size * 3);
    const { heartbeatMs, electionMs } = raftTimings(options.timings);
    const proxies: TcpProxy[] = [];
    try {
      for (let i = 0; i < size; i++) {
        const proxy = await TcpProxy.start({ listenPort: ports[3 * i + 2]!, targetPort: ports[3 * i + 1]! });
        proxy.refuseRequests(BOOTSTRAP_PROBE);
        proxies.push(proxy);
      }
    } catch (error) {
      await Promise.all(proxies.map((proxy) => proxy.close()));
      rmSync(root, { recursive: true, force: true });
      releasePorts(ports);
      throw error;
    }
    const names = Array.from({ length: size }, (_, i) => `m${i}`);
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
    const peerURL = (i: number): string => `http://${HOST}:${ports[3 * i + 2]}`;
    const initialCluster = names.map((name, i) => `${name}=${peerURL(i)}`).join(',');
    const members = names.map((name, i) => {
      const clientURL = `${scheme}://${HOST}:${ports[3 * i]}`;
      return new ProcessMember({
        name,
        etcdBin,
        clientURL,
        peerURL: peerURL(i),
        logFile: join(root, `${name}.log`),
        peerProxy: proxies[i]!,
        probeTLS,
        args: [
          `--name=${name}`,
          `--data-dir=${join(root, `${name}.etcd`)}`,
          `--listen-client-urls=${clientURL}`,
          `--advertise-client-urls=${clientURL}`,
          `--listen-peer-urls=http://${HOST}:${ports[3 * i + 1]}`,
          `--initial-advertise-peer-urls=${peerURL(i)}`,
          `--initial-cluster=${initialCluster}`,
          `--initial-cluster-token=${token}`,
          '--initial-cluster-state=new',
          '--enable-v2=true',
          `--heartbeat-interval=${heartbeatMs}`,
          `--election-timeout=${electionMs}`,
          '--logger=zap',
          '--log-outputs=stderr',
          ...tlsArgs,
          ...(options.extraArgs ?? []),
        ],
      });
    });
    const cluster = new ProcessCluster(members, token, version, root, ports);
    liveClusters.add(cluster);
    try {
      for (const member of members) member.spawn();
    } catch (error) {
      await cluster.close();
      throw error;
    }
    return cluster;
  }

  /** Waits until every member is healthy, a leader is agreed on and a v2 write succeeds. */
  async waitReady(timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    const fail = (why: string): never => {
      const logs = this.members.map((m) => `--- ${m.name} (${m.state})\n${m.logTail()}`).join('\n');
      throw new ClusterStartError(`etcd cluster did not start: ${why}\n${logs}`);
    };
    for (;;) {
      if (this.members.some((member) => member.state === 'exited')) fail('a member exited');
      const health = await Promise.all(this.members.map((member) => member.healthy()));
      if (health.every(Boolean)) break;
      if (performance.now() > deadline) fail(`not healthy within ${timeoutMs} ms`);
      await sleep(10);
    }
    const list = await this.members[0]!.getJson<{ members: { id: string; name: string }[] }>(
      '/v2/members',
      2000,
    );
    for (const member of this.members) {
      const id = list?.members.find((entry) => entry.name === member.name)?.id;
      if (!id) fail(`member ${member.name} missing from /v2/members`);
      member.id = id!;
    }
    await this.waitForLeader({ timeoutMs: Math.max(1000, deadline - performance.now()) });
    for (;;) {
      const first = this.members[0]!;
      const status = await putKey(first.clientURL, '/_etcdkit/ready', this.token, 2000, first.probeTLS).catch(
        () => 0,
      );
      if (status === 200 || status === 201) {
        for (const member of this.members) member.peerProxy.refuseRequests(undefined);
        return;
      }
      if (performance.now() > deadline) fail(`v2 write answered ${status}`);
      await sleep(20);
    }
  }

  leader(): Promise<Member | undefined> {
    return probeLeader(this.members);
  }

  waitForLeader(options?: { timeoutMs?: number; exclude?: readonly Member[] }): Promise<Member> {
    return waitForLeader(this.members, options);
  }

  async healAll(): Promise<void> {
    for (const member of this.members) await member.heal();
  }

  async restoreAll(options: { timeoutMs?: number } = {}): Promise<void> {
    await this.healAll();
    for (const member of this.members) {
      if (member.state === 'paused') await member.resume();
      if (member.state === 'exited') await member.restart({ waitHealthy: false });
    }
    for (const member of this.members) await member.waitHealthy(options);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    liveClusters.delete(this);
    await Promise.all(this.members.map((member) => member.kill()));
    await Promise.all(this.members.map((member) => member.peerProxy.close()));
    rmSync(this.#root, { recursive: true, force: true });
    forgetDir(this.#root);
    releasePorts(this.#ports);
  }

  /** Synchronous last-resort cleanup, for `process.on('exit')`. */
  closeSync(): void {
    for (const member of this.members) {
      if (member.pid !== undefined) {
        try {
          process.kill(member.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    rmSync(this.#root, { recursive: true, force: true });
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
