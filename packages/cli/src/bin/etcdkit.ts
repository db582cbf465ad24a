#!/usr/bin/env node
/** The `etcdkit` command line. See `etcdkit --help`. */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { EtcdError } from '@etcdkit/client';
import { clusterUpCommand } from '../commands/cluster-up.js';
import { electCommand } from '../commands/elect.js';
import { lockCommand } from '../commands/lock.js';
import { registryCommand } from '../commands/registry.js';
import { GLOBAL_OPTIONS } from '../global-options.js';
import { HELP, UsageError } from '../usage.js';

const COMMAND_OPTIONS = {
  ...GLOBAL_OPTIONS,
  ttl: { type: 'string' },
  timeout: { type: 'string' },
  value: { type: 'string' },
  json: { type: 'boolean' },
  size: { type: 'string' },
  backend: { type: 'string' },
  image: { type: 'string' },
  network: { type: 'string' },
} as const;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

const out = (line: string): void => {
  process.stdout.write(`${line}\n`);
};
const err = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

async function main(argv: readonly string[]): Promise<number> {
  const dashes = argv.indexOf('--');
  const own = dashes >= 0 ? argv.slice(0, dashes) : [...argv];
  const command = dashes >= 0 ? argv.slice(dashes + 1) : [];
  let parsed: ReturnType<typeof parseArgs<{ options: typeof COMMAND_OPTIONS; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: own, options: COMMAND_OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.version) {
    out(version());
    return 0;
  }
  const [verb, first, second] = positionals;
  if (values.help || !verb) {
    out(HELP);
    return verb || values.help ? 0 : 2;
  }
  switch (verb) {
    case 'demo': {
      const { runDemo } = await import('../demo/run-demo.js');
      return runDemo({ size: values.size ? Number(values.size) : 3 });
    }
    case 'cluster':
      return clusterUpCommand(first, values, out);
    case 'lock':
      return lockCommand(first, command, values, err);
    case 'elect':
      return electCommand(first, command, values, err);
    case 'registry':
      return registryCommand(first, second, values, out);
    default:
      throw new UsageError(`unknown command ${JSON.stringify(verb)}`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof UsageError) {
      err(`etcdkit: ${error.message}\nRun etcdkit --help for usage.`);
      process.exitCode = 2;
      return;
    }
    const message =
      error instanceof EtcdError
        ? `etcd error ${error.errorCode}: ${error.message}`
        : (error as Error)?.message;
    err(`etcdkit: ${message ?? String(error)}`);
    process.exitCode = 1;
  },
);
