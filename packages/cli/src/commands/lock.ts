import { Lock } from '@etcdkit/recipes';
import { connect, type GlobalValues, keyOf } from '../global-options.js';
import { runHolding } from '../run-command.js';
import { UsageError } from '../usage.js';

/** Options of `etcdkit lock`. */
export interface LockCommandValues extends GlobalValues {
  ttl?: string | undefined;
  timeout?: string | undefined;
}

/** `etcdkit lock <name> [--ttl 10] [--timeout s] -- <command...>`: runs the command while holding the lock. */
export async function lockCommand(
  name: string | undefined,
  command: readonly string[],
  values: LockCommandValues,
  log: (line: string) => void,
): Promise<number> {
  if (!name) throw new UsageError('etcdkit lock needs a lock name');
  if (command.length === 0) throw new UsageError('etcdkit lock needs a command after --');
  const ttl = positiveInteger(values.ttl ?? '10', '--ttl');
  const { client, keys } = connect(values);
  const key = keyOf(values, 'locks', name);
  const lock = new Lock(keys, key, { ttl });
  try {
    return await runHolding(
      async (interrupt) => {
        const signals = [interrupt];
        if (values.timeout)
          signals.push(AbortSignal.timeout(positiveInteger(values.timeout, '--timeout') * 1000));
        const held = await lock.acquire({ signal: AbortSignal.any(signals) });
        return {
          signal: held.signal,
          env: { ETCDKIT_FENCING_TOKEN: String(held.fencingToken), ETCDKIT_LOCK_KEY: held.key },
          release: () => held.release(),
        };
      },
      command,
      log,
    );
  } finally {
    await lock.close().catch(() => {});
    client.close();
  }
}

/** Parses a positive whole number option. */
export function positiveInteger(text: string, option: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0)
    throw new UsageError(`${option} must be a positive whole number, got ${text}`);
  return value;
}
