/**
 * The core's waiting: the one watch every recipe waits on ({@link waitForEvent}: an event, or "read again";
 * only an abort or a closed client rejects), an abortable {@link sleep}, and the actions that mean a key is
 * gone.
 */
import { isClientClosed, isEventIndexCleared, type Response } from '@etcdkit/client';
import type { RecipeKeys } from '../keys.js';
import { RetryPacing } from './retry.js';

/**
 * How the recipes wait (every {@link waitForEvent}): in the client's shared long-poll
 * of the directory once a few wait there (one per directory and process), and on two members at once, so that
 * a member frozen or cut off mid-wait delays no hand-over (see the client's `WatcherOptions.redundant`: one
 * more request per event, nothing while nothing happens). A kept key's loss watch asks for one member
 * (`shared` only): it is on no hand-over's path, and a frozen member is also found by the key's next refresh.
 * It shares the directory's long-poll with these waits all the same, which then waits on two members while any
 * of them waits, on one while only loss watches do.
 */
export const RECIPE_WATCH = { shared: true, redundant: true } as const;

/** What {@link waitForEvent} needs. */
export interface WaitOptions {
  /** Wait for events after this index (the index of the read the decision was made on). */
  readonly afterIndex: number;
  readonly recursive?: boolean;
  /** Aborts the wait; it then rejects with `signal.reason`. */
  readonly signal?: AbortSignal | undefined;
  /**
   * Give up after this long and let the caller read again. Omitted: no watchdog; the recipes need none, since
   * the client moves a watch off a member that stops answering its `/health` (`watchLivenessInterval`).
   */
  readonly watchdogMs?: number | undefined;
}

/**
 * The watch every recipe shares: waits for the next event on `key` after `afterIndex`. Resolves to the event,
 * or to `undefined` when the caller should simply read again: the watchdog (if any) fired, the index was cleared from
 * history (error 401), or the cluster could not be reached for a moment (after a short pause). Only an abort
 * of `signal` (with its reason) or a closed client (its `ClientClosedError`) rejects, so no wake-up is ever lost
 * to an error.
 */
export async function waitForEvent(
  keys: RecipeKeys,
  key: string,
  options: WaitOptions,
): Promise<Response | undefined> {
  const { signal } = options;
  signal?.throwIfAborted();
  const watchdog = options.watchdogMs === undefined ? undefined : AbortSignal.timeout(options.watchdogMs);
  const signals = [signal, watchdog].filter((s): s is AbortSignal => s !== undefined);
  const combined = signals.length > 1 ? AbortSignal.any(signals) : signals[0];
  const watcher = keys.watcher(key, {
    afterIndex: options.afterIndex,
    recursive: options.recursive === true,
    ...RECIPE_WATCH,
  });
  try {
    return await watcher.next(combined ? { signal: combined } : {});
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    if (isClientClosed(error)) throw error;
    if (watchdog?.aborted) return undefined;
    if (!isEventIndexCleared(error)) await sleep(RetryPacing.transientPauseMs, signal);
    return undefined;
  } finally {
    watcher.close();
  }
}

/** Resolves after `ms`, or rejects with `signal.reason` when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(() => {
      unlisten?.();
      resolve();
    }, ms);
    const unlisten = signal
      ? onAbort(signal, () => {
          clearTimeout(timer);
          reject(signal.reason);
        })
      : undefined;
  });
}

/**
 * Calls `listener` once when `signal` aborts, through a signal of its own (`AbortSignal.any`), so that many
 * waits on one caller's signal at once add no listener to it (Node warns of a leak past 10). Returns the
 * function that stops listening.
 */
export function onAbort(signal: AbortSignal, listener: () => void): () => void {
  const own = AbortSignal.any([signal]);
  own.addEventListener('abort', listener, { once: true });
  return () => own.removeEventListener('abort', listener);
}

/** Events that mean a key is gone. */
export const GONE_ACTIONS = new Set(['delete', 'expire', 'compareAndDelete']);
