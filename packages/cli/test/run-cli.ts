import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../bin/etcdkit.js', import.meta.url));

/** A running `etcdkit` process, with its output so far. */
export interface Run {
  readonly child: ChildProcess;
  stdout: string;
  stderr: string;
  /** Resolves with the exit code (128 + n for a signal). */
  readonly exited: Promise<number>;
  /** Resolves once stdout matches `pattern`; rejects after `timeoutMs`, or at once if the process exits first. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
}

/** How to start the CLI. */
export interface StartOptions {
  /** A command line that runs the CLI's own (`node bin/etcdkit.js args...`), e.g. `unshare ...`. */
  readonly launcher?: readonly string[];
}

/** Starts `etcdkit args...`. */
export function startCli(
  args: readonly string[],
  env: Record<string, string> = {},
  options: StartOptions = {},
): Run {
  const [command, ...prefix] = [...(options.launcher ?? []), process.execPath, BIN, ...args] as [
    string,
    ...string[],
  ];
  const child = spawn(command, prefix, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1', ...env },
  });
  const run: Run = {
    child,
    stdout: '',
    stderr: '',
    exited: new Promise((resolve) =>
      child.once('close', (code, signal) => resolve(code ?? 128 + (signal === 'SIGKILL' ? 9 : 15))),
    ),
    waitFor(pattern, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          const match = pattern.exec(run.stdout);
          if (match) {
            clearInterval(timer);
            clearTimeout(deadline);
            resolve(match);
          }
          return Boolean(match);
        };
        let exited = false;
        const timer = setInterval(() => {
          if (check() || !exited) return;
          clearInterval(timer);
          clearTimeout(deadline);
          reject(new Error(`exited without ${pattern} in stdout:\n${run.stdout}\n${run.stderr}`));
        }, 20);
        const deadline = setTimeout(() => {
          clearInterval(timer);
          reject(new Error(`no ${pattern} in stdout within ${timeoutMs} ms:\n${run.stdout}\n${run.stderr}`));
        }, timeoutMs);
        void run.exited.then(() => {
          exited = true;
        });
        check();
      });
    },
  };
  child.stdout!.on('data', (chunk) => {
    run.stdout += chunk;
  });
  child.stderr!.on('data', (chunk) => {
    run.stderr += chunk;
  });
  return run;
}

/** Runs `etcdkit args...` to the end. */
export async function cli(
  args: readonly string[],
  env: Record<string, string> = {},
  options: StartOptions = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const run = startCli(args, env, options);
  const code = await run.exited;
  return { code, stdout: run.stdout, stderr: run.stderr };
}

/** True while a process with this pid exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
