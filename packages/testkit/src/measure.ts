import type { Cluster, Member } from './cluster.js';
import { ClusterTimeoutError } from './errors.js';
import { probeTarget, putKey, sleep } from './internal/http.js';

/** What {@link measureFailover} saw. */
export interface FailoverTimes {
  /** The leader before the fault (undefined when there was none). */
  readonly before: Member | undefined;
  /** The leader a majority agreed on after the fault. */
  readonly after: Member;
  /** From the fault's start to a majority agreeing on a leader other than a faulted one, ms. */
  readonly newLeaderMs: number;
  /** From the fault's start to the first successful v2 write through a running member, ms. */
  readonly firstWriteMs: number;
}

/**
 * Times a failover: runs `fault` (e.g. `() => leader.kill()`), then measures, from the fault's start, the
 * time to a new leader (one not in `faulted`, default the leader before) and to the first successful write.
 *
 * @throws {ClusterTimeoutError} after `timeoutMs` (default 15000) without a leader or a write.
 */
export async function measureFailover(
  cluster: Cluster,
  fault: () => Promise<unknown>,
  options: { faulted?: readonly Member[]; timeoutMs?: number; key?: string } = {},
): Promise<FailoverTimes> {
  const { timeoutMs = 15_000, key = '/_etcdkit/failover' } = options;
  const before = await cluster.leader();
  const faulted = options.faulted ?? (before ? [before] : []);
  const t0 = performance.now();
  await fault();
  const [after, firstWriteMs] = await Promise.all([
    cluster
      .waitForLeader({ exclude: faulted, timeoutMs })
      .then((leader) => ({ leader, ms: performance.now() - t0 })),
    firstWrite(cluster, faulted, key, t0, timeoutMs),
  ]);
  return { before, after: after.leader, newLeaderMs: after.ms, firstWriteMs };
}

/** Writes through every running, unfaulted member at once, round after round, until one write succeeds; resolves to ms since t0. */
async function firstWrite(
  cluster: Cluster,
  faulted: readonly Member[],
  key: string,
  t0: number,
  timeoutMs: number,
): Promise<number> {
  for (;;) {
    const candidates = cluster.members.filter(
      (member) => !faulted.includes(member) && member.state === 'running' && !member.isolated,
    );
    const written = await Promise.any(
      candidates.map(async (member) => {
        const { url, tls } = probeTarget(member);
        const status = await putKey(url, key, String(Date.now()), 300, tls);
        if (status !== 200 && status !== 201) throw new Error(`status ${status}`);
        return performance.now() - t0;
      }),
    ).catch(() => undefined);
    if (written !== undefined) return written;
    if (performance.now() - t0 > timeoutMs)
      throw new ClusterTimeoutError(`no write succeeded within ${timeoutMs} ms`);
    await sleep(5);
  }
}

/** The median of `values` (NaN when empty). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
