/**
 * Shrinking a failing part of a history to a minimal counterexample: delta debugging (Zeller's ddmin) over
 * its operations, keeping a smaller set whenever it still fails. The result is 1-minimal when the effort
 * allowed it to finish: taking out any one operation makes it pass.
 *
 * Taking out the write a read saw would make almost any history fail ("a read of a value never written"),
 * and hide the real story. So a smaller set is only taken when every value (and index) one of its operations
 * observed still has a writer in it, if the part had one ({@link keepsWitnesses}).
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

/** What an operation saw of its key: a value and/or an index, or only that the key existed. */
interface Observation {
  readonly value?: string;
  readonly index?: number;
}

/** What `op` saw of its key: a read's node, a write's `prevNode`, a compare that held, a 101 or 105. */
function observations(op: KvOperation): Observation[] {
  const { input, output } = op;
  if (output?.status === 'compare-failed' || output?.status === 'exists') return [{}];
  if (output?.status !== 'ok') return [];
  const seen: Observation[] = [];
  if (input.type === 'get' && output.value !== undefined) {
    seen.push({ value: output.value, ...(output.index === undefined ? {} : { index: output.index }) });
  }
  if (output.prev) seen.push(output.prev);
  if (input.type === 'cas' || input.type === 'delete') {
    const compared = {
      ...(input.prevValue === undefined ? {} : { value: input.prevValue }),
      ...(input.prevIndex ? { index: input.prevIndex } : {}),
    };
    if (compared.value !== undefined || compared.index !== undefined) seen.push(compared);
  }
  return seen;
}

/** True when `writer` may have made the version `seen` describes (its index too, when `exact`). */
function wrote(writer: KvOperation, seen: Observation, exact: boolean): boolean {
  const { input, output } = writer;
  if (input.type === 'get' || input.type === 'delete') return false;
  if (output !== undefined && output.status !== 'ok') return false;
  if (seen.value !== undefined && seen.value !== input.value) return false;
  const index = output?.status === 'ok' ? output.index : undefined;
  return !exact || seen.index === undefined || index === undefined || seen.index === index;
}

/**
 * True when every observation in `subset` that had a writer among `all` (other than the observer) still has
 * one in `subset`: one of the same value and index if there was one, else one of the same value.
 */
export function keepsWitnesses(all: readonly KvOperation[], subset: readonly KvOperation[]): boolean {
  const witnessed = (op: KvOperation, seen: Observation, among: readonly KvOperation[], exact: boolean) =>
    among.some((w) => w !== op && wrote(w, seen, exact));
  return subset.every((op) =>
    observations(op).every((seen) =>
      [true, false].every((exact) => !witnessed(op, seen, all, exact) || witnessed(op, seen, subset, exact)),
    ),
  );
}
