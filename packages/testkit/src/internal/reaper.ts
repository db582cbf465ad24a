import { type ChildProcess, spawn } from 'node:child_process';

/**
 * The reaper: a tiny detached process that outlives a test process killed without warning (SIGKILL, a vitest
 * worker torn down) and then kills the etcd processes and removes the data dirs that process left behind, as
 * testcontainers' ryuk does for containers. It reads lines on stdin from its parent:
 *   `pid <n>` / `unpid <n>` / `dir <path>` / `undir <path>` / `container <id>` / `uncontainer <id>` /
 *   `network <id>` / `unnetwork <id>` / `netns <name>` / `unnetns <name>` / `link <name>` / `unlink <name>`.
 * When stdin ends (the parent is gone, however it died) it SIGKILLs every pid still listed, removes every dir,
 * container and Docker network still listed (with the docker CLI), deletes every network namespace and host
 * network interface still listed (with `ip`; the iptables rules and qdiscs in a namespace go with it), and exits. It runs as `node -e`, so it works the same from sources and from dist/.
 */
const REAPER_SCRIPT = `
const { rmSync } = require('node:fs');
const { spawnSync } = require('node:child_process');
const { createInterface } = require('node:readline');
const pids = new Set();
const dirs = new Set();
const containers = new Set();
const networks = new Set();
const namespaces = new Set();
const links = new Set();
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const space = line.indexOf(' ');
  const verb = line.slice(0, space);
  const arg = line.slice(space + 1);
  if (verb === 'pid') pids.add(Number(arg));
  else if (verb === 'unpid') pids.delete(Number(arg));
  else if (verb === 'dir') dirs.add(arg);
  else if (verb === 'undir') dirs.delete(arg);
  else if (verb === 'container') containers.add(arg);
  else if (verb === 'uncontainer') containers.delete(arg);
  else if (verb === 'network') networks.add(arg);
  else if (verb === 'unnetwork') networks.delete(arg);
  else if (verb === 'netns') namespaces.add(arg);
  else if (verb === 'unnetns') namespaces.delete(arg);
  else if (verb === 'link') links.add(arg);
  else if (verb === 'unlink') links.delete(arg);
});
lines.on('close', () => {
  for (const pid of pids) {
    try { process.kill(pid, 'SIGKILL'); } catch {}
  }
  setTimeout(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    if (containers.size) spawnSync('docker', ['rm', '-f', '-v', ...containers], { stdio: 'ignore' });
    if (networks.size) spawnSync('docker', ['network', 'rm', ...networks], { stdio: 'ignore' });
    for (const name of namespaces) spawnSync('ip', ['netns', 'delete', name], { stdio: 'ignore' });
    for (const name of links) spawnSync('ip', ['link', 'delete', name], { stdio: 'ignore' });
    process.exit(0);
  }, 200);
});
`;

/** One reaper per test process, started on first use and again if it ever died. */
let reaper: ChildProcess | undefined;

function send(line: string): void {
  if (!reaper) {
    const child = spawn(process.execPath, ['-e', REAPER_SCRIPT], {
      detached: true,
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    const forget = (): void => {
      if (reaper === child) reaper = undefined;
    };
    child.on('error', forget);
    child.on('exit', forget);
    child.stdin?.on('error', forget);
    child.unref();
    // Our end of the pipe must not keep the event loop alive.
    (child.stdin as unknown as { unref?: () => void }).unref?.();
    reaper = child;
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

/** The reaper removes container `id` (with the docker CLI) if this process dies first. */
export const reapContainer = (id: string): void => send(`container ${id}`);
/** Container `id` was removed: forget it. */
export const forgetContainer = (id: string): void => send(`uncontainer ${id}`);
/** The reaper removes Docker network `id` if this process dies first. */
export const reapNetwork = (id: string): void => send(`network ${id}`);
/** Network `id` was removed: forget it. */
export const forgetNetwork = (id: string): void => send(`unnetwork ${id}`);

/** The reaper deletes network namespace `name` (with `ip netns delete`) if this process dies first. */
export const reapNetns = (name: string): void => send(`netns ${name}`);
/** Namespace `name` was deleted: forget it. */
export const forgetNetns = (name: string): void => send(`unnetns ${name}`);
/** The reaper deletes host network interface `name` (with `ip link delete`) if this process dies first. */
export const reapLink = (name: string): void => send(`link ${name}`);
/** Interface `name` was deleted: forget it. */
export const forgetLink = (name: string): void => send(`unlink ${name}`);

/** The running reaper's pid, if one runs (for tests). */
export function reaperPid(): number | undefined {
  return reaper?.pid;
}
