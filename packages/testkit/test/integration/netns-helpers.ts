/** What the netns tests share: whether they can run here, and what a run left behind. */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import type { NetnsNetwork } from '../../src/index.js';
import { SUBNET_RESERVATIONS } from '../../src/netns/subnet.js';
import { processAlive } from './helpers.js';

/** The netns backend needs root (and iproute2 / iptables, which the backend itself checks). */
export const canRunNetns = process.platform === 'linux' && process.getuid?.() === 0;

/** Namespaces whose names start with `prefix`. */
export function namespacesLike(prefix: string): string[] {
  const list = execFileSync('ip', ['netns', 'list'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  return list
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter((name) => name.startsWith(prefix));
}

/** True while host interface `name` exists. */
export function linkExists(name: string): boolean {
  try {
    execFileSync('ip', ['link', 'show', 'dev', name], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** What a closed run left: its namespaces, its host link, its subnet reservation, live pids, dirs under `root`. */
export function netnsLeftovers(
  run: { id: string; hostLink: string; subnet: string },
  pids: Iterable<number>,
  root?: string,
): string[] {
  const left = [
    ...namespacesLike(`etcdkit-${run.id}-`).map((ns) => `netns ${ns}`),
    ...(linkExists(run.hostLink) ? [`link ${run.hostLink}`] : []),
    ...(existsSync(`${SUBNET_RESERVATIONS}/${run.subnet}.0`) ? [`subnet ${run.subnet}`] : []),
    ...[...pids].filter(processAlive).map((pid) => `pid ${pid}`),
  ];
  if (root && existsSync(root)) left.push(...readdirSync(root).map((dir) => `dir ${dir}`));
  return left;
}

/** The run's facts a leftover check needs, read while it is open. */
export function runFacts(network: NetnsNetwork): { id: string; hostLink: string; subnet: string } {
  return { id: network.id, hostLink: network.hostLink, subnet: network.subnet };
}
