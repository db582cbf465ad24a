import type { Link, Member, MemberState } from './cluster.js';
import { ClusterTimeoutError, MemberStateError, UnsupportedFaultError } from './errors.js';
import { type ProbeTLS, sleep, tryGetJson } from './internal/http.js';
import type { EtcdLauncher, NetworkAttachment } from './launchers/launcher.js';
import type { TcpProxy } from './tcp-proxy.js';

/** What an {@link EtcdMember} is made of. */
export interface EtcdMemberSpec {
  readonly name: string;
  /** The URL clients use: the client proxy's when there is one. */
  readonly clientURL: string;
  /** The member's own client URL, behind its client proxy; default {@link clientURL}. */
  readonly directClientURL?: string;
  /** The advertised peer URL: the peer proxy's when there is one. */
  readonly peerURL: string;
  readonly launcher: EtcdLauncher;
  /** etcd's flags, for a given `--initial-cluster` and `--initial-cluster-state`. */
  readonly args: (initialCluster: string, state: 'new' | 'existing') => readonly string[];
  /** A proxy in front of the advertised peer URL (process backend, Docker host network). */
  readonly peerProxy?: TcpProxy | undefined;
  /** A proxy in front of the advertised client URL, when the cluster was started with `clientProxies`. */
  readonly clientProxy?: TcpProxy | undefined;
  /** Isolation by the runtime (Docker bridge networks), used when there is no peer proxy. */
  readonly network?: NetworkAttachment | undefined;
  /** TLS for probing the member's client URL, when it serves https. */
  readonly probeTLS?: ProbeTLS | undefined;
}

/** An etcd member of a testkit cluster, on any backend. */
export class EtcdMember implements Member {
  readonly name: string;
  readonly clientURL: string;
  readonly peerURL: string;
  readonly peerProxy: TcpProxy | undefined;
  readonly clientProxy: TcpProxy | undefined;
  readonly launcher: EtcdLauncher;
  readonly #spec: EtcdMemberSpec;
  /** Set once the cluster has read the member list (and again after {@link EtcdCluster.replace}). */
  id = '';
  /** The other members, whose proxies block this one while it is isolated. */
  peers: readonly EtcdMember[] = [];
  #paused = false;
  #isolated = false;
  /** The initial flags of the last start; a restart repeats them (etcd ignores them once it has data). */
  #startedWith: { initialCluster: string; state: 'new' | 'existing' } = { initialCluster: '', state: 'new' };

  constructor(spec: EtcdMemberSpec) {
    this.#spec = spec;
    this.name = spec.name;
    this.clientURL = spec.clientURL;
    this.peerURL = spec.peerURL;
    this.peerProxy = spec.peerProxy;
    this.clientProxy = spec.clientProxy;
    this.launcher = spec.launcher;
  }

  get pid(): number | undefined {
    return this.launcher.pid;
  }

  get state(): MemberState {
    if (!this.launcher.running) return 'exited';
    return this.#paused ? 'paused' : 'running';
  }

  get isolated(): boolean {
    return this.#isolated;
  }

  /** The TLS material testkit probes this member with. */
  get probeTLS(): ProbeTLS | undefined {
    return this.#spec.probeTLS;
  }

  /** Starts etcd with `--initial-cluster` / `--initial-cluster-state` as given. */
  async start(initialCluster: string, state: 'new' | 'existing'): Promise<void> {
    if (this.launcher.running) throw new MemberStateError(`member ${this.name} is already running`);
    this.#paused = false;
    this.#startedWith = { initialCluster, state };
    await this.launcher.start(this.#spec.args(initialCluster, state));
  }

  logTail(): Promise<string> {
    return this.launcher.logTail();
  }

  async kill(): Promise<void> {
    await this.launcher.signal('SIGKILL');
    await this.launcher.exited;
    this.#paused = false;
  }

  async stop(): Promise<void> {
    if (!this.launcher.running) return;
    await this.launcher.signal('SIGTERM');
    this.#paused = false;
    const timer = setTimeout(() => void this.launcher.signal('SIGKILL'), 10_000);
    await this.launcher.exited;
    clearTimeout(timer);
  }

  async pause(): Promise<void> {
    this.#mustRun('pause');
    await this.launcher.pause();
    this.#paused = true;
  }

  async resume(): Promise<void> {
    if (!this.launcher.running)
      throw new MemberStateError(`cannot resume member ${this.name}: it is not running`);
    await this.launcher.resume();
    this.#paused = false;
  }

  async restart(options: { waitHealthy?: boolean } = {}): Promise<void> {
    await this.stop();
    await this.start(this.#startedWith.initialCluster, this.#startedWith.state);
    if (options.waitHealthy !== false) await this.waitHealthy();
  }

  async isolate(): Promise<void> {
    this.#isolated = true;
    if (this.peerProxy) {
      this.peerProxy.blackhole();
      for (const peer of this.peers) peer.peerProxy?.blockSender(this.id);
    } else if (this.#spec.network) {
      await this.#spec.network.disconnect();
    } else {
      throw new UnsupportedFaultError(`member ${this.name} has no way to be isolated`);
    }
  }

  async heal(): Promise<void> {
    const wasIsolated = this.#isolated;
    this.#isolated = false;
    this.peerProxy?.heal();
    this.clientProxy?.heal();
    for (const peer of this.peers) peer.peerProxy?.unblockSender(this.id);
    if (wasIsolated && !this.peerProxy) await this.#spec.network?.connect();
  }

  async delay(ms: number, options: { jitterMs?: number; link?: Link } = {}): Promise<void> {
    this.#proxy(options.link ?? 'peer', 'delay').delay(ms, options.jitterMs ?? 0);
  }

  async dropConnections(fraction: number, options: { link?: Link } = {}): Promise<void> {
    this.#proxy(options.link ?? 'peer', 'drop connections').dropConnections(fraction);
  }

  async resetConnections(options: { link?: Link } = {}): Promise<void> {
    this.#proxy(options.link ?? 'client', 'reset connections').resetConnections();
  }

  async waitHealthy(options: { timeoutMs?: number } = {}): Promise<void> {
    const { timeoutMs = 15_000 } = options;
    const deadline = performance.now() + timeoutMs;
    while (!(await this.healthy())) {
      if (!this.launcher.running)
        throw new MemberStateError(`member ${this.name} exited:\n${await this.logTail()}`);
      if (performance.now() > deadline) {
        throw new ClusterTimeoutError(
          `member ${this.name} not healthy within ${timeoutMs} ms:\n${await this.logTail()}`,
        );
      }
      await sleep(20);
    }
  }

  /** One `/health` probe. */
  async healthy(): Promise<boolean> {
    if (this.state !== 'running') return false;
    const reply = await this.getJson<{ health?: string }>('/health', 500);
    return reply?.health === 'true';
  }

  /** GET a JSON document from the member (past its client proxy); `undefined` on any failure. */
  getJson<T>(path: string, timeoutMs: number): Promise<T | undefined> {
    return tryGetJson<T>(`${this.directClientURL}${path}`, timeoutMs, this.#spec.probeTLS);
  }

  /** The member's own client URL, behind its client proxy if it has one: what testkit probes. */
  get directClientURL(): string {
    return this.#spec.directClientURL ?? this.clientURL;
  }

  #proxy(link: Link, fault: string): TcpProxy {
    const proxy = link === 'peer' ? this.peerProxy : this.clientProxy;
    if (!proxy) {
      throw new UnsupportedFaultError(
        `cannot ${fault} on the ${link} link of ${this.name}: it has no ${link} proxy` +
          (link === 'client'
            ? ' (start the cluster with clientProxies: true)'
            : ' (Docker bridge networks have none)'),
      );
    }
    return proxy;
  }

  #mustRun(action: string): void {
    if (this.state !== 'running')
      throw new MemberStateError(`cannot ${action} member ${this.name}: it is ${this.state}`);
  }
}
