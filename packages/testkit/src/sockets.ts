import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/**
 * How many established TCP connections a process holds to `port` (on any address): its open socket
 * descriptors (`/proc/<pid>/fd`) matched with the kernel's TCP tables of its network namespace
 * (`/proc/<pid>/net/tcp`, `tcp6`). For tests and benchmarks that bound what a client holds open, e.g. "a
 * thousand watchers, a handful of sockets". `pid`: another process of the same user (e.g. a benchmark's worker,
 * counted from outside so that the counting is not part of its CPU time); default this process. Linux only.
 *
 * @throws {Error} where `/proc` is missing (not Linux), or when there is no process `pid`.
 */
export function tcpConnectionsTo(port: number, pid?: number): number {
  const proc = `/proc/${pid ?? 'self'}`;
  const inodes = new Set<string>();
  for (const fd of readdirSync(`${proc}/fd`)) {
    try {
      const target = readlinkSync(`${proc}/fd/${fd}`);
      if (target.startsWith('socket:[')) inodes.add(target.slice('socket:['.length, -1));
    } catch {
      // closed meanwhile
    }
  }
  let count = 0;
  for (const table of [`${proc}/net/tcp`, `${proc}/net/tcp6`]) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 10) continue;
      const remotePort = Number.parseInt(fields[2]!.split(':')[1]!, 16);
      // state 01: established
      if (remotePort === port && fields[3] === '01' && inodes.has(fields[9]!)) count++;
    }
  }
  return count;
}
