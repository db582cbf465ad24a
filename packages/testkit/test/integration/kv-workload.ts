/**
 * The random KV workload of the linearizability tests: one process does quorum and local gets, sets, CAS by
 * value and by index, creates, deletes (some by index) and createInOrder on a few keys, one at a time, through a
 * KvRecorder, until `stop`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { type KvRecorder, type RecordableKeys, seededRandom } from '../../src/index.js';

/** What the tests use of @etcdkit/client. testkit does not depend on it (the client tests with testkit). */
export interface ClientModule {
  Client: new (config: {
    endpoints: string[];
    headerTimeoutPerRequest?: number;
  }) => { close(): Promise<void> };
  KeysAPI: new (client: unknown) => RecordableKeys;
}

/** The workspace's @etcdkit/client, imported at run time (a name in a variable: no build-time dependency). */
export async function importClient(): Promise<ClientModule> {
  const clientPackage = '@etcdkit/client';
  return (await import(clientPackage)) as ClientModule;
}

/** Where a workload runs, and how fast. */
export interface KvWorkload {
  /** The keys it reads and writes. */
  readonly keys: readonly string[];
  /** The directory of its createInOrder. */
  readonly dir: string;
  /** The pause after an operation that got a reply, in ms (`random` in [0, 1)): it sets the history's size. */
  readonly pauseMs: (random: number) => number;
}

/** One process of `workload`, seeded by `seed` (the same seed, the same choices). */
export async function runKvWorker(
  name: string,
  recorder: KvRecorder,
  seed: number,
  workload: KvWorkload,
  stop: AbortSignal,
): Promise<void> {
  const { keys, dir } = workload;
  const random = seededRandom(seed);
  const seen = new Map<string, { value: string; index: number }>();
  for (let n = 0; !stop.aborted; n++) {
    const key = keys[Math.floor(random() * keys.length)]!;
    const value = `${name}.${n}`;
    const last = seen.get(key);
    const dice = random();
    const op =
      dice < 0.3
        ? await recorder.get(key)
        : dice < 0.45
          ? await recorder.get(key, { quorum: false })
          : dice < 0.6
            ? await recorder.set(key, value)
            : dice < 0.7 && last
              ? await recorder.cas(key, value, { prevValue: last.value })
              : dice < 0.8 && last
                ? await recorder.cas(key, value, { prevIndex: last.index })
                : dice < 0.87
                  ? await recorder.create(key, value)
                  : dice < 0.93
                    ? await recorder.delete(key, last && random() < 0.5 ? { prevIndex: last.index } : {})
                    : await recorder.createInOrder(dir, value);
    const output = op.output;
    if (op.input.type === 'get' && output?.status === 'ok' && output.value !== undefined) {
      seen.set(key, { value: output.value, index: output.index ?? 0 });
    } else if (output?.status === 'not-found') seen.delete(key);
    // a member that is down, refusing or cut off is not spun on
    await sleep(op.output === undefined ? 50 : workload.pauseMs(random()));
  }
}
