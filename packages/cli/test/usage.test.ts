import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { colourWanted } from '../src/demo/ui.js';
import { cli } from './run-cli.js';

/** The usage error a line gives: exit 2, one message in etcdkit's words, and a pointer to the command's help. */
async function usageError(args: readonly string[]): Promise<string> {
  const run = await cli(args);
  expect(run.code, `${args.join(' ')}\n${run.stderr}`).toBe(2);
  expect(run.stdout).toBe('');
  expect(run.stderr).not.toMatch(/parseArgs|ERR_PARSE_ARGS|To specify a positional argument/);
  return run.stderr;
}

describe('etcdkit: help and usage errors', () => {
  it('each command has its own help: etcdkit <command> --help and etcdkit help <command>', async () => {
    for (const args of [
      ['lock', '--help'],
      ['help', 'lock'],
    ]) {
      const run = await cli(args);
      expect(run.code, args.join(' ')).toBe(0);
      expect(run.stdout).toMatch(/^Usage: etcdkit lock <name> \[options\] -- <command\.\.\.>/);
      expect(run.stdout).toMatch(/--timeout <s>/);
      expect(run.stdout).not.toMatch(/--size/); // not the global help, nor another command's options
      expect(run.stdout).toMatch(/--endpoints <urls>/); // global options are listed too
    }
    const up = await cli(['cluster', 'up', '--help']);
    expect(up.stdout).toMatch(/--port <n>/);
    expect(up.stdout).toMatch(/-o, --output <format>/);
    const help = await cli(['registry', 'help', 'watch']);
    expect(help.stdout).toMatch(/^Usage: etcdkit registry watch/);
    const top = await cli(['--help']);
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(/lock \[options\] <name>/);
    expect(top.stdout).toMatch(/--debug/);
    expect((await cli(['--version'])).stdout.trim()).toBe('0.1.0');
  });

  it('no command, or a command without its action, prints help and exits 2', async () => {
    for (const args of [[], ['cluster'], ['registry']]) {
      const run = await cli(args);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr).toMatch(/^Usage: etcdkit/);
    }
  });

  it('a mistyped command or option gets a "did you mean"', async () => {
    expect(await usageError(['lok', 'x'])).toBe(
      "etcdkit: unknown command 'lok' (did you mean lock?)\nRun 'etcdkit --help' for usage.\n",
    );
    expect(await usageError(['registry', 'wacth', 'api'])).toMatch(/did you mean watch\?/);
    expect(await usageError(['lock', 'x', '--tll', '5', '--', 'true'])).toBe(
      "etcdkit lock: unknown option '--tll' (did you mean --ttl?)\nRun 'etcdkit lock --help' for usage.\n",
    );
    expect(await usageError(['registry', 'ls', 'api', '--endpoint', 'http://127.0.0.1:9'])).toMatch(
      /did you mean --endpoints\?/,
    );
  });

  it('an unknown flag is a usage error in our words, not parseArgs advice', async () => {
    expect(await usageError(['--no-such-flag'])).toMatch(/^etcdkit: unknown option '--no-such-flag'\n/);
    expect(await usageError(['lock', 'x', '--frobnicate', '--', 'true'])).toMatch(
      /^etcdkit lock: unknown option '--frobnicate'\nRun 'etcdkit lock --help' for usage\.\n$/,
    );
  });

  it('an option of one command given to another is an error that says whose option it is', async () => {
    expect(await usageError(['lock', 'x', '--size', '3', '--', 'true'])).toMatch(
      /^etcdkit lock: unknown option '--size' \(--size is an option of etcdkit demo, etcdkit cluster up\)/,
    );
    expect(await usageError(['registry', 'ls', 'api', '--ttl', '5'])).toMatch(/unknown option '--ttl'/);
    expect(await usageError(['elect', 'x', '--timeout', '3', '--', 'true'])).toMatch(
      /unknown option '--timeout' \(--timeout is an option of etcdkit lock\)/,
    );
    expect(await usageError(['registry', 'ls', 'api', '--', 'echo'])).toMatch(
      /only lock and elect run a command/,
    );
  });

  it('numbers are validated: --size abc, --ttl 0, --timeout -1, --port 70000 are usage errors', async () => {
    expect(await usageError(['demo', '--size', 'abc'])).toMatch(
      /^etcdkit demo: bad value for --size: want a whole number > 0, got "abc"\n/,
    );
    expect(await usageError(['cluster', 'up', '--size', '0'])).toMatch(/--size: want a whole number > 0/);
    expect(await usageError(['lock', 'x', '--ttl', '0', '--', 'true'])).toMatch(/--ttl: want a whole number/);
    expect(await usageError(['lock', 'x', '--timeout', '-1', '--', 'true'])).toMatch(
      /--timeout: want a number of seconds > 0, got "-1"/,
    );
    expect(await usageError(['elect', 'x', '--ttl', '1.5', '--', 'true'])).toMatch(
      /--ttl: want a whole number/,
    );
    expect(await usageError(['cluster', 'up', '--port', '70000'])).toMatch(/--port: want a TCP port/);
    expect(await usageError(['registry', 'ls', 'api', '-o', 'yaml'])).toMatch(
      /Allowed choices are text, json/,
    );
    expect(await usageError(['registry', 'ls', 'api', '--request-timeout', 'soon'])).toMatch(
      /--request-timeout: want a number of seconds/,
    );
  });

  it('lock and elect want their command after --', async () => {
    expect(await usageError(['lock'])).toMatch(/missing required argument 'name'/);
    expect(await usageError(['lock', 'x'])).toMatch(/a command to run is required after --/);
    expect(await usageError(['elect', 'x', 'echo', 'hi'])).toMatch(/the command to run goes after --/);
    expect(await usageError(['cluster', 'down'])).toMatch(/unknown command 'down'/);
    const bad = await usageError(['registry', 'ls', 'api', '--endpoints', 'ftp://x']);
    expect(bad).toMatch(
      /bad endpoint "ftp:\/\/x": want http\(s\):\/\/host:port\nRun 'etcdkit registry ls --help'/,
    );
  });
});

describe('colour', () => {
  it('only on a terminal, and never with NO_COLOR set or TERM=dumb', () => {
    expect(colourWanted(true, {})).toBe(true);
    expect(colourWanted(true, { NO_COLOR: '1' })).toBe(false);
    expect(colourWanted(true, { NO_COLOR: 'true' })).toBe(false);
    expect(colourWanted(true, { TERM: 'dumb' })).toBe(false);
    expect(colourWanted(false, {})).toBe(false);
    expect(colourWanted(undefined, {})).toBe(false);
  });
});

/** What the demo's ui module prints for a red word, on a real terminal (a pty from util-linux `script`). */
function onTerminal(env: Record<string, string>): string {
  const ui = fileURLToPath(new URL('../dist/demo/ui.js', import.meta.url));
  const program = `const ui = await import(${JSON.stringify(ui)}); ui.line(ui.red('word'));`;
  const command = `${process.execPath} --input-type=module -e ${JSON.stringify(program)}`;
  const env0 = { ...process.env };
  delete env0.NO_COLOR;
  return execFileSync('script', ['-qec', command, '/dev/null'], {
    env: { ...env0, TERM: 'xterm', ...env },
    encoding: 'utf8',
    timeout: 20_000,
  });
}

describe.skipIf(!hasScript())('colour on a terminal', () => {
  it('the demo colours its output on a terminal, and not with NO_COLOR', () => {
    expect(onTerminal({})).toContain('\u001b[31mword');
    const plain = onTerminal({ NO_COLOR: '1' });
    expect(plain).toContain('word');
    expect(plain).not.toContain('\u001b[');
  });
});

function hasScript(): boolean {
  try {
    execFileSync('script', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
