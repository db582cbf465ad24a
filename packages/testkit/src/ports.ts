import {
  chmodSync,
  linkSync,
  mkdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { processAlive } from './internal/process-alive.js';

/**
 * Free TCP ports on 127.0.0.1, taken below the ephemeral range (32768-60999 on Linux) so that outgoing
 * connections of other processes cannot take them between the check and etcd's bind.
 */
const LOW = 20_000;
const HIGH = 32_000;
/** Ports this process holds, each with a reservation file in {@link RESERVATIONS}. */
const handedOut = new Set<number>();

/**
 * One file per held port, named after the port and holding the owner's pid, shared by every process on the
 * machine: a member that is down keeps its ports for its restart while nothing is bound to them, and another
 * test process (vitest runs several) must not pick them then. A file whose pid is dead is stale and taken over.
 */
export const RESERVATIONS = join(tmpdir(), 'etcdkit-ports');

/**
 * Returns `count` distinct ports that were free on 127.0.0.1 a moment ago, reserved for this process until it
 * exits (testkit's own clusters give theirs back when closed): no other `freePorts` call hands them out
 * meanwhile, in this process or in any other on the machine, even while nothing is bound to them. A
 * reservation is a file per port in `etcdkit-ports` under the OS temp dir holding the owner's pid; the file of
 * a dead process is taken over.
 */
export async function freePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const ports: number[] = [];
  for (let tries = 0; ports.length < count; tries++) {
    if (tries > 1000) {
      releasePorts(ports);
      throw new Error(`could not find ${count} free ports on ${host}`);
    }
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW));
    if (handedOut.has(port) || !reservePort(port)) continue;
    if (await canBind(port, host)) ports.push(port);
    else releasePorts([port]);
  }
  return ports;
}

/** Gives these ports back: `freePorts` may hand them out again, here or in another process. */
export function releasePorts(ports: Iterable<number>): void {
  for (const port of ports) {
    if (!handedOut.delete(port)) continue;
    const file = join(RESERVATIONS, String(port));
    // Only a live process can take a reservation over, and we are alive: the file is still ours.
    if (ownerOf(file)?.pid === process.pid) tryUnlink(file);
  }
}

/**
 * Reserves `port` for this process unless another live process holds it: true when it is now ours. Atomic
 * between processes: the file appears complete (made aside, then hard-linked into place, which fails if the
 * name exists). Exported for tests.
 */
export function reservePort(port: number): boolean {
  if (handedOut.has(port)) return false;
  ensureFolder();
  const file = join(RESERVATIONS, String(port));
  const mine = join(RESERVATIONS, `.${process.pid}.${port}.${Math.random().toString(36).slice(2)}`);
  writeFileSync(mine, `${process.pid}\n`);
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        linkSync(mine, file);
        handedOut.add(port);
        return true;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const owner = ownerOf(file);
      if (owner === undefined) continue; // released meanwhile
      // Our own pid on a port we do not hold: left by an earlier process that had our pid.
      const stale = owner.pid === process.pid || !processAlive(owner.pid);
      if (!stale || !takeOver(file, owner.ino)) return false;
    }
    return false;
  } finally {
    tryUnlink(mine);
  }
}

/**
 * Removes the stale reservation `file` if it is still the same file (inode `ino`): moved aside first, so that
 * a fresh reservation made by a racing process in between is put back rather than deleted.
 */
function takeOver(file: string, ino: number): boolean {
  const aside = `${file}.stale.${process.pid}.${Math.random().toString(36).slice(2)}`;
  try {
    renameSync(file, aside);
  } catch {
    return true; // gone already: try to link again
  }
  if (statSync(aside).ino === ino) {
    tryUnlink(aside);
    return true;
  }
  try {
    linkSync(aside, file);
  } catch {
    // someone reserved the port meanwhile
  }
  tryUnlink(aside);
  return false;
}

function ownerOf(file: string): { pid: number; ino: number } | undefined {
  try {
    const { ino } = statSync(file);
    return { pid: Number.parseInt(readFileSync(file, 'utf8'), 10), ino };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

let folderReady = false;
function ensureFolder(): void {
  if (folderReady) return;
  mkdirSync(RESERVATIONS, { recursive: true });
  try {
    chmodSync(RESERVATIONS, 0o1777); // shared with other users' test runs, like the temp dir itself
  } catch {
    // made by another user: theirs to set
  }
  // A normal exit gives the ports back; after SIGKILL the dead pid frees them.
  process.once('exit', () => releasePorts([...handedOut]));
  folderReady = true;
}

function tryUnlink(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // already gone
  }
}

function canBind(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}
