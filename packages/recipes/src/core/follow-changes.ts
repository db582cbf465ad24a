/**
 * The core's read-and-watch loop as a stream of changes ({@link followChanges}: Election.observe, the registry's
 * watch and its caches): `watchUntil`'s loop (`watch-until.ts`), which never decides it is done.
 */
import type { Response } from '@etcdkit/client';
import type { RecipeKeys } from '../keys.js';
import { type Indexed, readUntilAnswered, type WatchTarget, waitOn } from './watch-until.js';

/** The loop of {@link followChanges}: how to read, what changed, what to watch, what an event tells. */
export interface FollowLoop<S extends Indexed, C> {
  /** The read (a quorum read); its failures are retried by {@link readUntilAnswered}'s rule. */
  read(signal: AbortSignal | undefined): Promise<S>;
  /** The changes from `before` (`undefined`: nothing known yet) to `after`, a new read. */
  changes(before: S | undefined, after: S): readonly C[];
  /** What to watch while the state is `state`. */
  target(state: S): WatchTarget;
  /** The state after `event` and the changes it makes, without a read; `undefined` (or no `learn`): read again. */
  learn?(state: S, event: Response): { readonly state: S; readonly changes: readonly C[] } | undefined;
  /** What the caller knows already: the first read's changes are taken against it. */
  readonly known?: S | undefined;
  /** `known` is a read of its own (at `known.index`): watch on from it, no first read. */
  readonly knownIsRead?: boolean;
  /** Ends the stream (it returns, no error). */
  readonly signal?: AbortSignal | undefined;
}

/**
 * `watchUntil`'s loop as a stream: yields the changes of each read (the first against `known`) and of
 * each event, watching from the index of the state the changes came from, so nothing that happens while the
 * consumer is busy is missed. Ends when `signal` aborts; throws a closed client's `ClientClosedError`, or
 * etcd's own error from a read; a transient failure is retried.
 */
export async function* followChanges<S extends Indexed, C>(
  keys: RecipeKeys,
  loop: FollowLoop<S, C>,
): AsyncGenerator<C, void, undefined> {
  const { signal } = loop;
  let state = loop.known;
  let fresh = !(loop.knownIsRead === true && state);
  try {
    while (!signal?.aborted) {
      if (fresh || !state) {
        const read = await readUntilAnswered(loop.read, signal);
        const changes = loop.changes(state, read);
        state = read;
        yield* changes;
        fresh = false;
        continue;
      }
      const event = await waitOn(keys, loop.target(state), state.index, signal);
      const learned = event && loop.learn?.(state, event);
      if (!learned) {
        fresh = true;
        continue;
      }
      state = learned.state;
      yield* learned.changes;
    }
  } catch (error) {
    if (signal?.aborted) return;
    throw error;
  }
}
