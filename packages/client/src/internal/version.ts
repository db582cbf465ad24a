import type { Versions } from '../client.js';
import type { RawResponse } from './attempt.js';
import { decodeKeysError, parseSuccessBody } from './keys-response.js';
import { fieldOf, mistyped } from './members-actions.js';

/**
 * Decodes a `/version` reply: 200 with a JSON object of two strings; any other status as a server error.
 *
 * @throws {InvalidValueError} when the body is not an object or a version is not a string.
 */
export function decodeVersion(response: RawResponse): Versions {
  if (response.status !== 200) throw decodeKeysError(response);
  const raw = parseSuccessBody(response);
  if (typeof raw !== 'object' || Array.isArray(raw)) throw mistyped('body', raw, 'an object');
  // Go's Versions: two strings (absent or null: empty)
  const text = (name: string): string => {
    const value = fieldOf(raw, name) ?? '';
    if (typeof value !== 'string') throw mistyped(name, value, 'a string');
    return value;
  };
  return { server: text('etcdserver'), cluster: text('etcdcluster') };
}
