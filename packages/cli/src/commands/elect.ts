import { hostname } from 'node:os';
import { Election } from '@etcdkit/recipes';
import { connect, type GlobalValues, keyOf } from '../global-options.js';
import { runHolding } from '../run-command.js';
import { UsageError } from '../usage.js';
import { positiveInteger } from './lock.js';

/** Options of `etcdkit elect`. */
export interface ElectCommandValues extends GlobalValues {
  ttl?: string | undefined;
  value?: string | undefined;
}

/**
 * `etcdkit elect <name> [--ttl 10] [--value v] -- <command...>`: campaigns, runs the command once leader, and
 * stops it if leadership is lost; resigns when it exits.
 */
export async function electCommand(
  name: string | undefined,
  command: readonly string[],
  values: ElectCommandValues,
  log: (line: string) => void,
): Promise<number> {
  if (!name) throw new UsageError('etcdkit elect needs an election name');
  if (command.length === 0) throw new UsageError('etcdkit elect needs a command after --');
  const ttl = positiveInteger(values.ttl ?? '10', '--ttl');
  const { client, keys } = connect(values);
  const election = new Election(keys, keyOf(values, 'elections', name), { ttl });
  try {
    return await runHolding(
      async (interrupt) => {
        const term = await election.campaign(values.value ?? `${hostname()}:${process.pid}`, {
          signal: interrupt,
        });
        return {
          signal: term.signal,
          env: { ETCDKIT_FENCING_TOKEN: String(term.fencingToken), ETCDKIT_LEADER_KEY: term.key },
          release: () => term.resign(),
        };
      },
      command,
      log,
    );
  } finally {
    await election.close().catch(() => {});
    client.close();
  }
}
