/**
 * Splits a KV history into independent parts, one a key (linearizability is compositional: a history is
 * linearizable when the history of each object is), and counts what is not checked.
 *
 * A `createInOrder` that reported its key takes part twice: in its directory's part (the order of creations)
 * and, as a `create` with the reported index, in the part of the key it made. One whose outcome is unknown
 * may have made any key of its directory: it joins the part of each key of that directory that the history
 * names, as a pending `create`.
 *
 * @packageDocumentation
 */
import { isPending, type KvOperation } from './kv-ops.js';

/** One operation of a part: as the model sees it, and as it was recorded. */
export interface PartOp {
  readonly op: KvOperation;
  readonly source: KvOperation;
}

/** The operations of one key, or the creations in order of one directory (`dir: true`). */
export interface KvPart {
  readonly key: string;
  readonly dir: boolean;
  readonly ops: readonly PartOp[];
}

/** What a history held besides the operations checked. */
export interface KvHistoryStats {
  /** Operations checked (a `createInOrder` counts once). */
  readonly checked: number;
  /** Operations whose outcome is unknown, among those checked. */
  readonly pending: number;
  /** Operations known not to have taken effect (left out). */
  readonly failed: number;
  /** Local reads (`quorum: false`): v2 allows them to be stale, so they are not checked. */
  readonly localReads: number;
  /** Local reads that returned an older index than a write or read of the key completed before they began. */
  readonly staleLocalReads: number;
}

const IN_ORDER_NAME = /^\d{20}$/;

/** The parent directory of `key` and its last segment. */
function split(key: string): [string, string] {
  const at = key.lastIndexOf('/');
  return [key.slice(0, at), key.slice(at + 1)];
}

/** Splits `ops` into parts, by key (see the module doc). */
export function partition(ops: readonly KvOperation[]): { parts: KvPart[]; stats: KvHistoryStats } {
  const parts = new Map<string, { dir: boolean; ops: PartOp[] }>();
  const add = (key: string, dir: boolean, item: PartOp): void => {
    const id = `${dir ? 'd' : 'k'}${key}`;
    if (!parts.has(id)) parts.set(id, { dir, ops: [] });
    parts.get(id)!.ops.push(item);
  };
  const unknownInOrder: KvOperation[] = [];
  const localReads: KvOperation[] = [];
  let checked = 0;
  let pending = 0;
  let failed = 0;
  for (const op of ops) {
    const { input, output } = op;
    if (op.failed) failed++;
    else if (input.type === 'get' && input.quorum === false) localReads.push(op);
    else if (input.type === 'get' && output === undefined) failed++;
    else {
      checked++;
      if (isPending(op)) pending++;
      if (input.type !== 'createInOrder') add(input.key, false, { op, source: op });
      else if (output === undefined) unknownInOrder.push(op);
      else {
        add(input.dir, true, { op, source: op });
        if (output.status === 'ok' && output.key !== undefined) {
          const index = output.index ?? Number(split(output.key)[1]);
          const created: KvOperation = {
            ...op,
            input: { type: 'create', key: output.key, value: input.value },
            output: { status: 'ok', index },
          };
          add(output.key, false, { op: created, source: op });
        }
      }
    }
  }
  for (const [id, part] of parts) {
    if (part.dir) continue;
    const [dir, name] = split(id.slice(1));
    if (!IN_ORDER_NAME.test(name)) continue;
    for (const op of unknownInOrder) {
      if (op.input.type !== 'createInOrder' || op.input.dir !== dir) continue;
      const input = { type: 'create', key: id.slice(1), value: op.input.value } as const;
      part.ops.push({ op: { ...op, input }, source: op });
    }
  }
  const list = [...parts].map(([id, part]) => ({ key: id.slice(1), dir: part.dir, ops: part.ops }));
  list.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : Number(a.dir) - Number(b.dir)));
  const stale = staleReads(ops, localReads);
  return {
    parts: list,
    stats: { checked, pending, failed, localReads: localReads.length, staleLocalReads: stale },
  };
}

/**
 * How many of `reads` returned a node whose index is below that of a quorum read or write of the key that
 * completed before they began (a local read that found nothing is not judged).
 */
function staleReads(ops: readonly KvOperation[], reads: readonly KvOperation[]): number {
  const done = new Map<string, { end: number; index: number }[]>();
  for (const op of ops) {
    const { input, output } = op;
    if (output?.status !== 'ok' || output.index === undefined || input.type === 'createInOrder') continue;
    if (input.type === 'get' && input.quorum === false) continue;
    done.set(input.key, [...(done.get(input.key) ?? []), { end: op.end, index: output.index }]);
  }
  let stale = 0;
  for (const read of reads) {
    const { input, output } = read;
    if (input.type !== 'get' || output?.status !== 'ok' || output.index === undefined) continue;
    const seen = output.index;
    if ((done.get(input.key) ?? []).some((op) => op.end < read.start && op.index > seen)) stale++;
  }
  return stale;
}
