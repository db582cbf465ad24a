import { hostname } from 'node:os';
import { Election } from '@etcdkit/recipes';
import { ensureAnswers } from '../errors.js';
import {
  connect,
  DEFAULT_REQUEST_TIMEOUT_S,
  endpointsOf,
  type GlobalValues,
  keyOf,
} from '../global-options.js';
import { runHolding, settleWithin } from '../run-command.js';
import { CLEANUP_MS, closeAll } from './lock.js';

/** Options of `etcdkit elect`. */
export interface ElectCommandValues extends GlobalValues {
  /** TTL of the candidate's key, in seconds. */
  ttl: number;
  /** The value campaigned with (default `host:pid`). */
  value?: string | undefined;
}

/**
 * `etcdkit elect <name> [--ttl 10] [--value v] -- <command...>`: campaigns, runs the command once leader, and
 * stops it if leadership is lost; resigns when it exits.
 */
export async function electCommand(
  name: string,
  command: readonly string[],
  values: ElectCommandValues,
  log: (line: string) => void,
): Promise<number> {
  const key = keyOf(values, 'elections', name);
  const { client, keys } = connect(values);
  const election = new Election(keys, key, { ttl: values.ttl });
  try {
    return await runHolding(
      async (interrupt) => {
        await ensureAnswers(
          keys,
          key,
          endpointsOf(values),
          values.requestTimeout ?? DEFAULT_REQUEST_TIMEOUT_S,
          interrupt,
        );
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
    await settleWithin(closeAll(election, client), CLEANUP_MS);
  }
}
