/**
 * The linearizability search of Wing and Gong, with Lowe's memoisation, as porcupine runs it: the history
 * is a list of call and return events by time; the search takes, in turn, each operation whose call comes
 * before the first pending return, applies it to the model, and backtracks when a return is reached whose
 * operation could not be placed. A memo of (set of operations placed, model state) cuts every branch that
 * reaches a configuration seen before.
 *
 * Optional operations (outcome unknown, completion at +infinity) are placed only where they take effect;
 * one that never took effect is simply left out, so the search ends when every definite operation is placed.
 *
 * @packageDocumentation
 */

/** An operation as the search sees it: its interval. `optional` ones may also never take effect. */
export interface SearchOp {
  readonly start: number;
  /** `Infinity` for an operation whose outcome is unknown. */
  readonly end: number;
  readonly optional: boolean;
}

/** A sequential specification: its first state, the states an operation may lead to, and a memo key. */
export interface SearchModel<S> {
  readonly init: S;
  /** The states operation `op` (an index into the ops) may leave when applied to `state`; empty if none. */
  step(state: S, op: number): readonly S[];
  /** Equal for equal states. */
  hash(state: S): string;
}

/** Bounds on one search: when it is reached, the answer is `unknown`. */
export interface SearchBudget {
  /** A `performance.now()` time to stop at. */
  readonly deadline?: number;
  /** The most search steps (a step places, skips or takes back one event). */
  readonly maxSteps?: number;
}

/** What a search found, and how many steps it took. */
export interface SearchResult {
  readonly verdict: 'ok' | 'fail' | 'unknown';
  readonly steps: number;
}

interface Entry {
  readonly op: number;
  readonly call: boolean;
  match: Entry | undefined;
  prev: Entry | undefined;
  next: Entry | undefined;
}

interface Frame<S> {
  readonly entry: Entry;
  readonly before: S;
  readonly states: readonly S[];
  at: number;
}

/** The events in a doubly linked list behind a head: calls before returns at equal times (more overlap). */
function entries(ops: readonly SearchOp[]): Entry {
  const events: { time: number; call: boolean; op: number }[] = [];
  for (const [op, { start, end }] of ops.entries()) {
    events.push({ time: start, call: true, op }, { time: end, call: false, op });
  }
  events.sort((a, b) => a.time - b.time || Number(b.call) - Number(a.call) || a.op - b.op);
  const head: Entry = { op: -1, call: false, match: undefined, prev: undefined, next: undefined };
  const calls = new Map<number, Entry>();
  let last = head;
  for (const event of events) {
    const entry: Entry = { op: event.op, call: event.call, match: undefined, prev: last, next: undefined };
    last.next = entry;
    last = entry;
    if (event.call) calls.set(event.op, entry);
    else {
      const call = calls.get(event.op)!;
      call.match = entry;
      entry.match = call;
    }
  }
  return head;
}

/** Takes a call and its return out of the list. */
function lift(call: Entry): void {
  for (const entry of [call, call.match!]) {
    entry.prev!.next = entry.next;
    if (entry.next) entry.next.prev = entry.prev;
  }
}

/** Puts them back, in the reverse order. */
function unlift(call: Entry): void {
  for (const entry of [call.match!, call]) {
    entry.prev!.next = entry;
    if (entry.next) entry.next.prev = entry;
  }
}

/** Searches for a linearization of `ops` under `model`. */
export function searchLinearization<S>(
  ops: readonly SearchOp[],
  model: SearchModel<S>,
  budget: SearchBudget = {},
): SearchResult {
  const head = entries(ops);
  const placed = new Uint32Array(Math.ceil(ops.length / 32) + 1);
  const memo = new Set<string>();
  const stack: Frame<S>[] = [];
  let definite = ops.filter((op) => !op.optional).length;
  let state = model.init;
  let entry = head.next;
  let steps = 0;
  const maxSteps = budget.maxSteps ?? Number.POSITIVE_INFINITY;

  /** The first of `states` from `at` whose configuration is new (and now remembered); -1 if none. */
  const fresh = (op: number, states: readonly S[], at: number): number => {
    placed[op >> 5]! |= 1 << (op & 31);
    const bits = placed.join(',');
    placed[op >> 5]! &= ~(1 << (op & 31));
    for (let i = at; i < states.length; i++) {
      const key = `${bits}|${model.hash(states[i]!)}`;
      if (!memo.has(key)) {
        memo.add(key);
        return i;
      }
    }
    return -1;
  };
  const place = (frame: Frame<S>): void => {
    stack.push(frame);
    state = frame.states[frame.at]!;
    placed[frame.entry.op >> 5]! |= 1 << (frame.entry.op & 31);
    if (!ops[frame.entry.op]!.optional) definite--;
    lift(frame.entry);
    entry = head.next;
  };

  while (definite > 0 && entry) {
    steps++;
    if (steps > maxSteps) return { verdict: 'unknown', steps };
    if ((steps & 1023) === 0 && budget.deadline !== undefined && performance.now() > budget.deadline) {
      return { verdict: 'unknown', steps };
    }
    if (entry.call) {
      const states = model.step(state, entry.op);
      const at = states.length ? fresh(entry.op, states, 0) : -1;
      if (at >= 0) place({ entry, before: state, states, at });
      else entry = entry.next;
      continue;
    }
    const frame = stack.pop();
    if (!frame) return { verdict: 'fail', steps };
    const op = frame.entry.op;
    placed[op >> 5]! &= ~(1 << (op & 31));
    if (!ops[op]!.optional) definite++;
    state = frame.before;
    unlift(frame.entry);
    const at = fresh(op, frame.states, frame.at + 1);
    if (at >= 0) place({ ...frame, at });
    else entry = frame.entry.next;
  }
  return { verdict: definite === 0 ? 'ok' : 'fail', steps };
}
