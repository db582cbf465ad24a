/**
 * The core's shared reads: the same read asked for by many contenders of one process at once (a thousand lock
 * waiters joining one queue) costs a few round trips and decodings, not a thousand. Callers that ask while a
 * read of the same kind is in flight gather for the next one, sent when that one settles (or has been in flight
 * for {@link OVERTAKE_AFTER_MS}: a slow member must not hold every reader back). So every caller gets a read
 * sent after it asked (a quorum read stays linearizable for each of them), and waits about one read longer
 * than alone.
 *
 * Reads are shared between keys objects that report the same client and prefix (see `RecipeKeys.client` and
 * `RecipeKeys.prefix`), which must therefore be interchangeable: a shared read goes through the keys object of
 * the caller that asked first, and the others' `read` is not called. A keys object that does not report both
 * shares with itself only.
 */
import type { RecipeKeys } from '../keys.js';
import { onAbort } from './wait.js';

/**
 * A read in flight longer than this no longer holds back the callers gathered behind it: their read is sent
 * anyway (a quorum read takes milliseconds; one stuck on a member that froze waits out its header timeout).
 */
export const OVERTAKE_AFTER_MS = 1000;

/** One read, shared by the callers that joined it before it was sent. */
interface Round {
  readonly result: Promise<unknown>;
  /** Settles {@link result} with the read's outcome, once sent. */
  readonly settle: (outcome: Promise<unknown>) => void;
  readonly controller: AbortController;
  /** Callers still waiting for it; when the last one leaves, the read is dropped or called off. */
  waiting: number;
  /** Whether the read has been sent. */
  sent: boolean;
  /** When it was sent (`performance.now()`). */
  sentAt: number;
  /** Whether the read has answered or failed. */
  settled: boolean;
  /** While gathering: the timer that sends it if the read ahead takes too long. */
  overtake?: NodeJS.Timeout | undefined;
}

/** The reads of one kind: the one sent last, and the one that gathers callers meanwhile. */
interface Slot {
  readonly owner: Map<string, Slot>;
  readonly id: string;
  readonly read: (signal: AbortSignal) => Promise<unknown>;
  current?: Round | undefined;
  next?: Round | undefined;
}

/** Per client (or keys object): `<prefix>\0<kind>` -> its slot. */
const slotsByOwner = new WeakMap<object, Map<string, Slot>>();

/**
 * `read` for `kind`, shared with the callers that ask for the same kind through keys objects of the same client
 * and prefix (see the module's comment). `kind` names the read fully (e.g. `queue /locks/a`), and a kind always
 * reads into the same type. `read` gets a signal that aborts when every caller of its round has left. A
 * caller's `signal` ends its own wait with its reason.
 */
export function sharedRead<T>(
  keys: RecipeKeys,
  kind: string,
  read: (signal: AbortSignal) => Promise<T>,
  signal?: AbortSignal,
): Promise<T> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  const slot = slotOf(keys, kind, read);
  let round = slot.next;
  if (!round) {
    round = newRound();
    if (slot.current) gather(slot, round);
    else send(slot, round);
  }
  return waitFor(slot, round, signal) as Promise<T>;
}

function slotOf(keys: RecipeKeys, kind: string, read: (signal: AbortSignal) => Promise<unknown>): Slot {
  const shared = keys.client !== undefined && keys.prefix !== undefined;
  const ownerKey = shared ? keys.client! : keys;
  const id = shared ? `${keys.prefix}\0${kind}` : kind;
  let owner = slotsByOwner.get(ownerKey);
  if (!owner) {
    owner = new Map();
    slotsByOwner.set(ownerKey, owner);
  }
  let slot = owner.get(id);
  if (!slot) {
    slot = { owner, id, read };
    owner.set(id, slot);
  }
  return slot;
}

function newRound(): Round {
  let settle!: (outcome: Promise<unknown>) => void;
  const result = new Promise<unknown>((resolve) => {
    settle = resolve;
  });
  // nobody may be left to hear a read called off
  result.catch(() => {});
  return {
    result,
    settle,
    controller: new AbortController(),
    waiting: 0,
    sent: false,
    sentAt: 0,
    settled: false,
  };
}

/** Makes `round` the one that gathers callers until the read in flight settles or has taken too long. */
function gather(slot: Slot, round: Round): void {
  const ahead = slot.current!;
  slot.next = round;
  round.overtake = setTimeout(
    () => {
      if (slot.next === round) {
        slot.next = undefined;
        send(slot, round);
      }
    },
    Math.max(0, ahead.sentAt + OVERTAKE_AFTER_MS - performance.now()),
  );
  round.overtake.unref();
}

/** Sends `round`'s read; when it settles and is still the last one sent, the round gathered behind goes. */
function send(slot: Slot, round: Round): void {
  clearTimeout(round.overtake);
  round.sent = true;
  round.sentAt = performance.now();
  slot.current = round;
  let outcome: Promise<unknown>;
  try {
    outcome = Promise.resolve(slot.read(round.controller.signal));
  } catch (error) {
    outcome = Promise.reject(error);
  }
  round.settle(outcome);
  const settled = (): void => {
    round.settled = true;
    if (slot.current !== round) return;
    slot.current = undefined;
    const next = slot.next;
    slot.next = undefined;
    if (next) send(slot, next);
    else slot.owner.delete(slot.id);
  };
  outcome.then(settled, settled);
}

/** One caller's wait for `round`: its result, or the reason of `signal` when it aborts first. */
function waitFor(slot: Slot, round: Round, signal: AbortSignal | undefined): Promise<unknown> {
  round.waiting++;
  return new Promise((resolve, reject) => {
    let left = false;
    // at once, not when the caller's code runs again: a round everyone left must not be sent meanwhile
    const leave = (): void => {
      if (left) return;
      left = true;
      unlisten?.();
      if (--round.waiting > 0 || round.settled) return;
      if (round.sent) round.controller.abort();
      else {
        clearTimeout(round.overtake);
        if (slot.next === round) slot.next = undefined;
      }
    };
    const unlisten = signal
      ? onAbort(signal, () => {
          leave();
          reject(signal.reason);
        })
      : undefined;
    round.result.then(
      (value) => {
        leave();
        resolve(value);
      },
      (error: unknown) => {
        leave();
        reject(error);
      },
    );
  });
}
