import { hookOf } from './abort-hook.js';

/** What {@link hedge} needs besides the attempts. */
export interface HedgeOptions {
  /** How many attempts at most, all told. */
  readonly maxAttempts: number;
  /** After this long with no attempt settled, the next attempt starts too, in ms (0: only after a failure). */
  readonly hedgeMs: number;
  /**
   * Each hedge after the first `steadyHedges` waits this many times longer than the one before (default 1:
   * every `hedgeMs`).
   */
  readonly backoff?: number;
  /** How many hedges come every `hedgeMs` before the backoff begins (default 0). */
  readonly steadyHedges?: number;
  /** How many attempts start at once (default 1); the hedges follow them. */
  readonly initialAttempts?: number;
  /**
   * When an attempt has won, the others are let run this long before they are aborted, in ms (default 0: at
   * once). One that completes meanwhile keeps its connection (an abort closes it); its outcome is dropped.
   */
  readonly lingerMs?: number;
  /** The call's signal: its abort aborts every attempt and rejects with its reason. */
  readonly signal?: AbortSignal | undefined;
  /** Called when attempt `n` (0-based) has not settled in the current gap and the next one starts beside it. */
  readonly onSlow?: (n: number) => void;
  /** Called when attempt `n` fails (not when it is aborted because another won or the call ended). */
  readonly onFailed?: (n: number, error: unknown) => void;
}

/**
 * How many attempts {@link hedge} starts within `limitMs` when none settles: the first, and each hedge due
 * before `limitMs` (at most 32).
 */
export function attemptsWithin(
  limitMs: number,
  pacing: Pick<HedgeOptions, 'hedgeMs' | 'backoff' | 'steadyHedges'>,
): number {
  const { hedgeMs, backoff = 1, steadyHedges = 0 } = pacing;
  if (hedgeMs <= 0) return 1;
  let attempts = 1;
  let gap = hedgeMs;
  for (let at = hedgeMs; at < limitMs && attempts < 32; at += gap) {
    attempts++;
    if (attempts - 1 >= steadyHedges) gap *= backoff;
  }
  return attempts;
}

/** Every attempt of a {@link hedge} failed: their errors, in the order the attempts started. */
export class AllAttemptsFailed extends Error {
  constructor(readonly errors: readonly unknown[]) {
    super('every attempt failed');
  }
}

/**
 * Hedged attempts of one call that is safe to repeat: attempt 0 starts at once; whenever an attempt fails, or
 * `hedgeMs` pass without any attempt settling (after `steadyHedges` hedges, each gap `backoff` times the one
 * before), the next one starts, while those still running keep running
 * (a slow member's late answer still counts). The first attempt to succeed wins and the others are aborted
 * through their signals. Rejects with {@link AllAttemptsFailed} when every attempt failed and none is left, or
 * with the reason of `options.signal` when it aborts.
 */
export function hedge<T>(
  run: (n: number, signal: AbortSignal) => Promise<T>,
  options: HedgeOptions,
): Promise<T> {
  const { maxAttempts, hedgeMs, signal } = options;
  const backoff = options.backoff ?? 1;
  const steadyHedges = options.steadyHedges ?? 0;
  const hook = signal ? hookOf(signal) : undefined;
  return new Promise<T>((resolve, reject) => {
    const controllers: AbortController[] = [];
    const errors: unknown[] = [];
    /** Which attempts have settled (they are not aborted). */
    const ended: boolean[] = [];
    let running = 0;
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    /** The wait before the next hedge, in ms, and how many hedges started. */
    let nextHedgeMs = hedgeMs;
    let hedges = 0;

    /**
     * Ends the call: the attempts still running are aborted (with the call's abort reason, if that ended it;
     * after `lingerMs` when one won).
     */
    const finish = (reason?: unknown): void => {
      settled = true;
      clearTimeout(timer);
      hook?.unlisten(onAbort);
      const abortAll = (): void => {
        controllers.forEach((controller, n) => {
          if (!ended[n]) controller.abort(reason);
        });
      };
      if (reason !== undefined || !(options.lingerMs && running > 0)) abortAll();
      else setTimeout(abortAll, options.lingerMs).unref();
    };
    const onAbort = (reason: unknown): void => {
      if (settled) return;
      finish(reason);
      reject(reason);
    };
    const start = (): void => {
      clearTimeout(timer);
      const n = controllers.length;
      if (settled || n >= maxAttempts) return;
      const controller = new AbortController();
      controllers.push(controller);
      running++;
      if (n + 1 < maxAttempts && hedgeMs > 0) {
        timer = setTimeout(() => {
          if (settled) return;
          options.onSlow?.(n);
          if (++hedges >= steadyHedges) nextHedgeMs *= backoff;
          start();
        }, nextHedgeMs);
      }
      run(n, controller.signal).then(
        (value) => {
          running--;
          ended[n] = true;
          if (settled) return;
          finish();
          resolve(value);
        },
        (error: unknown) => {
          running--;
          ended[n] = true;
          errors[n] = error;
          if (settled || controller.signal.aborted) return;
          options.onFailed?.(n, error);
          if (controllers.length < maxAttempts) start();
          else if (running === 0) {
            finish();
            reject(new AllAttemptsFailed(errors.filter((e) => e !== undefined)));
          }
        },
      );
    };

    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    hook?.listen(onAbort);
    const initial = options.initialAttempts ?? 1;
    for (let i = Number.isSafeInteger(initial) ? Math.max(1, initial) : 1; i > 0; i--) start();
  });
}
