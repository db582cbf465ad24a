/** The `etcdkit` command tree (commander): commands, their own options, help texts. */
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { addGlobalOptions } from './global-options.js';
import { positiveInteger, positiveSeconds, tcpPort } from './usage.js';

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/** What a command asks the runner to do, once commander has parsed and validated its line. */
export type Invocation =
  | {
      readonly command: 'demo';
      readonly size: number;
      readonly metricsFile: string | undefined;
      readonly reportFile: string | undefined;
    }
  | { readonly command: 'cluster up'; readonly values: Record<string, unknown> }
  | { readonly command: 'lock' | 'elect'; readonly name: string; readonly values: Record<string, unknown> }
  | {
      readonly command: 'registry ls' | 'registry watch';
      readonly service: string;
      readonly values: Record<string, unknown>;
    };

const EXIT_CODES = `
Examples:
  etcdkit cluster up --port 2379                 a dev cluster on 127.0.0.1:2379.. until Ctrl-C
  etcdkit lock nightly --timeout 60 -- ./report.sh
  etcdkit elect scheduler --ttl 5 -- node scheduler.js
  etcdkit registry watch api -o json

Exit codes: 0 success, 1 error (etcd unreachable, an etcd error, a timeout; the message says which),
2 usage error, 75 lock or leadership lost, 130 Ctrl-C while waiting, else the command's own.`;

const HOLDING = `
The command goes after --. It gets ETCDKIT_FENCING_TOKEN (strictly rising across holders) and %KEY%,
its SIGINT, SIGTERM and SIGHUP are forwarded, and etcdkit exits with its exit code (128 + n when it died of
signal n). If %WHAT% is lost while it runs, the command gets SIGTERM (SIGKILL 10 s later) and etcdkit exits
75. Ctrl-C while waiting removes the waiter's key and exits 130.`;

const outputOption = (): Option =>
  new Option('-o, --output <format>', 'output format').choices(['text', 'json']).default('text');

/**
 * Builds the program. `run` receives each parsed invocation with the global options merged into `values`; the
 * command after `--` (for lock and elect) is split off by the caller before commander sees the line.
 */
export function buildProgram(run: (invocation: Invocation) => Promise<void> | void): Command {
  const program = new Command('etcdkit')
    .description('coordination on the etcd v2 API, from the shell')
    .version(version(), '-v, --version', 'print the version')
    .helpOption('-h, --help', 'print help (etcdkit <command> --help, or etcdkit help <command>)')
    .usage('<command> [options]')
    .showSuggestionAfterError(true)
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false });
  addGlobalOptions(program);
  program.addHelpText('after', EXIT_CODES);
  const withGlobals = (command: Command): Record<string, unknown> => command.optsWithGlobals();
  const addJson = (command: Command): Command =>
    command
      .addOption(outputOption())
      .addOption(new Option('--json', 'same as -o json').implies({ output: 'json' }));

  program
    .command('demo')
    .description(
      'recipes surviving faults on an embedded cluster (kills, a frozen member), each recovery measured',
    )
    .addOption(new Option('--size <n>', 'members of the cluster').default(3).argParser(positiveInteger))
    .option(
      '--metrics-file <path>',
      'write the metrics of every demo process (requests, failovers, lock waits and holds, sessions lost, ...) to this JSON file',
    )
    .option(
      '--report <path>',
      'write the history as one HTML page: lock holds, fenced writes and terms per process, faults as bands, violations highlighted',
    )
    .addHelpText(
      'after',
      '\n--metrics-file writes {"version":1,"startedAt","endedAt","complete","workers":{<process>:<metrics>},"total"}:' +
        '\ncounts, and histograms of durations in ms with p50/p90/p99 (a killed worker counts until its last second).',
    )
    .action((_options, command: Command) =>
      run({
        command: 'demo',
        size: command.opts().size as number,
        metricsFile: command.opts().metricsFile as string | undefined,
        reportFile: command.opts().report as string | undefined,
      }),
    );

  const cluster = program.command('cluster').description('a local dev cluster');
  addJson(
    cluster
      .command('up')
      .description('start a local etcd v2 cluster and keep it up until Ctrl-C; then remove it and its data')
      .addOption(new Option('--size <n>', 'members').default(3).argParser(positiveInteger))
      .addOption(
        new Option(
          '--port <n>',
          'client port of the first member; the others follow (default: free ports)',
        ).argParser(tcpPort),
      )
      .addOption(
        new Option('--backend <backend>', 'etcd child processes, or containers')
          .choices(['process', 'docker'])
          .default('process'),
      )
      .option(
        '--image <image>',
        "Docker image, or 'local' to build one from this host's etcd (docker backend)",
      )
      .addOption(
        new Option('--network <mode>', 'container networking (docker backend; default host)').choices([
          'host',
          'bridge',
        ]),
      ),
  )
    .addHelpText(
      'after',
      '\n-o json prints one line: {"version","backend","endpoints":[...],"members":[...],"startMs"}.',
    )
    .action((_options, command: Command) => run({ command: 'cluster up', values: withGlobals(command) }));

  for (const verb of ['lock', 'elect'] as const) {
    const command = program
      .command(verb)
      .argument(
        '<name>',
        `${verb === 'lock' ? 'lock' : 'election'} name (a key under --prefix, or a full key starting with /)`,
      );
    if (verb === 'lock') {
      command
        .usage('<name> [options] -- <command...>')
        .description('run a command while holding a lock (waiters are served in arrival order)')
        .addOption(
          new Option('--ttl <s>', "TTL of the waiter's key, in seconds")
            .default(10)
            .argParser(positiveInteger),
        )
        .addOption(
          new Option('--timeout <s>', 'give up waiting after this many seconds (exit 1)').argParser(
            positiveSeconds,
          ),
        )
        .addHelpText('after', HOLDING.replace('%KEY%', 'ETCDKIT_LOCK_KEY').replace('%WHAT%', 'the lock'));
    } else {
      command
        .usage('<name> [options] -- <command...>')
        .description('run a command while leader; it is stopped if leadership is lost')
        .addOption(
          new Option('--ttl <s>', "TTL of the candidate's key, in seconds")
            .default(10)
            .argParser(positiveInteger),
        )
        .option('--value <v>', 'the value campaigned with (default host:pid)')
        .addHelpText('after', HOLDING.replace('%KEY%', 'ETCDKIT_LEADER_KEY').replace('%WHAT%', 'leadership'));
    }
    command.action((name: string, _options, self: Command) =>
      run({ command: verb, name, values: withGlobals(self) }),
    );
  }

  const registry = program
    .command('registry')
    .description('the service registry (ServiceRegistry of @etcdkit/recipes)');
  addJson(registry.command('ls').description("list a service's instances").argument('<service>')).action(
    (service: string, _options, command: Command) =>
      run({ command: 'registry ls', service, values: withGlobals(command) }),
  );
  addJson(
    registry
      .command('watch')
      .description('print instances as they come and go, until Ctrl-C (-o json: one object a line)')
      .argument('<service>'),
  ).action((service: string, _options, command: Command) =>
    run({ command: 'registry watch', service, values: withGlobals(command) }),
  );
  return program;
}

/** Every command of the tree, the program first. */
export function allCommands(program: Command): Command[] {
  return [program, ...program.commands.flatMap((command) => allCommands(command))];
}
