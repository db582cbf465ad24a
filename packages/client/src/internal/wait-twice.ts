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

/** One of the two waits: its closer, where it waits, whether it has ended, and its grace once it lost. */
interface Side {
  readonly closer: AbortHook;
  at: Endpoint | undefined;
  done: boolean;
  /** Cancels the grace of a wait that lost (its timer, and its listener on the client's close). */
  cancelGrace?: () => void;
}

/**
 * One watch wait sent to two members at once (`WatcherOptions.redundant`): the first reply wins. Both waits
 * ask for the same index of the same key, so both tell the same event (etcd's log is one); a member that
 * froze, or lost the leader, mid-wait then costs nothing, where one wait would learn of it only at its next
 * health check. The slower wait is let finish for `graceMs` (a follower tells an event a heartbeat after the
 * leader; finishing keeps its connection), then aborted; when the winner told an event (a 200 with a body, not
 * a proxy's empty reply nor an error), its member is reported {@link WaitTwiceOptions.behind}.
 *
 * Side 0 is the wait whose member's health is checked: when it fails (every member failed it, as a single wait
 * fails), the call fails with its error and side 1 ends too, so that a wait never hangs on an unchecked member.
 * When side 1 fails, side 0 goes on alone. A closer or the caller's signal ends both at once.
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
    const won = (loser: Side, event: boolean): void => {
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
        if (event && loser.at) options.behind(loser.at);
        loser.closer.abort(BEHIND);
      }, options.graceMs);
      timer.unref();
      loser.cancelGrace = () => {
        clearTimeout(timer);
        closing?.unlisten(end);
      };
    };
    sides.forEach((side, index) => {
      const other = sides[1 - index]!;
      const ended = (): boolean => {
        side.done = true;
        side.cancelGrace?.();
        return settled;
      };
      options
        .run(index as 0 | 1, side.closer, (endpoint) => {
          side.at = endpoint;
        })
        .then(
          (response) => {
            if (ended()) return;
            won(other, response.status === 200 && response.body.length > 0);
            resolve(response);
          },
          (error: unknown) => {
            if (ended()) return;
            // side 1 failing leaves side 0 (checked, and not done: else this call had settled) to go on;
            // anything else ends both with this error
            if (index === 1 && !side.closer.aborted) return;
            settled = true;
            release();
            endBoth(error);
            reject(error);
          },
        );
    });
  });
}
