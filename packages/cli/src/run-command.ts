import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { EXIT_LOST, EXIT_SIGINT, EXIT_SIGTERM, UsageError } from './usage.js';

const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
const KILL_AFTER_MS = 10_000;

/**
 * Runs `command` with `env` added, forwarding SIGINT, SIGTERM and SIGHUP to it, until it exits or `lost`
 * aborts; then it gets SIGTERM (SIGKILL after 10 s). Resolves to the exit code to leave with: the command's,
 * 128 + n when it died of signal n, or {@link EXIT_LOST} when `lost` aborted.
 */
export async function runWhile(
  command: readonly string[],
  env: Record<string, string>,
  lost: AbortSignal,
  log: (line: string) => void,
): Promise<number> {
  const [file, ...args] = command;
  if (!file) throw new UsageError('a command is required after --');
  const child = spawn(file, args, { stdio: 'inherit', env: { ...process.env, ...env } });
  const forward = (signal: NodeJS.Signals): void => {
    child.kill(signal);
  };
  for (const signal of FORWARDED) process.on(signal, forward);
  let wasLost = false;
  let killTimer: NodeJS.Timeout | undefined;
  const onLost = (): void => {
    wasLost = true;
    log(`etcdkit: ${(lost.reason as Error)?.message ?? 'lost'}; stopping the command`);
    child.kill('SIGTERM');
    killTimer = setTimeout(() => child.kill('SIGKILL'), KILL_AFTER_MS);
  };
  if (lost.aborted) onLost();
  else lost.addEventListener('abort', onLost, { once: true });
  try {
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
      child.once('error', (error) =>
        reject(
          new UsageError(`cannot run ${JSON.stringify(file)}: ${(error as NodeJS.ErrnoException).code}`),
        ),
      );
      child.once('exit', (exitCode, exitSignal) => resolve([exitCode, exitSignal]));
    });
    if (wasLost) return EXIT_LOST;
    if (signal) return 128 + (constants.signals[signal] ?? 0);
    return code ?? 1;
  } finally {
    clearTimeout(killTimer);
    lost.removeEventListener('abort', onLost);
    for (const signal of FORWARDED) process.off(signal, forward);
  }
}

/** The signal that interrupted a wait: its exit code is 128 + its number (130 for SIGINT). */
export class Interrupted extends Error {
  override name = 'Interrupted';
  readonly signal: 'SIGINT' | 'SIGTERM';
  constructor(signal: 'SIGINT' | 'SIGTERM') {
    super(`interrupted by ${signal}`);
    this.signal = signal;
  }
  /** 130 for SIGINT, 143 for SIGTERM. */
  get exitCode(): number {
    return this.signal === 'SIGINT' ? EXIT_SIGINT : EXIT_SIGTERM;
  }
}

/** An AbortSignal that aborts with an {@link Interrupted} on the first SIGINT or SIGTERM (while waiting for a lock, say). */
export function interrupted(): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const onInt = (): void => controller.abort(new Interrupted('SIGINT'));
  const onTerm = (): void => controller.abort(new Interrupted('SIGTERM'));
  // `on`, not `once`, until disposed: a `once` listener is gone by the time the next listener runs, and
  // signal-exit (loaded by testcontainers' dependencies for the Docker backend) then sees itself alone and
  // re-raises the signal, killing the process before it could clean up. Later signals abort nothing more.
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
    },
  };
}

/** Waits for `promise` at most `ms` (cleanup against an endpoint that does not answer must not hang the exit). */
export async function settleWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    promise.catch(() => {}),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]);
  clearTimeout(timer);
}

/** What `lock` and `elect` hold while the command runs. */
export interface Holding {
  /** Aborts when what is held is lost. */
  readonly signal: AbortSignal;
  /** Variables for the command (the fencing token, the key). */
  readonly env: Record<string, string>;
  release(): Promise<void>;
}

/**
 * Takes something (`take` gets a signal that aborts on Ctrl-C while waiting), runs `command` while it is held
 * (see {@link runWhile}), and releases it when the command ends.
 */
export async function runHolding(
  take: (interrupt: AbortSignal) => Promise<Holding>,
  command: readonly string[],
  log: (line: string) => void,
): Promise<number> {
  const interrupt = interrupted();
  let holding: Holding;
  try {
    holding = await take(interrupt.signal);
  } catch (error) {
    // Ctrl-C while waiting: the waiter's key is removed by then; exit as a shell reports the signal.
    if (interrupt.signal.aborted && interrupt.signal.reason instanceof Interrupted) {
      log(`etcdkit: ${interrupt.signal.reason.message} while waiting; nothing was run`);
      return interrupt.signal.reason.exitCode;
    }
    throw error;
  } finally {
    interrupt.dispose();
  }
  try {
    return await runWhile(command, holding.env, holding.signal, log);
  } finally {
    await holding.release().catch(() => {});
  }
}
