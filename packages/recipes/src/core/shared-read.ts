/**
 * The core's shared reads: the same read asked for by many contenders of one process at once (a thousand lock
 * waiters joining one queue) costs a few round trips and decodings, not a thousand. At most one read of a kind
 * is in flight; a caller that asks while it is in flight joins the next one, sent as soon as it settles. So
 * every caller gets a read sent after it asked (a quorum read stays linearizable for each of them), and waits
 * at most one read longer than alone.
 *
 * Reads are shared between keys objects of the same client and prefix (see `RecipeKeys.client` and
 * `RecipeKeys.prefix`); a keys object that names neither shares with itself only.
 */
import type { RecipeKeys } from '../keys.js';
import { onAbort } from './wait.js';

/** One read, shared by the callers that joined it before it was sent. */
interface Round {
  readonly result: Promise<unknown>;
  readonly controller: AbortController;
  /** Sends the read (once). */
  start(): void;
  /** Callers still waiting for it; when the last one leaves, the read is dropped or called off. */
  waiting: number;
  /** Whether the read has answered or failed. */
  settled: boolean;
}

/** The read of one kind in flight, and the one that gathers callers until it settles. */
interface Slot {
  current?: Round | undefined;
  next?: Round | undefined;
}

/** Per client (or keys object): `<prefix> <kind>` -> its slot. */
const slots = new WeakMap<object, Map<string, Slot>>();

/**
 * `read` for `kind` (what names the read fully, e.g. `queue /locks/a`), shared with the callers that ask for the
 * same kind through keys objects of the same client and prefix while it gathers (see the module's comment).
 * `read` gets a signal that aborts when every caller of its round has left. A caller's `signal` ends its own
 * wait with its reason, not the read.
 */
export async function sharedRead<T>(
  keys: RecipeKeys,
  kind: string,
  read: (signal: AbortSignal) => Promise<T>,
  signal?: AbortSignal,
): Promise<T> {
  signal?.throwIfAborted();
  const shared = keys.client !== undefined && keys.prefix !== undefined;
  const owner = shared ? keys.client! : keys;
  const id = shared ? `${keys.prefix} ${kind}` : kind;
  let kinds = slots.get(owner);
  if (!kinds) {
    kinds = new Map();
    slots.set(owner, kinds);
  }
  let slot = kinds.get(id);
  if (!slot) {
    slot = {};
    kinds.set(id, slot);
  }
  let round = slot.next;
  if (!round) {
    round = newRound(read, kinds, id, slot);
    if (slot.current) slot.next = round;
    else {
      slot.current = round;
      round.start();
    }
  }
  round.waiting++;
  try {
    return (await (signal ? raced(round.result, signal) : round.result)) as T;
  } finally {
    if (--round.waiting === 0 && !round.settled) {
      // nobody left: a read not sent yet is dropped (a later caller gathers a new one), one in flight called off
      if (slot.next === round) slot.next = undefined;
      else round.controller.abort();
    }
  }
}

function newRound(
  read: (signal: AbortSignal) => Promise<unknown>,
  kinds: Map<string, Slot>,
  id: string,
  slot: Slot,
): Round {
  const controller = new AbortController();
  let settle!: (outcome: Promise<unknown>) => void;
  const result = new Promise<unknown>((resolve) => {
    settle = resolve;
  });
  // nobody may be left to hear a read called off
  result.catch(() => {});
  const round: Round = {
    result,
    controller,
    waiting: 0,
    settled: false,
    start() {
      let outcome: Promise<unknown>;
      try {
        outcome = read(controller.signal);
      } catch (error) {
        outcome = Promise.reject(error);
      }
      settle(outcome);
      outcome.then(done, done);
    },
  };
  const done = (): void => {
    round.settled = true;
    slot.current = slot.next;
    slot.next = undefined;
    if (slot.current) slot.current.start();
    else kinds.delete(id);
  };
  return round;
}

/** `promise`, or the reason of `signal` when it aborts first. */
function raced<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const unlisten = onAbort(signal, () => reject(signal.reason));
    promise.then(
      (value) => {
        unlisten();
        resolve(value);
      },
      (error: unknown) => {
        unlisten();
        reject(error);
      },
    );
  });
}
