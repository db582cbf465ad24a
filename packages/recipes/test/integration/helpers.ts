import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Client, type ClientConfig, KeysAPI } from '@etcdkit/client';
import { afterAll } from 'vitest';

const WORKER = fileURLToPath(new URL('../workers/lock-worker.mjs', import.meta.url));
/** Runs several contenders of the semaphore, election or RW lock recipe in one process. */
export const RECIPE_WORKER = fileURLToPath(new URL('../workers/recipe-worker.mjs', import.meta.url));

// Bounds come from the mechanism, with room for a loaded 2-core CI machine; speed is the benchmarks' business.
// The leader removes expired v2 keys at its SYNC tick (every 500 ms), so a key that is no longer refreshed is
// gone at most TTL + 500 ms after its last refresh; a watcher then hears of it in one notify.
const EXPIRY_TICK_MS = 500;
export const LOADED_MACHINE_HEADROOM_MS = 2000;
/** How long after its last refresh a key of `ttlSeconds` is surely gone and its watchers told. */
export const expiryBoundMs = (ttlSeconds: number): number =>
  ttlSeconds * 1000 + EXPIRY_TICK_MS + LOADED_MACHINE_HEADROOM_MS;

/** A contender process; `events` fills with the JSON lines it prints. */
export interface Worker {
  readonly child: ChildProcess;
  readonly events: Record<string, unknown>[];
  /** Resolves with the first event matching `predicate`. */
  next(
    predicate: (event: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  exited: Promise<number | null>;
}

export function startWorker(args: string[], script = WORKER): Worker {
  return followWorker(spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] }));
}

/** A worker process started elsewhere (e.g. in a network namespace), its stdout piped: its JSON lines as events. */
export function followWorker(child: ChildProcess): Worker {
  const events: Record<string, unknown>[] = [];
  const waiters: (() => void)[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    events.push(JSON.parse(line) as Record<string, unknown>);
    for (const wake of waiters.splice(0)) wake();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    events,
    exited,
    async next(predicate, timeoutMs = 30_000) {
      const deadline = performance.now() + timeoutMs;
      for (;;) {
        const found = events.find(predicate);
        if (found) return found;
        if (performance.now() > deadline)
          throw new Error(`worker ${child.pid}: no matching event in ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 100);
        });
      }
    },
  };
}

/** Kills a worker if it still runs, by its pid. */
export function stopWorker(worker: Worker): void {
  if (worker.child.exitCode === null && worker.child.pid) {
    try {
      process.kill(worker.child.pid, 'SIGCONT');
      process.kill(worker.child.pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
}

/**
 * A KeysAPI factory for one test file: each call makes a client of its own (so contenders do not share a
 * local lock queue), and every client is closed after the file's tests.
 */
export function keysFactory(
  endpoints: () => readonly string[],
  config: Partial<ClientConfig> = {},
): (override?: Partial<ClientConfig>) => KeysAPI {
  const clients: Client[] = [];
  afterAll(async () => {
    for (const client of clients) await client.close();
  });
  return (override = {}) => {
    const client = new Client({ endpoints: endpoints(), ...config, ...override });
    clients.push(client);
    return new KeysAPI(client);
  };
}

/** Puts a client's endpoints in a known order (the first is pinned): setEndpoints shuffles, so retry until it fits. */
export function pinOrder(client: Client, endpoints: readonly string[]): void {
  for (let i = 0; i < 1000; i++) {
    if (client.endpoints().join() === endpoints.join()) return;
    client.setEndpoints(endpoints);
  }
  throw new Error('could not order endpoints');
}
