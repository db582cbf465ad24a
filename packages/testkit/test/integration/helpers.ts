import { expect } from 'vitest';
import type { Member } from '../../src/index.js';
import { raftTimings } from '../../src/index.js';
import { httpRequest, putKey } from '../../src/internal/http.js';

export { putKey };

/** etcd 3.4 answers a v2 write within its request timeout, 5 s + 2 x election timeout (the fast timings). */
export const etcdRequestTimeoutMs = 5000 + 2 * raftTimings().electionMs;

/** One PUT through `member`: its status, or 0 when it did not answer in `timeoutMs`. */
export const putVia = (member: Member, key: string, timeoutMs: number): Promise<number> =>
  putKey(member.clientURL, key, 'x', timeoutMs).catch(() => 0);

/** Polls until a write through one of `members` succeeds. */
export async function writeThrough(members: readonly Member[], key: string): Promise<void> {
  await expect
    .poll(
      async () => {
        for (const member of members) if ((await putVia(member, key, 1000)) === 201) return true;
        return false;
      },
      { timeout: 10_000, interval: 100 },
    )
    .toBe(true);
}

/** The value of `key` read from one member (quorum read unless `quorum` is false), or the HTTP status. */
export async function getValue(clientURL: string, key: string, quorum = true): Promise<string | number> {
  const reply = await httpRequest(`${clientURL}/v2/keys${key}?quorum=${quorum}`, { timeoutMs: 3000 });
  if (reply.status !== 200) return reply.status;
  return (JSON.parse(reply.body) as { node: { value: string } }).node.value;
}

/** True while a process with this pid exists. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Asks `leader` to hand its leadership to `target` (etcd's v3 transfer-leadership, through the gRPC gateway on
 * its client URL): the target campaigns at once and wins, with no election timeout waited. Resolves with the
 * HTTP status (200: handed over; 0: no answer in `timeoutMs`).
 */
export const moveLeader = (leader: Member, target: Member, timeoutMs: number): Promise<number> =>
  httpRequest(`${leader.clientURL}/v3/maintenance/transfer-leadership`, {
    method: 'POST',
    body: JSON.stringify({ targetID: BigInt(`0x${target.id}`).toString() }),
    headers: { 'content-type': 'application/json' },
    timeoutMs,
  }).then(
    (reply) => reply.status,
    () => 0,
  );
