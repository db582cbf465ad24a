#!/usr/bin/env node
/** The `etcdkit` command line. See `etcdkit --help`. */
import type { Command, CommanderError } from 'commander';
import { type ClusterUpValues, clusterUpCommand } from '../commands/cluster-up.js';
import { type ElectCommandValues, electCommand } from '../commands/elect.js';
import { type LockCommandValues, lockCommand } from '../commands/lock.js';
import { type RegistryCommandValues, registryCommand } from '../commands/registry.js';
import { explain } from '../errors.js';
import { DEFAULT_REQUEST_TIMEOUT_S, endpointsOf, type GlobalValues } from '../global-options.js';
import { allCommands, buildProgram, type Invocation } from '../program.js';
import { debug, isDebugging, startTrace } from '../trace.js';
import { EXIT_ERROR, EXIT_USAGE, UsageError } from '../usage.js';

const out = (line: string): void => {
  process.stdout.write(`${line}\n`);
};
const err = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

/** `cluster up` for the `up` subcommand of `cluster`: the words a user types, without `etcdkit`. */
function pathOf(command: Command): string {
  const names: string[] = [];
  for (let at: Command | null = command; at?.parent; at = at.parent) names.unshift(at.name());
  return names.join(' ');
}

/** A usage error raised while commander parsed `command`'s line. */
class ParseError extends Error {
  override name = 'ParseError';
  /** commander's code, e.g. `commander.unknownOption`. */
  readonly code: string;
  readonly command: Command;
  /** 0 after --help or --version, else {@link EXIT_USAGE}. */
  readonly exitCode: number;
  constructor(error: CommanderError, command: Command) {
    super(error.message, { cause: error });
    this.code = error.code;
    this.command = command;
    this.exitCode = error.exitCode === 0 ? 0 : EXIT_USAGE;
  }
}

/** Which commands take a long option: to say "--size is an option of demo, cluster up" when it is misplaced. */
function ownersOf(program: Command, flag: string): string[] {
  return allCommands(program)
    .filter((command) => command.parent && command.options.some((option) => option.long === flag))
    .map(pathOf);
}

function usageMessage(error: ParseError, program: Command): string {
  let text = error.message
    .replace(/^error: /, '')
    .replace(/^option '([^' ]+)[^']*' argument '(.*)' is invalid\. /s, 'bad value for $1: ')
    .replace(/^command-argument value '(.*)' is invalid for argument '(.+)'\. /s, 'bad $2: ');
  const suggestion = /\n\(Did you mean (.+)\?\)$/.exec(text);
  if (suggestion) text = `${text.slice(0, suggestion.index)} (did you mean ${suggestion[1]}?)`;
  if (error.code === 'commander.unknownOption' && !suggestion) {
    const flag = /'(--[^'=]+)/.exec(text)?.[1];
    const owners = flag ? ownersOf(program, flag).filter((owner) => owner !== pathOf(error.command)) : [];
    if (owners.length) text += ` (${flag} is an option of ${owners.map((o) => `etcdkit ${o}`).join(', ')})`;
  }
  if (error.code === 'commander.excessArguments' && ['lock', 'elect'].includes(pathOf(error.command)))
    text += ` (the command to run goes after --: etcdkit ${pathOf(error.command)} <name> -- <command...>)`;
  return text;
}

function helpHint(command: Command | undefined): string {
  const path = command ? pathOf(command) : '';
  return `Run 'etcdkit ${path ? `${path} ` : ''}--help' for usage.`;
}

async function main(argv: readonly string[]): Promise<number> {
  const dashes = argv.indexOf('--');
  const own = dashes >= 0 ? argv.slice(0, dashes) : [...argv];
  const tail = dashes >= 0 ? argv.slice(dashes + 1) : [];
  let invocation: Invocation | undefined;
  let current: Command | undefined;
  const program = buildProgram((parsed) => {
    invocation = parsed;
  });
  program.hook('preAction', (_program, action) => {
    current = action;
  });
  for (const command of allCommands(program)) {
    command.exitOverride((error) => {
      throw new ParseError(error, command);
    });
    command.configureOutput({ outputError: () => {} });
  }
  try {
    await program.parseAsync(own, { from: 'user' });
  } catch (error) {
    if (!(error instanceof ParseError)) throw error;
    if (error.exitCode === 0) return 0; // --help, --version
    // `etcdkit` or `etcdkit cluster` alone: commander printed the help to stderr.
    if (error.code === 'commander.help') return EXIT_USAGE;
    err(
      `etcdkit${pathOf(error.command) ? ` ${pathOf(error.command)}` : ''}: ${usageMessage(error, program)}`,
    );
    err(helpHint(error.command));
    return EXIT_USAGE;
  }
  if (!invocation) return EXIT_USAGE;
  const where = `etcdkit ${pathOf(current!)}`;
  try {
    return await dispatch(invocation, tail);
  } catch (error) {
    if (error instanceof UsageError) {
      err(`${where}: ${error.message}`);
      err(helpHint(current));
      return EXIT_USAGE;
    }
    const values = 'values' in invocation ? (invocation.values as GlobalValues) : {};
    let endpoints: string[] = [];
    try {
      endpoints = endpointsOf(values);
    } catch {}
    err(`${where}: ${explain(error, endpoints, values.requestTimeout ?? DEFAULT_REQUEST_TIMEOUT_S)}`);
    if (isDebugging()) {
      for (let cause: unknown = error; cause; cause = (cause as Error).cause)
        debug(`cause: ${(cause as Error)?.stack ?? String(cause)}`);
    }
    return EXIT_ERROR;
  }
}

async function dispatch(invocation: Invocation, tail: readonly string[]): Promise<number> {
  const isHolding = invocation.command === 'lock' || invocation.command === 'elect';
  if (!isHolding && tail.length)
    throw new UsageError('nothing goes after -- here (only lock and elect run a command)');
  if ('values' in invocation) startTrace(Boolean((invocation.values as GlobalValues).debug));
  switch (invocation.command) {
    case 'demo': {
      const { runDemo } = await import('../demo/run-demo.js');
      return runDemo({
        size: invocation.size,
        metricsFile: invocation.metricsFile,
        reportFile: invocation.reportFile,
      });
    }
    case 'cluster up':
      return clusterUpCommand(invocation.values as unknown as ClusterUpValues, out);
    case 'lock':
    case 'elect':
      if (tail.length === 0)
        throw new UsageError(
          `a command to run is required after --: etcdkit ${invocation.command} <name> -- <command...>`,
        );
      return invocation.command === 'lock'
        ? lockCommand(invocation.name, tail, invocation.values as unknown as LockCommandValues, err)
        : electCommand(invocation.name, tail, invocation.values as unknown as ElectCommandValues, err);
    case 'registry ls':
    case 'registry watch':
      return registryCommand(
        invocation.command === 'registry ls' ? 'ls' : 'watch',
        invocation.service,
        invocation.values as unknown as RegistryCommandValues,
        out,
      );
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    // Exit now: a socket to an endpoint that never answered must not keep the process alive.
    process.exit(code);
  },
  (error: unknown) => {
    err(`etcdkit: ${(error as Error)?.message ?? String(error)}`);
    process.exit(EXIT_ERROR);
  },
);
