import type { Versions } from '../client.js';
import type { RawResponse } from './attempt.js';
import { decodeKeysError, parseSuccessBody } from './keys-response.js';
import { objectAt, textField } from './reply-fields.js';

/**
 * Decodes a `/version` reply: 200 with a JSON object of two strings; any other status as a server error.
 *
 * @throws {InvalidValueError} when the body is not an object or a version is not a string.
 */
export function decodeVersion(response: RawResponse): Versions {
  if (response.status !== 200) throw decodeKeysError(response);
  const body = objectAt(parseSuccessBody(response), '');
  // Go's Versions: two strings
  return { server: textField(body, 'etcdserver', ''), cluster: textField(body, 'etcdcluster', '') };
}
