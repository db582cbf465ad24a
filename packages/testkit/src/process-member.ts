import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import type { Member, MemberState } from './cluster.js';
import { ClusterTimeoutError, MemberStateError } from './errors.js';
import { type ProbeTLS, sleep, tryGetJson } from './internal/http.js';
import { forgetPid, reapPid } from './internal/reaper.js';
import type { TcpProxy } from './tcp-proxy.js';

/** True when /proc says the process is stopped (`T`); true where /proc is missing, as there is no way to know. */
function isStopped(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state === 'T' || state === 't';
  } catch {
    return true;
  }
}

/** What a {@link ProcessMember} needs to run. */
export interface ProcessMemberSpec {
  readonly name: string;
  readonly etcdBin: string;
  readonly args: readonly string[];
  readonly clientURL: string;
  readonly peerURL: string;
  readonly logFile: string;
  readonly peerProxy: TcpProxy;
  /** TLS for probing the member's client URL, when it serves https. */
  readonly probeTLS?: ProbeTLS | undefined;
}

/** An etcd member run as a child process of the test. */
export class ProcessMember implements Member {
  readonly name: string;
  readonly clientURL: string;
  readonly peerURL: string;
  readonly peerProxy: TcpProxy;
  readonly #spec: ProcessMemberSpec;
  /** Set once the cluster has read the member list. */
  id = '';
  /** The other members, whose proxies block this one while it is isolated. */
  peers: readonly ProcessMember[] = [];
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #paused = false;
  #isolated = false;

  constructor(spec: ProcessMemberSpec) {
    this.#spec = spec;
    this.name = spec.name;
    this.clientURL = spec.clientURL;
    this.peerURL = spec.peerURL;
    this.peerProxy = spec.peerProxy;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  get state(): MemberState {
    if (!this.#child) return 'exited';
    return this.#paused ? 'paused' : 'running';
  }

  get isolated(): boolean {
    return this.#isolated;
  }

  /** The first and last lines etcd logged (where a bad flag or a fatal error shows), for error messages. */
  logTail(): string {
    let lines: string[];
    try {
      lines = readFileSync(this.#spec.logFile, 'utf8').trimEnd().split('\n');
    } catch {
      return '';
    }
    return lines.length <= 25
      ? lines.join('\n')
      : [...lines.slice(0, 5), '...', ...lines.slice(-15)].join('\n');
  }

  /** Starts the etcd process. `onExit` is called if it exits by itself. */
  spawn(): void {
    if (this.#child) throw new MemberStateError(`member ${this.name} is already running`);
    const log = openSync(this.#spec.logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(this.#spec.etcdBin, this.#spec.args, { stdio: ['ignore', log, log] });
    } finally {
      closeSync(log);
    }
    const pid = child.pid;
    if (pid === undefined)
      throw new MemberStateError(`could not start ${this.#spec.etcdBin} for ${this.name}`);
    reapPid(pid);
    this.#child = child;
    this.#paused = false;
    this.#exited = new Promise((resolve) => {
      child.once('exit', () => {
        forgetPid(pid);
        if (this.#child === child) this.#child = undefined;
        resolve();
      });
    });
    child.on('error', () => {});
  }

  async kill(): Promise<void> {
    this.#child?.kill('SIGKILL');
    await this.#exited;
  }

  async stop(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    child.kill('SIGTERM');
    if (this.#paused) child.kill('SIGCONT');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await this.#exited;
    clearTimeout(timer);
  }

  async pause(): Promise<void> {
    const child = this.#running('pause');
    child.kill('SIGSTOP');
    this.#paused = true;
    // SIGSTOP takes effect asynchronously: wait until the kernel shows the process stopped, so that nothing
    // sent after pause() resolves can still be answered.
    for (let i = 0; i < 200 && !isStopped(child.pid!); i++) await sleep(5);
  }

  async resume(): Promise<void> {
    if (!this.#child) throw new MemberStateError(`cannot resume member ${this.name}: it is not running`);
    this.#child.kill('SIGCONT');
    this.#paused = false;
  }

  async restart(options: { waitHealthy?: boolean } = {}): Promise<void> {
    await this.stop();
    this.spawn();
    if (options.waitHealthy !== false) await this.waitHealthy();
  }

  async isolate(): Promise<void> {
    this.#isolated = true;
    this.peerProxy.blackhole();
    for (const peer of this.peers) peer.peerProxy.blockSender(this.id);
  }

  async heal(): Promise<void> {
    this.#isolated = false;
    this.peerProxy.heal();
    for (const peer of this.peers) peer.peerProxy.unblockSender(this.id);
  }

  async waitHealthy(options: { timeoutMs?: number } = {}): Promise<void> {
    const { timeoutMs = 15_000 } = options;
    const deadline = performance.now() + timeoutMs;
    while (!(await this.healthy())) {
      if (!this.#child) throw new MemberStateError(`member ${this.name} exited:\n${this.logTail()}`);
      if (performance.now() > deadline) {
        throw new ClusterTimeoutError(
          `member ${this.name} not healthy within ${timeoutMs} ms:\n${this.logTail()}`,
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

  /** GET a JSON document from the member's client URL; `undefined` on any failure. */
  getJson<T>(path: string, timeoutMs: number): Promise<T | undefined> {
    return tryGetJson<T>(`${this.clientURL}${path}`, timeoutMs, this.#spec.probeTLS);
  }

  /** The TLS material testkit probes this member with. */
  get probeTLS(): ProbeTLS | undefined {
    return this.#spec.probeTLS;
  }

  #running(action: string): ChildProcess {
    if (!this.#child || this.#paused)
      throw new MemberStateError(`cannot ${action} member ${this.name}: it is ${this.state}`);
    return this.#child;
  }
}
