/**
 * The core's record of which keys this process keeps alive right now (created here, not stopped, not lost), so
 * that a recipe can tell whether a key it reads is one of its own (the election's `self`).
 */

/** The keys this process keeps alive right now. */
const keptHere = new Set<string>();

/** Whether `key` is kept alive by a session of this process (created by it, not stopped, not lost). */
export function isKeptHere(key: string): boolean {
  return keptHere.has(key);
}

/** `key` is kept alive by this process from now on (a `SessionKey` was made for it). */
export function markKeptHere(key: string): void {
  keptHere.add(key);
}

/** `key` is no longer kept alive by this process (its `SessionKey` stopped or was lost). */
export function unmarkKeptHere(key: string): void {
  keptHere.delete(key);
}
