/** The linearizability check of a KV history: per key, search, and shrink what fails. */
import { type SearchBudget, type SearchModel, type SearchResult, searchLinearization } from './check.js';
import { contextWrites, narrowFailing, shrinkFailing } from './counterexample.js';
import { formatKvOperations } from './format.js';
import { hashKeyState, type KeyState, stepInOrder, stepKey, UNKNOWN_KEY } from './kv-model.js';
import { isPending, type KvOperation } from './kv-ops.js';
import { type KvHistoryStats, type PartOp, partition } from './partition.js';

/** Options of {@link checkKvLinearizability}. */
export interface KvCheckOptions {
  /** Time for the whole search, in ms; then the answer is `unknown`. Default `30000`. */
  readonly timeoutMs?: number;
  /** The most search steps for one key; then the answer is `unknown`. Default `10000000`. */
  readonly maxSteps?: number;
  /**
   * The most searches spent shrinking a counterexample (each bounded like the check). Default `300`; the
   * counterexample says whether it got to a minimal one.
   */
  readonly shrinkChecks?: number;
  /** The most search steps of one shrinking search; a smaller set it cannot decide is not taken. Default `200000`. */
  readonly shrinkSteps?: number;
}

/** The operations that show a key's history is not linearizable. */
export interface KvCounterexample {
  /** The key (or, for the order of `createInOrder` keys, the directory). */
  readonly key: string;
  /** The operations, as recorded, by invocation time. */
  readonly ops: readonly KvOperation[];
  /** True when it is 1-minimal: without any one of these operations, the rest is linearizable. */
  readonly minimal: boolean;
  /** How many operations of the key it was shrunk from. */
  readonly shrunkFrom: number;
  /** A printout: one line per operation (see {@link formatKvOperations}), under a heading. */
  readonly text: string;
}

/**
 * What {@link checkKvLinearizability} found: `ok: true` (a linearization exists for every key), `ok: false`
 * with the first key (in key order) that has none and a counterexample, or `ok: 'unknown'` when the budget
 * ran out first on `key`. `stats` counts what was and was not checked.
 */
export type KvCheckResult =
  | { readonly ok: true; readonly stats: KvHistoryStats }
  | {
      readonly ok: false;
      readonly key: string;
      readonly counterexample: KvCounterexample;
      readonly stats: KvHistoryStats;
    }
  | { readonly ok: 'unknown'; readonly key: string; readonly reason: string; readonly stats: KvHistoryStats };

/** Searches one part (see `partition`). */
function searchPart(ops: readonly PartOp[], dir: boolean, budget: SearchBudget): SearchResult {
  const intervals = ops.map(({ op }) => ({
    start: op.start,
    end: isPending(op) ? Number.POSITIVE_INFINITY : op.end,
    optional: isPending(op),
  }));
  if (dir) {
    const model: SearchModel<number> = {
      init: 0,
      step: (state, i) => stepInOrder(state, ops[i]!.op),
      hash: String,
    };
    return searchLinearization(intervals, model, budget);
  }
  const model: SearchModel<KeyState> = {
    init: UNKNOWN_KEY,
    step: (state, i) => stepKey(state, ops[i]!.op),
    hash: hashKeyState,
  };
  return searchLinearization(intervals, model, budget);
}

/**
 * Checks that a history of etcd v2 KV operations is linearizable, key by key, against the model of
 * `kv-model.ts` (values, `modifiedIndex` as far as it is known, pending operations that may take effect at
 * any time after their invocation or never). Local reads (`quorum: false`) are counted, not checked. Ends
 * with `ok: 'unknown'` rather than running past `timeoutMs` or `maxSteps`.
 */
export function checkKvLinearizability(
  history: readonly KvOperation[] | { readonly operations: readonly KvOperation[] },
  options: KvCheckOptions = {},
): KvCheckResult {
  const { timeoutMs = 30_000, maxSteps = 10_000_000, shrinkChecks = 300, shrinkSteps = 200_000 } = options;
  if (!(timeoutMs > 0)) throw new RangeError(`timeoutMs must be > 0, got ${timeoutMs}`);
  if (!(maxSteps > 0)) throw new RangeError(`maxSteps must be > 0, got ${maxSteps}`);
  const ops = 'operations' in history ? history.operations : history;
  const { parts, stats } = partition(ops);
  const deadline = performance.now() + timeoutMs;
  let unknown: { key: string; reason: string } | undefined;
  for (const part of parts) {
    const { verdict, steps } = searchPart(part.ops, part.dir, { deadline, maxSteps });
    if (verdict === 'ok') continue;
    if (verdict === 'unknown') {
      unknown ??= { key: part.key, reason: `search budget spent after ${steps} steps` };
      continue;
    }
    const shrinkDeadline = performance.now() + timeoutMs;
    let complete = true;
    const all = part.ops.map((item) => item.op);
    const source = new Map(part.ops.map((item) => [item.op, item.source]));
    const fails = (subset: readonly KvOperation[]): boolean => {
      const context = contextWrites(all, subset).map((op) => ({ op, source: op }));
      const items = [...subset.map((op) => ({ op, source: op })), ...context];
      const budget = { deadline: shrinkDeadline, maxSteps: Math.min(maxSteps, shrinkSteps) };
      const found = searchPart(items, part.dir, budget);
      if (found.verdict === 'unknown') complete = false;
      return found.verdict === 'fail';
    };
    const byStart = [...all].sort((a, b) => a.start - b.start);
    const shrunk = shrinkFailing(narrowFailing(byStart, fails), fails, shrinkChecks);
    const recorded = [...new Set(shrunk.items.map((op) => source.get(op)!))].sort(
      (a, b) => a.start - b.start,
    );
    // 1-minimal: no single operation can go, each decided within the budget.
    complete = true;
    const minimal =
      shrunk.minimal &&
      shrunk.items.every((op) => !fails(shrunk.items.filter((other) => other !== op))) &&
      complete;
    const heading = `${part.dir ? 'creations in order under' : 'key'} ${part.key}: not linearizable; ${recorded.length} of ${part.ops.length} operations${minimal ? ' (minimal)' : ''}:`;
    const counterexample: KvCounterexample = {
      key: part.key,
      ops: recorded,
      minimal,
      shrunkFrom: part.ops.length,
      text: `${heading}\n${formatKvOperations(recorded)}`,
    };
    return { ok: false, key: part.key, counterexample, stats };
  }
  return unknown ? { ok: 'unknown', ...unknown, stats } : { ok: true, stats };
}
