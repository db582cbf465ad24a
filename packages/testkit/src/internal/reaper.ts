import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * The parent side of the reaper (see `reaper-process.ts`): one detached reaper per test process, started on
 * first use, told of every etcd pid and data dir. It acts only if this process dies without cleaning up.
 */
let reaper: ChildProcess | undefined;

function send(line: string): void {
  if (!reaper) {
    const script = fileURLToPath(new URL('./reaper-process.js', import.meta.url));
    reaper = spawn(process.execPath, [script], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
    reaper.on('error', () => {
      reaper = undefined;
    });
    reaper.unref();
    // Our end of the pipe must not keep the event loop alive.
    (reaper.stdin as unknown as { unref?: () => void }).unref?.();
  }
  reaper.stdin?.write(`${line}\n`);
}

/** The reaper kills `pid` if this process dies first. */
export const reapPid = (pid: number): void => send(`pid ${pid}`);
/** `pid` has exited: forget it (pids get reused). */
export const forgetPid = (pid: number): void => send(`unpid ${pid}`);
/** The reaper removes `dir` if this process dies first. */
export const reapDir = (dir: string): void => send(`dir ${dir}`);
/** `dir` was removed: forget it. */
export const forgetDir = (dir: string): void => send(`undir ${dir}`);
