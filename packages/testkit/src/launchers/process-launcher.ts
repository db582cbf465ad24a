import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync } from 'node:fs';
import { MemberStateError } from '../errors.js';
import { sleep } from '../internal/http.js';
import { forgetPid, reapPid } from '../internal/reaper.js';
import type { EtcdLauncher } from './launcher.js';

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

/** The first and last lines of a log file (where a bad flag or a fatal error shows). */
export function tailOfLog(text: string): string {
  const lines = text.trimEnd().split('\n');
  return lines.length <= 25
    ? lines.join('\n')
    : [...lines.slice(0, 5), '...', ...lines.slice(-15)].join('\n');
}

/** Runs etcd as a child process of the test, logging to a file; the reaper kills it if the test dies. */
export class ProcessLauncher implements EtcdLauncher {
  readonly kind = 'process';
  readonly #etcdBin: string;
  readonly #dataDir: string;
  readonly #logFile: string;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();

  constructor(etcdBin: string, dataDir: string, logFile: string) {
    this.#etcdBin = etcdBin;
    this.#dataDir = dataDir;
    this.#logFile = logFile;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  get running(): boolean {
    return this.#child !== undefined;
  }

  get exited(): Promise<void> {
    return this.#exited;
  }

  async start(args: readonly string[]): Promise<void> {
    const log = openSync(this.#logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(this.#etcdBin, [...args, `--data-dir=${this.#dataDir}`], { stdio: ['ignore', log, log] });
    } finally {
      closeSync(log);
    }
    const pid = child.pid;
    if (pid === undefined) throw new MemberStateError(`could not start ${this.#etcdBin}`);
    reapPid(pid);
    this.#child = child;
    this.#exited = new Promise((resolve) => {
      child.once('exit', () => {
        forgetPid(pid);
        if (this.#child === child) this.#child = undefined;
        resolve();
      });
    });
    child.on('error', () => {});
  }

  async signal(signal: 'SIGKILL' | 'SIGTERM'): Promise<void> {
    this.#child?.kill(signal);
    // a stopped process acts on SIGTERM only once continued
    if (signal === 'SIGTERM') this.#child?.kill('SIGCONT');
  }

  async pause(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    child.kill('SIGSTOP');
    // SIGSTOP takes effect asynchronously: wait until the kernel shows the process stopped, so that nothing
    // sent after pause() resolves can still be answered.
    for (let i = 0; i < 200 && !isStopped(child.pid!); i++) await sleep(5);
  }

  async resume(): Promise<void> {
    this.#child?.kill('SIGCONT');
  }

  async wipe(): Promise<void> {
    rmSync(this.#dataDir, { recursive: true, force: true });
  }

  async logTail(): Promise<string> {
    try {
      return tailOfLog(readFileSync(this.#logFile, 'utf8'));
    } catch {
      return '';
    }
  }

  async dispose(): Promise<void> {
    this.#child?.kill('SIGKILL');
    await this.#exited;
  }

  disposeSync(): void {
    const pid = this.#child?.pid;
    if (pid === undefined) return;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
