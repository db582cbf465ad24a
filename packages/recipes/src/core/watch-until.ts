/**
 * The core's read-and-watch loop, which every blocking recipe waits in: {@link watchUntil} (read, decide,
 * watch from the read's index, until a decision ends it: Barrier, DoubleBarrier, Queue.take, and the queue
 * driver's wait of Lock, RWLock, Semaphore and Election's campaign), with one rule for failed reads
 * ({@link readUntilAnswered}). `followChanges` (`follow-changes.ts`) is the same loop as a stream.
 */
import type { Response } from '@etcdkit/client';
import type { RecipeKeys } from '../keys.js';
import { isPermanent, RetryPacing } from './retry.js';
import { sleep, waitForEvent } from './wait.js';

/** What a loop's state carries at least: the index of the read (or event) it stands on. */
export interface Indexed {
  readonly index: number;
}

/** What to watch next: a key (or directory, `recursive`), for events after the state's index (or `afterIndex`). */
export interface WatchTarget {
  readonly key: string;
  readonly recursive?: boolean;
  /** Read again after this long without an event, in ms; omitted: no watchdog (see `waitForEvent`). */
  readonly watchdogMs?: number | undefined;
  /** Watch for events after this index; omitted: the state's index. */
  readonly afterIndex?: number | undefined;
}

/** What {@link watchUntil}'s `decide` says: done with a value, watch a key, or read again at once. */
export type Decision<R> =
  | { readonly done: true; readonly value: R }
  | { readonly done: false; readonly watch: WatchTarget }
  | { readonly done: false; readonly reread: true };

/** The loop of {@link watchUntil}: how to read, how to decide, and what an event tells without a read. */
export interface UntilLoop<S extends Indexed, R> {
  /** The read (a quorum read); its failures are retried by {@link readUntilAnswered}'s rule. */
  read(signal: AbortSignal | undefined): Promise<S>;
  /** What to do on `state`. A throw ends the loop with that error (a recipe's own, or a permanent one). */
  decide(state: S): Decision<R> | Promise<Decision<R>>;
  /**
   * The state after the wait without a read: after `event`, or after a wait that ended without one
   * (`undefined`: error 401, a failed watch, the watchdog). `undefined` (or no `learn`): read again.
   */
  readonly learn?: (state: S, event: Response | undefined) => S | undefined | Promise<S | undefined>;
  /** A state read already: decided on first, no read of the loop's own. */
  readonly initial?: S | undefined;
  /**
   * Ends the loop: an abort while it reads, pauses or watches rejects with `signal.reason` (during `decide`,
   * `decide` itself is passed the signal by the recipe, and what it throws is the loop's error).
   */
  readonly signal?: AbortSignal | undefined;
}

/**
 * Reads, decides, and watches from the read's index until `decide` is done; after each wait, `learn` gives the
 * state without a read when it can (from the event, or after a wait without one: error 401, a failed watch,
 * the watchdog), and else the state is read again.
 * Waiting costs nothing while nothing happens. Rejects with `signal.reason` on abort, with a closed client's
 * `ClientClosedError`, with etcd's own error from a read, or with what `decide` throws; a transient failure
 * (no member answered) is retried.
 */
export async function watchUntil<S extends Indexed, R>(keys: RecipeKeys, loop: UntilLoop<S, R>): Promise<R> {
  const { signal } = loop;
  let state = loop.initial ?? (await readUntilAnswered(loop.read, signal));
  for (;;) {
    const decision = await loop.decide(state);
    if (decision.done) return decision.value;
    if ('reread' in decision) {
      state = await readUntilAnswered(loop.read, signal);
      continue;
    }
    const event = await waitOn(keys, decision.watch, state.index, signal);
    state = (await loop.learn?.(state, event)) ?? (await readUntilAnswered(loop.read, signal));
  }
}

/** `waitForEvent` on `target`, for events after its own `afterIndex`, else after `afterIndex`. */
export function waitOn(
  keys: RecipeKeys,
  target: WatchTarget,
  afterIndex: number,
  signal: AbortSignal | undefined,
): Promise<Response | undefined> {
  return waitForEvent(keys, target.key, {
    afterIndex: target.afterIndex ?? afterIndex,
    recursive: target.recursive === true,
    signal,
    watchdogMs: target.watchdogMs,
  });
}

/**
 * The recipes' one rule for a failed read in a wait: an abort rejects with `signal.reason`; a permanent failure
 * (etcd's own answer, a closed client: `isPermanent`) rejects with that error; any other is taken for a
 * transient one (no member answered, a reset, a timeout: what the client's calls fail with) and retried after
 * `RetryPacing.transientPauseMs`, until the read succeeds or `signal` aborts. A waiter with a key of its own
 * passes a signal that aborts when the key is lost, which bounds it.
 */
export async function readUntilAnswered<S>(
  read: (signal: AbortSignal | undefined) => Promise<S>,
  signal: AbortSignal | undefined,
): Promise<S> {
  for (;;) {
    try {
      return await read(signal);
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      if (isPermanent(error)) throw error;
      await sleep(RetryPacing.transientPauseMs, signal);
    }
  }
}
