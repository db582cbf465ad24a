import { httpRequest, putKey } from '../../src/internal/http.js';

export { putKey };

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
