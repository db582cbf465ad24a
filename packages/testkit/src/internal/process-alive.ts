/**
 * Whether a process with this pid exists (signal 0): also another user's (EPERM). For the pid files that
 * reserve ports and subnets and name the runs whose leftovers a sweep removes. A pid that is not a positive
 * whole number is no process.
 */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'; // alive, another user's
  }
}
