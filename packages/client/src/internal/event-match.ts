import { DEFAULT_KEYS_PREFIX, type Response } from '../keys.js';
import { cleanPath } from './path.js';

/**
 * etcd v2's rules for which watch an event wakes (the store's `watcherHub.notify` and `EventHistory.scan`), for
 * the watch hub, which receives every event below a directory once and hands each to the watchers it reaches.
 */

/** Actions that remove a node (and, for a directory, everything below it). */
const REMOVALS = new Set(['delete', 'expire', 'compareAndDelete']);

/**
 * The store key a keys-API path names (`/v2/keys/a//b/` is `/a/b`), or `undefined` when the path is not below
 * the default keys prefix (a custom prefix, e.g. behind a proxy: the store's key cannot be told from it).
 */
export function storeKeyOf(path: string): string | undefined {
  const clean = cleanPath(path);
  if (clean === DEFAULT_KEYS_PREFIX) return '/';
  if (!clean.startsWith(`${DEFAULT_KEYS_PREFIX}/`)) return undefined;
  return clean.slice(DEFAULT_KEYS_PREFIX.length);
}

/** The keys-API path of a store key (`/a` → `/v2/keys/a`, `/` → `/v2/keys/`). */
export function keysPathOf(key: string): string {
  return key === '/' ? `${DEFAULT_KEYS_PREFIX}/` : `${DEFAULT_KEYS_PREFIX}${key}`;
}

/** The directory one level up (`/a/b` → `/a`, `/a` → `/`, `/` → `/`). */
export function parentOf(key: string): string {
  const cut = key.lastIndexOf('/');
  return cut <= 0 ? '/' : key.slice(0, cut);
}

/** Whether `key` is `dir` itself or below it. */
export function isWithin(dir: string, key: string): boolean {
  return dir === '/' || key === dir || key.startsWith(`${dir}/`);
}

/**
 * Whether `key`, below `dir`, has a hidden segment (one that starts with `_`) under `dir`: a recursive watch on
 * `dir` never sees such a key's events (etcd's `isHidden`), only a watch on the key itself does.
 */
export function isHiddenBelow(dir: string, key: string): boolean {
  if (key === dir) return false;
  const rest = dir === '/' ? key.slice(1) : key.slice(dir.length + 1);
  return rest.split('/').some((segment) => segment.startsWith('_'));
}

/**
 * Whether `event` wakes a watch of `key` (`recursive` or not), as etcd decides: an event on the key itself;
 * for a recursive watch, an event below it that no hidden segment hides; and the removal of a directory above
 * the key (a recursive delete or an expiry takes the key with it).
 */
export function eventReaches(event: Response, key: string, recursive: boolean): boolean {
  const at = event.node?.key;
  if (at === undefined) return false;
  if (at === key) return true;
  if (recursive && isWithin(key, at) && !isHiddenBelow(key, at)) return true;
  return removesDirectory(event) && isWithin(at, key);
}

/** Whether `event` is the removal of a directory (it may reach watches of any key below it). */
export function removesDirectory(event: Response): boolean {
  return REMOVALS.has(event.action) && event.prevNode?.dir === true;
}
