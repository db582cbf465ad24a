import { AbortHook } from './abort-hook.js';
import type { RawResponse } from './attempt.js';
import type { Endpoint } from './endpoints.js';

/** Why a wait that lost the race is aborted once its grace has passed. */
const BEHIND = new DOMException('another member told the event first', 'AbortError');

/** What {@link waitTwice} needs. */
export interface WaitTwiceOptions {
  /**
   * Runs one of the two waits: `side` 0 from the pinned member, 1 from another, each failing over as a wait
   * does; `closer` ends it; `at` is told the member of each attempt (for {@link behind}).
   */
  readonly run: (side: 0 | 1, closer: AbortHook, at: (endpoint: Endpoint) => void) => Promise<RawResponse>;
  /** End both waits at once (the watcher's close, the client's close): the call rejects with the reason. */
  readonly closers: readonly AbortHook[];
  /** How long the slower wait may take to tell the same event, in ms, before it is aborted. */
  readonly graceMs: number;
  /**
   * Told the member of a wait that had not told the event within `graceMs` of the other: it is behind the
   * cluster (frozen, cut off from the leader, very slow).
   */
  readonly behind: (endpoint: Endpoint) => void;
}

/** One of the two waits: its closer, where it waits, and whether it has ended. */
interface Side {
  readonly closer: AbortHook;
  at: Endpoint | undefined;
  done: boolean;
}

/**
 * One watch wait sent to two members at once (`WatcherOptions.redundant`): the first reply wins. Both waits
 * ask for the same index of the same key, so both tell the same event (etcd's log is one); a member that
 * froze, or lost the leader, mid-wait then costs nothing, where one wait would learn of it only at its next
 * health check. The slower wait is let finish for `graceMs` (a follower tells an event a heartbeat after the
 * leader; finishing keeps its connection), then aborted and its member reported {@link WaitTwiceOptions.behind}.
 * The call fails only when both waits fail (with the first failure), or at once when a closer or the caller's
 * signal ends it.
 */
export function waitTwice(options: WaitTwiceOptions): Promise<RawResponse> {
  const sides: Side[] = [0, 1].map(() => ({ closer: new AbortHook(), at: undefined, done: false }));
  const endBoth = (reason: unknown): void => {
    for (const side of sides) side.closer.abort(reason);
  };
  for (const closer of options.closers) closer.listen(endBoth);
  const release = (): void => {
    for (const closer of options.closers) closer.unlisten(endBoth);
  };
  return new Promise((resolve, reject) => {
    let settled = false;
    let failure: { readonly error: unknown } | undefined;
    const won = (loser: Side): void => {
      settled = true;
      release();
      if (loser.done) return;
      // the loser ends with the client's close still, or when its grace is over
      const closing = options.closers[0];
      const end = (reason: unknown): void => loser.closer.abort(reason);
      closing?.listen(end);
      const timer = setTimeout(() => {
        closing?.unlisten(end);
        if (loser.done) return;
        if (loser.at) options.behind(loser.at);
        loser.closer.abort(BEHIND);
      }, options.graceMs);
      timer.unref();
    };
    sides.forEach((side, index) => {
      const other = sides[1 - index]!;
      options
        .run(index as 0 | 1, side.closer, (endpoint) => {
          side.at = endpoint;
        })
        .then(
          (response) => {
            side.done = true;
            if (settled) return;
            won(other);
            resolve(response);
          },
          (error: unknown) => {
            side.done = true;
            if (settled) return;
            // a closer or the caller's signal ends both: the first to reject tells why
            if (failure || side.closer.aborted || other.done) {
              settled = true;
              release();
              endBoth(failure?.error ?? error);
              reject(failure ? failure.error : error);
            } else {
              failure = { error };
            }
          },
        );
    });
  });
}
