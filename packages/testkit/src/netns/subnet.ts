import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NetnsUnavailableError } from '../errors.js';
import { processAlive } from '../internal/process-alive.js';
import { ipJsonSync } from './commands.js';

/**
 * One reservation file per /24 a run holds, named after the subnet and holding the owner's pid, shared by every
 * process on the machine (as `freePorts` does for ports): two runs never pick the same subnet. The file of a
 * dead process is taken over.
 */
export const SUBNET_RESERVATIONS = join(tmpdir(), 'etcdkit-netns');

/** A /24 reserved for one run: `prefix` is its first three octets (`10.213.7`). */
export interface Subnet {
  readonly prefix: string;
  /** The reservation file, removed by {@link releaseSubnet} (and by the reaper). */
  readonly file: string;
}

const toInt = (address: string): number =>
  address.split('.').reduce((value, octet) => value * 256 + Number(octet), 0);

/** `[first, last]` addresses of a prefix such as `10.0.0.0/8` or `192.0.2.5` (a /32). */
function range(prefix: string): [number, number] {
  const [address = '', bits = '32'] = prefix.split('/');
  const size = 2 ** (32 - Number(bits));
  const first = Math.floor(toInt(address) / size) * size;
  return [first, first + size - 1];
}

/** Every IPv4 prefix the host already routes or owns (the default route aside): a run must not overlap one. */
function usedPrefixes(): [number, number][] {
  const routes = ipJsonSync<{ dst?: string }[]>('route', 'show', 'table', 'all');
  const addresses = ipJsonSync<{ addr_info?: { local?: string; prefixlen?: number }[] }[]>('addr', 'show');
  const prefixes = [
    ...routes.map((route) => route.dst ?? 'default'),
    ...addresses.flatMap((link) => (link.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`)),
  ].filter((dst) => dst !== 'default' && /^\d+\.\d+\.\d+\.\d+(\/\d+)?$/.test(dst));
  return prefixes.map(range);
}

/** Takes the reservation file `file` for this process; false when a live process holds it. */
function reserve(file: string): boolean {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      let owner = Number.NaN;
      try {
        owner = Number(readFileSync(file, 'utf8'));
      } catch {
        // removed meanwhile: try again
      }
      if (owner && processAlive(owner)) return false;
      try {
        unlinkSync(file);
      } catch {
        // another process took it over first
      }
    }
  }
  return false;
}

/**
 * Picks a /24 in 10.200.0.0-10.249.255.0 that no route or address of the host overlaps and no other run holds,
 * and reserves it. Traffic to it then stays on the run's own bridge.
 *
 * @throws {NetnsUnavailableError} when every candidate is taken.
 */
export function reserveSubnet(): Subnet {
  mkdirSync(SUBNET_RESERVATIONS, { recursive: true });
  const used = usedPrefixes();
  const candidates = 50 * 256;
  const start = (process.pid * 7919) % candidates;
  for (let i = 0; i < candidates; i++) {
    const n = (start + i) % candidates;
    const prefix = `10.${200 + Math.floor(n / 256)}.${n % 256}`;
    const [first, last] = range(`${prefix}.0/24`);
    if (used.some(([a, b]) => a <= last && first <= b)) continue;
    const file = join(SUBNET_RESERVATIONS, `${prefix}.0`);
    if (reserve(file)) return { prefix, file };
  }
  throw new NetnsUnavailableError('no free /24 left in 10.200.0.0-10.249.255.0 for a netns cluster');
}

/** Gives the subnet back. */
export function releaseSubnet(subnet: Subnet): void {
  try {
    unlinkSync(subnet.file);
  } catch {
    // already gone
  }
}
