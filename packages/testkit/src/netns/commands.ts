import { execFile, execFileSync, spawnSync } from 'node:child_process';

/** A failed `ip` / `tc` / `iptables-restore` command: its argv and what it printed on stderr. */
export class CommandError extends Error {
  override name = 'CommandError';
  constructor(
    readonly argv: readonly string[],
    readonly stderr: string,
    options?: ErrorOptions,
  ) {
    super(`${argv.join(' ')}: ${stderr.trim() || 'failed'}`, options);
  }
}

/** Runs `file args` (with `input` on stdin), resolving to stdout; rejects with a {@link CommandError}. */
export function run(file: string, args: readonly string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { encoding: 'utf8', timeout: 10_000 }, (error, stdout, stderr) => {
      if (error) reject(new CommandError([file, ...args], stderr || error.message, { cause: error }));
      else resolve(stdout);
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** `ip args`. */
export const ip = (...args: string[]): Promise<string> => run('ip', args);

/** `ip netns exec <ns> file args` (with `input` on stdin). */
export const inNamespace = (
  ns: string,
  file: string,
  args: readonly string[],
  input?: string,
): Promise<string> => run('ip', ['netns', 'exec', ns, file, ...args], input);

/** `ip args`, synchronously, ignoring failure (for last-resort clean-up). */
export function ipSync(...args: string[]): void {
  spawnSync('ip', args, { stdio: 'ignore', timeout: 10_000 });
}

/** `ip -4 -j args` as parsed JSON. */
export function ipJsonSync<T>(...args: string[]): T {
  return JSON.parse(
    execFileSync('ip', ['-4', '-j', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }) ||
      '[]',
  ) as T;
}
