import type { Member } from '../cluster.js';
import { ClusterTimeoutError } from '../errors.js';
import { sleep } from './http.js';

/** A member testkit can probe. */
export interface ProbedMember extends Member {
  getJson<T>(path: string, timeoutMs: number): Promise<T | undefined>;
}

interface SelfStats {
  readonly id?: string;
  readonly state?: string;
  readonly leaderInfo?: { readonly leader?: string };
}

/**
 * One probe round: asks every running member whom it follows (`/v2/stats/self`) and returns the member that a
 * majority of the whole cluster names and that itself claims leadership. An isolated former leader that still
 * believes in itself is not returned, since no majority names it.
 */
export async function probeLeader(members: readonly ProbedMember[]): Promise<Member | undefined> {
  const running = members.filter((member) => member.state === 'running');
  const stats = await Promise.all(running.map((m) => m.getJson<SelfStats>('/v2/stats/self', 300)));
  const votes = new Map<string, number>();
  for (const stat of stats) {
    const leader = stat?.leaderInfo?.leader;
    if (leader && leader !== '0') votes.set(leader, (votes.get(leader) ?? 0) + 1);
  }
  const majority = Math.floor(members.length / 2) + 1;
  for (const [id, count] of votes) {
    if (count < majority) continue;
    const index = running.findIndex((member) => member.id === id);
    if (index >= 0 && stats[index]?.state === 'StateLeader') return running[index];
  }
  return undefined;
}

/** Polls {@link probeLeader} until it finds a leader not in `exclude`. */
export async function waitForLeader(
  members: readonly ProbedMember[],
  options: { timeoutMs?: number; exclude?: readonly Member[] } = {},
): Promise<Member> {
  const { timeoutMs = 15_000, exclude = [] } = options;
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const leader = await probeLeader(members);
    if (leader && !exclude.includes(leader)) return leader;
    if (performance.now() > deadline) {
      throw new ClusterTimeoutError(
        `no leader${exclude.length ? ` other than ${exclude.map((m) => m.name).join(', ')}` : ''} within ${timeoutMs} ms`,
      );
    }
    await sleep(20);
  }
}
