/**
 * Shrinking a failing part of a history to a minimal counterexample: delta debugging (Zeller's ddmin) over
 * its operations, keeping a smaller set whenever it still fails. The result is 1-minimal when the effort
 * allowed it to finish: taking out any one operation makes it pass.
 *
 * Taking out the write a read saw would make almost any history fail ("a read of a value never written"),
 * and hide the real story: so the writes taken out stay as pending ones ({@link contextWrites}).
 *
 * @packageDocumentation
 */
import type { KvOperation } from './kv-ops.js';

/** The smallest failing set found, and whether it is 1-minimal. */
export interface Shrunk<T> {
  readonly items: readonly T[];
  readonly minimal: boolean;
}

/**
 * ddmin: tries to take out chunks of `items` (halves, then quarters, ... down to single items) while `fails`
 * still holds, at most `maxChecks` calls of `fails`.
 */
export function shrinkFailing<T>(
  items: readonly T[],
  fails: (subset: readonly T[]) => boolean,
  maxChecks: number,
): Shrunk<T> {
  let current = [...items];
  let chunks = 2;
  let checks = 0;
  while (current.length >= 2) {
    const size = Math.ceil(current.length / chunks);
    let reduced = false;
    for (let from = 0; from < current.length; from += size) {
      if (checks++ >= maxChecks) return { items: current, minimal: false };
      const rest = [...current.slice(0, from), ...current.slice(from + size)];
      if (fails(rest)) {
        current = rest;
        chunks = Math.max(chunks - 1, 2);
        reduced = true;
        break;
      }
    }
    if (reduced) continue;
    if (size === 1) break;
    chunks = Math.min(chunks * 2, current.length);
  }
  return { items: current, minimal: true };
}

/**
 * Before ddmin, a cheap narrowing of `items` (by invocation): the shortest failing prefix (binary search),
 * then the shortest failing tail of that prefix of 1, 2, 4, ... items. Falls back to what fails.
 */
export function narrowFailing<T>(items: readonly T[], fails: (subset: readonly T[]) => boolean): T[] {
  let low = 1;
  let high = items.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (fails(items.slice(0, middle))) high = middle;
    else low = middle + 1;
  }
  const prefix = high < items.length && fails(items.slice(0, high)) ? items.slice(0, high) : [...items];
  for (let width = 1; width < prefix.length; width *= 2) {
    const tail = prefix.slice(prefix.length - width);
    if (fails(tail)) return tail;
  }
  return prefix;
}

/** True when `op` changes the key when it takes effect: a write that succeeded or is pending. */
function isWrite(op: KvOperation): boolean {
  return op.input.type !== 'get' && (op.output === undefined || op.output.status === 'ok');
}

/** The values `op` depends on: a read's, a write's `prevNode`'s, a compare's (when it held, or may). */
function observedValues(op: KvOperation): string[] {
  const { input, output } = op;
  if (output !== undefined && output.status !== 'ok') return [];
  const values: string[] = [];
  if (input.type === 'get' && output?.status === 'ok' && output.value !== undefined)
    values.push(output.value);
  if (output?.status === 'ok' && output.prev) values.push(output.prev.value);
  if ((input.type === 'cas' || input.type === 'delete') && input.prevValue !== undefined) {
    values.push(input.prevValue);
  }
  return values;
}

/** True when `op` depends on whether the key exists, or on its value or index not being one compared. */
function seesPresence(op: KvOperation): boolean {
  const { input, output } = op;
  if (output !== undefined && output.status !== 'ok') return true;
  if (input.type === 'cas') return input.prevValue === undefined;
  return input.type === 'create' || input.type === 'update' || input.type === 'delete';
}

/**
 * The writes of `all` outside `subset` that could explain something `subset` saw, made pending: a smaller
 * set counts as failing only when it still fails with these, each free to take effect at any time after its
 * invocation or never. So taking out the write a read saw does not make a read of a value "never written":
 * the counterexample fails whatever the other writes did. Only writes invoked before the last completion in
 * `subset` can matter; a write whose value nothing depends on matters only when something depends on the key
 * existing or not (the writes taken in count too, since they may need earlier ones to take effect).
 */
export function contextWrites(all: readonly KvOperation[], subset: readonly KvOperation[]): KvOperation[] {
  const inSubset = new Set(subset);
  const done = subset.filter((op) => op.output !== undefined).map((op) => op.end);
  const last = Math.max(Number.NEGATIVE_INFINITY, ...done);
  const candidates = all
    .filter((op) => !inSubset.has(op) && isWrite(op) && op.start < last)
    .map((op): KvOperation => {
      const { output: _, ...weakened } = op;
      return weakened;
    });
  const taken = new Set<KvOperation>();
  let presence = subset.some(seesPresence);
  const values = new Set(subset.flatMap(observedValues));
  for (let grew = true; grew; ) {
    grew = false;
    for (const op of candidates) {
      if (taken.has(op) || !(presence || ('value' in op.input && values.has(op.input.value)))) continue;
      taken.add(op);
      grew = true;
      presence ||= seesPresence(op);
      for (const value of observedValues(op)) values.add(value);
    }
  }
  return candidates.filter((op) => taken.has(op));
}
