/**
 * A stand-in for an AbortSignal inside the client, for what aborts requests often: a watch's liveness lease and
 * a watcher's close. The first listener on a fresh AbortSignal costs about 8 µs in Node 20 (a listener on a
 * long-lived one, about 1 µs), which was a tenth of a watch event's CPU; a hook costs a Set operation.
 */
/** What an {@link AbortHook} calls: a function, or an object's `abortWith` (no closure to allocate per wait). */
export type AbortListener = ((reason: unknown) => void) | { abortWith(reason: unknown): void };

export class AbortHook {
  #aborted = false;
  #reason: unknown;
  readonly #listeners = new Set<AbortListener>();

  get aborted(): boolean {
    return this.#aborted;
  }

  /** What it was aborted with (`undefined` while not aborted). */
  get reason(): unknown {
    return this.#reason;
  }

  /** Aborts once: every listener is called with `reason`, and later ones at once. */
  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    const listeners = [...this.#listeners];
    this.#listeners.clear();
    for (const listener of listeners) callListener(listener, reason);
  }

  /** Calls `listener` on abort (at once if aborted already). */
  listen(listener: AbortListener): void {
    if (this.#aborted) callListener(listener, this.#reason);
    else this.#listeners.add(listener);
  }

  unlisten(listener: AbortListener): void {
    this.#listeners.delete(listener);
  }
}

function callListener(listener: AbortListener, reason: unknown): void {
  if (typeof listener === 'function') listener(reason);
  else listener.abortWith(reason);
}

/**
 * A hook that aborts with the reason of whichever of `a` and `b` aborts first (at once if one has); `release()`
 * stops listening to them. For a wait that two things can end (a watcher's close and the client's; a wait alone
 * and its move into a shared long-poll).
 */
export function eitherHook(a: AbortHook, b: AbortHook): { readonly hook: AbortHook; release(): void } {
  const hook = new AbortHook();
  const relay = (reason: unknown): void => hook.abort(reason);
  a.listen(relay);
  b.listen(relay);
  return {
    hook,
    release: () => {
      a.unlisten(relay);
      b.unlisten(relay);
    },
  };
}

const relays = new WeakMap<AbortSignal, AbortHook>();

/**
 * The caller's `signal` as an {@link AbortHook}: one listener on the signal however many requests wait on it at
 * once (Node warns of a leak, MaxListenersExceededWarning, past 10 listeners on one signal, and a caller may
 * well pass one shutdown signal to a thousand calls), and a request listens at the cost of a Set operation.
 * The relay lives as long as the signal.
 */
export function hookOf(signal: AbortSignal): AbortHook {
  const known = relays.get(signal);
  if (known) return known;
  const relay = new AbortHook();
  relays.set(signal, relay);
  if (signal.aborted) relay.abort(signal.reason);
  else signal.addEventListener('abort', () => relay.abort(signal.reason), { once: true });
  return relay;
}
