import { Lock } from '@etcdkit/recipes';
import { CliError, ensureAnswers } from '../errors.js';
import {
  connect,
  DEFAULT_REQUEST_TIMEOUT_S,
  endpointsOf,
  type GlobalValues,
  keyOf,
} from '../global-options.js';
import { runHolding, settleWithin } from '../run-command.js';
import { anyAnswered } from '../trace.js';

/** Options of `etcdkit lock`. */
export interface LockCommandValues extends GlobalValues {
  /** TTL of the waiter's and holder's key, in seconds. */
  ttl: number;
  /** How long to wait for the lock, in seconds; unset waits for ever. */
  timeout?: number | undefined;
}

/** Time allowed for cleanup (closing the recipe and the client) at the end, so a hung endpoint cannot hold the exit. */
export const CLEANUP_MS = 1000;

/** After `--timeout`, the time the lock recipe gets to remove the waiter's key before etcdkit stops waiting. */
const GRACE_MS = 1000;

/** `etcdkit lock <name> [--ttl 10] [--timeout s] -- <command...>`: runs the command while holding the lock. */
export async function lockCommand(
  name: string,
  command: readonly string[],
  values: LockCommandValues,
  log: (line: string) => void,
): Promise<number> {
  const requestS = values.requestTimeout ?? DEFAULT_REQUEST_TIMEOUT_S;
  // With --timeout, no single request may take longer than the whole wait.
  const headerS = values.timeout ? Math.min(requestS, values.timeout) : requestS;
  const endpoints = endpointsOf(values);
  const key = keyOf(values, 'locks', name);
  const { client, keys } = connect(values, headerS * 1000);
  const lock = new Lock(keys, key, { ttl: values.ttl });
  try {
    return await runHolding(
      async (interrupt) => {
        const timeout = values.timeout ? AbortSignal.timeout(values.timeout * 1000) : undefined;
        const signal = timeout ? AbortSignal.any([interrupt, timeout]) : interrupt;
        try {
          await ensureAnswers(keys, key, endpoints, headerS, signal);
          const held = await untilTimedOut(lock.acquire({ signal }), timeout);
          return {
            signal: held.signal,
            env: { ETCDKIT_FENCING_TOKEN: String(held.fencingToken), ETCDKIT_LOCK_KEY: held.key },
            release: () => held.release(),
          };
        } catch (error) {
          if (timeout?.aborted && !interrupt.aborted) {
            const why = anyAnswered()
              ? 'another holder has it'
              : `endpoints ${endpoints.join(', ')} did not answer`;
            throw new CliError(`timed out after ${values.timeout} s waiting for lock ${key} (${why})`, {
              cause: error,
            });
          }
          throw error;
        }
      },
      command,
      log,
    );
  } finally {
    await settleWithin(closeAll(lock, client), CLEANUP_MS);
  }
}

/** Closes the recipe, then the client. */
export async function closeAll(
  recipe: { close(): Promise<void> },
  client: { close(): Promise<void> },
): Promise<void> {
  await recipe.close().catch(() => {});
  await client.close();
}

/**
 * `acquire`, but once `timeout` has fired it waits at most {@link GRACE_MS} more for the recipe to clean up (a
 * healthy cluster removes the waiter's key in far less); a hung endpoint cannot stretch the wait beyond that.
 */
async function untilTimedOut<T>(acquire: Promise<T>, timeout: AbortSignal | undefined): Promise<T> {
  if (!timeout) return acquire;
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const late = new Promise<never>((_, reject) => {
    onAbort = () => {
      timer = setTimeout(() => reject(timeout.reason), anyAnswered() ? GRACE_MS : 0);
    };
    if (timeout.aborted) onAbort();
    else timeout.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([acquire, late]);
  } finally {
    clearTimeout(timer);
    timeout.removeEventListener('abort', onAbort!);
    acquire.catch(() => {});
  }
}
