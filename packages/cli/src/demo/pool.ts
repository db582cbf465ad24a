import { type ChildProcess, fork } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { now } from '@etcdkit/testkit';
import type { MetricsSnapshot } from '../metrics.js';
import type { Role, WorkerEvent } from './protocol.js';

const WORKER_SCRIPT = new URL('./worker.js', import.meta.url);

/** One worker process. */
export interface Worker {
  readonly name: string;
  readonly role: Role;
  readonly child: ChildProcess;
  /** Set when the demo SIGKILLed it (wall-clock ms). */
  killedAt?: number;
}

/** True until the worker's process has exited, by itself or by a signal. */
function isRunning(worker: Worker): boolean {
  return worker.child.exitCode === null && worker.child.signalCode === null;
}

/** The demo's worker processes: starts them, relays their events, and stops every one of them by pid. */
export class WorkerPool extends EventEmitter<{
  event: [WorkerEvent];
  killed: [name: string, at: number];
  metrics: [name: string, metrics: MetricsSnapshot];
}> {
  readonly workers: Worker[] = [];
  readonly #endpoints: string;
  readonly #metrics: boolean;
  #serial = 0;

  /** With `metrics`, each worker collects its metrics and sends them (emitted as `metrics`). */
  constructor(endpoints: readonly string[], options: { metrics?: boolean } = {}) {
    super();
    this.#endpoints = endpoints.join(',');
    this.#metrics = options.metrics ?? false;
  }

  /** Starts a worker of `role`; resolves once it runs. */
  async spawn(role: Role, port = 0): Promise<Worker> {
    const name = `${role}-${++this.#serial}`;
    const args = [role, name, this.#endpoints, String(port), ...(this.#metrics ? ['metrics'] : [])];
    const child = fork(WORKER_SCRIPT, args, {
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    const worker: Worker = { name, role, child };
    this.workers.push(worker);
    // a killed worker's last messages may still be in the pipe: they describe a past it no longer has (but
    // its metrics, counted until then, still count)
    child.on('message', (event: WorkerEvent) => {
      if (event.type === 'metrics') this.emit('metrics', name, event.metrics);
      else if (worker.killedAt === undefined) this.emit('event', event);
    });
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('error', reject);
      child.once('exit', () => reject(new Error(`worker ${name} exited at start`)));
    });
    return worker;
  }

  /** The live worker called `name`. */
  get(name: string): Worker | undefined {
    return this.running().find((worker) => worker.name === name);
  }

  /** The workers still running, of `role` when given. */
  running(role?: Role): Worker[] {
    return this.workers.filter((worker) => isRunning(worker) && (role === undefined || worker.role === role));
  }

  /** Sends every live worker of `role` a message. */
  tell(role: Role, message: object): void {
    for (const worker of this.workers) {
      if (worker.role === role && worker.child.connected) worker.child.send(message);
    }
  }

  /**
   * SIGKILLs a worker and waits until it is gone; resolves to when it was killed (wall-clock ms), which is also
   * emitted as `killed`, so that whatever it held can be ended there.
   */
  async kill(worker: Worker): Promise<number> {
    const at = now();
    worker.killedAt = at;
    this.emit('killed', worker.name, at);
    await this.#signal(worker, 'SIGKILL');
    return at;
  }

  /** SIGTERM (a graceful stop) and wait; SIGKILL after 5 s. */
  async stop(worker: Worker): Promise<void> {
    const timer = setTimeout(() => worker.child.kill('SIGKILL'), 5000);
    await this.#signal(worker, 'SIGTERM');
    clearTimeout(timer);
  }

  /** Stops every worker: SIGTERM, then SIGKILL for any still running after `graceMs`. */
  async stopAll(graceMs = 3000): Promise<void> {
    const running = this.running();
    const timer = setTimeout(() => {
      for (const worker of running) worker.child.kill('SIGKILL');
    }, graceMs);
    await Promise.all(running.map((worker) => this.#signal(worker, 'SIGTERM')));
    clearTimeout(timer);
  }

  /**
   * Resolves once every worker's IPC channel has closed (all it sent has arrived), or after `timeoutMs`: after
   * {@link stopAll}, so that the workers' last metrics are in.
   */
  async drained(timeoutMs = 2000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const open = this.workers.filter((worker) => worker.child.connected);
    await Promise.race([
      Promise.all(open.map((worker) => new Promise((resolve) => worker.child.once('disconnect', resolve)))),
      new Promise((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
  }

  /** Synchronous SIGKILL of every worker, for exit paths. */
  killAllSync(): void {
    for (const worker of this.running()) worker.child.kill('SIGKILL');
  }

  async #signal(worker: Worker, signal: NodeJS.Signals): Promise<void> {
    const { child } = worker;
    if (!isRunning(worker)) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
  }
}
