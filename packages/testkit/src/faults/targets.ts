import type { Cluster, Member } from '../cluster.js';
import { ClusterTimeoutError } from '../errors.js';

/**
 * Whom a fault hits: a given member (or members), the leader, a random follower, a random minority
 * (⌊(n-1)/2⌋ members, the most a cluster survives losing), a random majority (quorum lost), or all.
 */
export type Target = Member | readonly Member[] | 'leader' | 'follower' | 'minority' | 'majority' | 'all';

function shuffle<T>(items: readonly T[], random: () => number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

/**
 * The members `target` names now. `leader` and `follower` ask the cluster who leads (and fail with a
 * {@link ClusterTimeoutError} when no leader is agreed on within 5 s).
 */
export async function resolveTarget(
  cluster: Cluster,
  target: Target,
  random: () => number = Math.random,
): Promise<Member[]> {
  if (typeof target !== 'string') return Array.isArray(target) ? [...target] : [target as Member];
  const members = cluster.members;
  const n = members.length;
  switch (target) {
    case 'all':
      return [...members];
    case 'minority':
      return shuffle(members, random).slice(0, Math.floor((n - 1) / 2));
    case 'majority':
      return shuffle(members, random).slice(0, Math.floor(n / 2) + 1);
    case 'leader':
    case 'follower': {
      const leader = await cluster.waitForLeader({ timeoutMs: 5000 }).catch((error: unknown) => {
        throw new ClusterTimeoutError(`cannot target the ${target}: ${(error as Error).message}`);
      });
      if (target === 'leader') return [leader];
      const followers = members.filter((member) => member !== leader);
      return followers.length ? [followers[Math.floor(random() * followers.length)]!] : [];
    }
  }
}
