import type { Cluster } from './cluster.js';
import type { Operation } from './history.js';
import { httpRequest, probeTarget, sleep } from './internal/http.js';

/** What a checker found wrong. Empty means the history is valid. */
export interface Violation {
  readonly checker: string;
  readonly message: string;
  readonly ops: readonly Operation[];
}

/**
 * Lock or leadership overlap: two successful `hold` operations (from acquisition to release, as the holder
 * saw them) of different processes whose time intervals intersect. `graceMs` tolerates clock reading order
 * between processes (default 0). The message names each hold with its `detail` (e.g. how it ended).
 */
export function checkNoOverlap(holds: readonly Operation[], options: { graceMs?: number } = {}): Violation[] {
  const sorted = holds.filter((op) => op.ok).sort((a, b) => a.start - b.start);
  return overlappingPairs(sorted, options.graceMs ?? 0).map(([a, b]) => ({
    checker: 'no-overlap',
    message: `${holder(a)} and ${holder(b)} held at once for ${(a.end - b.start).toFixed(1)} ms`,
    ops: [a, b],
  }));
}

/** A hold as a violation names it: its process and token, and its `detail` when it has one. */
function holder(op: Operation): string {
  return `${op.process} (token ${op.token}${op.detail ? `; ${op.detail}` : ''})`;
}

/**
 * Every pair of intervals of `sorted` (by start) that overlap by more than `graceMs`, the earlier first: the
 * sweep of {@link checkNoOverlap}, and of the history report's shading of holders at once.
 */
export function overlappingPairs<T extends { readonly start: number; readonly end: number }>(
  sorted: readonly T[],
  graceMs = 0,
): [T, T][] {
  const pairs: [T, T][] = [];
  for (let i = 0; i < sorted.length; i++)
    for (let j = i + 1; j < sorted.length && sorted[j]!.start < sorted[i]!.end - graceMs; j++)
      pairs.push([sorted[i]!, sorted[j]!]);
  return pairs;
}

/**
 * Fencing tokens rise strictly in the order the holds began: each holder's token is above every earlier
 * holder's, and none is used twice.
 */
export function checkRisingTokens(holds: readonly Operation[]): Violation[] {
  const sorted = holds.filter((op) => op.ok && op.token !== undefined).sort((a, b) => a.start - b.start);
  const violations: Violation[] = [];
  for (let i = 1; i < sorted.length; i++) {
    const [previous, current] = [sorted[i - 1]!, sorted[i]!];
    if (current.token! <= previous.token!) {
      violations.push({
        checker: 'rising-tokens',
        message: `${current.process} got token ${current.token} after ${previous.process} had ${previous.token}`,
        ops: [previous, current],
      });
    }
  }
  return violations;
}

/**
 * Fenced writes: every accepted `write` carries a token at least as high as every write accepted before it
 * (by completion time); a lower one means a stale holder overwrote a newer one's data.
 */
export function checkFencedWrites(writes: readonly Operation[]): Violation[] {
  const accepted = writes.filter((op) => op.ok && op.token !== undefined).sort((a, b) => a.end - b.end);
  const violations: Violation[] = [];
  let highest: Operation | undefined;
  for (const write of accepted) {
    if (highest && write.token! < highest.token!) {
      violations.push({
        checker: 'fenced-writes',
        message: `${write.process} wrote with token ${write.token} after token ${highest.token} was written`,
        ops: [highest, write],
      });
    }
    if (!highest || write.token! > highest.token!) highest = write;
  }
  return violations;
}

interface KeysNode {
  key?: string;
  value?: string;
  dir?: boolean;
  nodes?: KeysNode[];
}

/** `key=value` lines of a v2 tree, sorted (indexes left out: they are the same when the data is). */
function flatten(node: KeysNode | undefined, into: string[] = []): string[] {
  if (!node) return into;
  if (!node.dir && node.key) into.push(`${node.key}=${node.value ?? ''}`);
  for (const child of node.nodes ?? []) flatten(child, into);
  return into.sort();
}

/** What {@link checkConvergence} found. */
export interface ConvergenceResult {
  readonly converged: boolean;
  /** The etcd index each running member reached. */
  readonly indexes: Record<string, number>;
  /** Members whose keyspace under the prefix differs from the first member's, with the first difference. */
  readonly differences: readonly string[];
}

/**
 * Convergence after heal: waits (up to `timeoutMs`, default 10000) until every running member has applied the
 * same etcd index, then compares their keyspaces under `prefix` (a local, non-quorum read on each member).
 */
export async function checkConvergence(
  cluster: Cluster,
  options: { prefix?: string; timeoutMs?: number } = {},
): Promise<ConvergenceResult> {
  const { prefix = '/', timeoutMs = 10_000 } = options;
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const members = cluster.members.filter((member) => member.state === 'running');
    const replies = await Promise.all(
      members.map((member) => {
        const { url, tls } = probeTarget(member);
        return httpRequest(`${url}/v2/keys${prefix}?recursive=true`, { timeoutMs: 2000, tls }).catch(
          () => undefined,
        );
      }),
    );
    const indexes: Record<string, number> = {};
    const trees: string[][] = [];
    for (const [i, reply] of replies.entries()) {
      indexes[members[i]!.name] = Number(reply?.headers['x-etcd-index'] ?? -1);
      trees.push(reply?.status === 200 ? flatten((JSON.parse(reply.body) as { node?: KeysNode }).node) : []);
    }
    const sameIndex = new Set(Object.values(indexes)).size === 1 && !Object.values(indexes).includes(-1);
    if (sameIndex || performance.now() > deadline) {
      const differences: string[] = [];
      for (const [i, tree] of trees.entries()) {
        const first = trees[0]!;
        if (tree.join('\n') === first.join('\n')) continue;
        const at = tree.findIndex((line, k) => line !== first[k]);
        differences.push(
          `${members[i]!.name}: ${tree[at] ?? '(missing)'} vs ${members[0]!.name}: ${first[at] ?? '(missing)'}`,
        );
      }
      return { converged: sameIndex && differences.length === 0, indexes, differences };
    }
    await sleep(50);
  }
}
