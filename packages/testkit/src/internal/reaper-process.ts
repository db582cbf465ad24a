/**
 * The reaper: a tiny detached process that outlives a test process killed without warning (SIGKILL, a vitest
 * worker torn down) and then kills the etcd processes and removes the data dirs that process left behind.
 * testcontainers' ryuk does the same for containers. It reads lines on stdin from its parent:
 *   `pid <n>` / `unpid <n>` / `dir <path>` / `undir <path>`.
 * When stdin ends (the parent is gone, however it died) it SIGKILLs every pid still listed, removes every dir
 * still listed, and exits.
 */
import { rmSync } from 'node:fs';
import { createInterface } from 'node:readline';

const pids = new Set<number>();
const dirs = new Set<string>();

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const space = line.indexOf(' ');
  const verb = line.slice(0, space);
  const arg = line.slice(space + 1);
  if (verb === 'pid') pids.add(Number(arg));
  else if (verb === 'unpid') pids.delete(Number(arg));
  else if (verb === 'dir') dirs.add(arg);
  else if (verb === 'undir') dirs.delete(arg);
});
lines.on('close', () => {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  // give the kernel a moment to release the killed processes' files before removing their dirs
  setTimeout(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    process.exit(0);
  }, 200);
});
