/**
 * The model of one etcd v2 key, for the linearizability search: what each operation may do to the key's state,
 * given its input and output.
 *
 * The state is the key's value (or absent) and what is known of its `modifiedIndex`. etcd's indexes are global
 * across keys (every write of any key takes the next one), so the index of a key's next write is not known in
 * advance: only that it is above the last. The model keeps, per key, the last index observed:
 *
 * - `index` is the index of the key's last event (the write that made the current value, or the delete that
 *   removed it), exactly when `exact`, otherwise a lower bound of it (`0` at first: nothing known).
 * - A write that reports index `j` needs `j > index` and leaves `index = j`, exact.
 * - A write whose index is unknown (pending, or a reply without a node) leaves `index + 1`, a lower bound.
 * - A read of the value with index `j` needs `j === index` when exact, `j >= index` otherwise, and leaves
 *   `index = j`, exact (every write takes effect at most once, so a version has one index).
 * - A read of "not found" (error 100) with store index `s` needs the key absent and `s >= index`.
 * - `prevNode` in a write's reply is checked as a read just before the write.
 * - Failures 100 (not found), 101 (compare failed) and 105 (exists) need the state that causes them and
 *   change nothing. A compare on `prevIndex` against an inexact index fails for certain only when
 *   `prevIndex < index`; otherwise either outcome is allowed.
 * - A pending operation, when it takes effect at all, applies with an unknown index, if its conditions
 *   can hold (one that never took effect, or failed, changes nothing: the search lets it out).
 *
 * @packageDocumentation
 */
import type { KvInput, KvObserved, KvOperation, KvOutput } from './kv-ops.js';

/** What is known of one key: its value (`null`: absent) and its last event's index (see the module doc). */
export interface KeyState {
  readonly value: string | null;
  readonly index: number;
  readonly exact: boolean;
}

/** A key nothing is known about yet: absent, no index known. */
export const UNKNOWN_KEY: KeyState = { value: null, index: 0, exact: false };

/** A string that is equal for equal states (the search's memo key). */
export function hashKeyState(state: KeyState): string {
  return `${state.exact ? '=' : '>='}${state.index}${state.value === null ? '' : `:${state.value}`}`;
}

type Tri = 'yes' | 'no' | 'maybe';

/** Does the compare of a cas or compare-and-delete hold on a present key? */
function compare(state: KeyState, prevValue: string | undefined, prevIndex: number | undefined): Tri {
  let result: Tri = 'yes';
  if (prevValue !== undefined && prevValue !== state.value) return 'no';
  if (prevIndex !== undefined && prevIndex !== 0) {
    if (state.exact) return prevIndex === state.index ? result : 'no';
    if (prevIndex < state.index) return 'no';
    result = 'maybe';
  }
  return result;
}

/** The state after a read saw `seen` (a node, or `null` for absent), or `undefined` if it cannot have. */
function observe(state: KeyState, seen: KvObserved | null, storeIndex?: number): KeyState | undefined {
  if (seen === null) {
    if (state.value !== null) return undefined;
    return storeIndex === undefined || storeIndex >= state.index ? state : undefined;
  }
  if (state.value !== seen.value) return undefined;
  if (seen.index === undefined) return state;
  if (state.exact ? seen.index !== state.index : seen.index < state.index) return undefined;
  return { value: state.value, index: seen.index, exact: true };
}

/** The value a successful write leaves (`null` for a delete), or `undefined` when it cannot succeed now. */
function success(state: KeyState, input: KvInput): { value: string | null } | undefined {
  switch (input.type) {
    case 'set':
      return { value: input.value };
    case 'create':
      return state.value === null ? { value: input.value } : undefined;
    case 'update':
      return state.value === null ? undefined : { value: input.value };
    case 'cas':
      if (state.value === null || compare(state, input.prevValue, input.prevIndex) === 'no') return undefined;
      return { value: input.value };
    case 'delete':
      if (state.value === null || compare(state, input.prevValue, input.prevIndex) === 'no') return undefined;
      return { value: null };
    default:
      return undefined;
  }
}

/** True when the failure `output` can be the answer to `input` in `state`. */
function canFail(state: KeyState, input: KvInput, output: KvOutput): boolean {
  const conditional = input.type === 'cas' || input.type === 'delete';
  switch (output.status) {
    case 'not-found':
      return state.value === null && (conditional || input.type === 'update');
    case 'compare-failed':
      if (input.type !== 'cas' && input.type !== 'delete') return false;
      return state.value !== null && compare(state, input.prevValue, input.prevIndex) !== 'yes';
    case 'exists':
      return input.type === 'create' && state.value !== null;
    default:
      return false;
  }
}

/** The state after a write to `value` whose index is `index` (unknown: `undefined`). */
function written(state: KeyState, value: string | null, index: number | undefined): KeyState | undefined {
  if (index === undefined) return { value, index: state.index + 1, exact: false };
  return index > state.index ? { value, index, exact: true } : undefined;
}

/**
 * The states `op` may leave when it takes effect in `state` (empty: it cannot be linearized here). For a
 * pending operation, the state it leaves if it took effect (that it may not have is the search's business).
 */
export function stepKey(state: KeyState, op: KvOperation): KeyState[] {
  const { input, output } = op;
  if (input.type === 'createInOrder') return [];
  if (output === undefined) {
    const applied = input.type === 'get' ? undefined : success(state, input);
    const next = applied && written(state, applied.value, undefined);
    return next ? [next] : [];
  }
  if (input.type === 'get') {
    const seen = output.status === 'ok' ? { value: output.value ?? '', ...pick(output.index) } : null;
    if (output.status !== 'ok' && output.status !== 'not-found') return [];
    const next = observe(state, seen, output.status === 'not-found' ? output.storeIndex : undefined);
    return next ? [next] : [];
  }
  if (output.status !== 'ok') return canFail(state, input, output) ? [state] : [];
  const before = output.prev === undefined ? state : observe(state, output.prev);
  if (before === undefined) return [];
  const applied = success(before, input);
  const next = applied && written(before, applied.value, output.index);
  return next ? [next] : [];
}

function pick(index: number | undefined): { index?: number } {
  return index === undefined ? {} : { index };
}

/**
 * The model of a `createInOrder` directory: the state is the highest index of a key created in it so far (`0`
 * at first). A creation that reports index `j` needs `j` above it: keys created in order have rising indexes.
 * A creation with no known index changes nothing.
 */
export function stepInOrder(state: number, op: KvOperation): number[] {
  const { output } = op;
  if (output?.status !== 'ok') return [];
  if (output.index === undefined) return [state];
  return output.index > state ? [output.index] : [];
}
