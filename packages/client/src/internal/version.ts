import type { Versions } from '../client.js';
import type { RawResponse } from './attempt.js';
import { decodeKeysError, parseSuccessBody } from './keys-response.js';

/** Decodes a `/version` reply: 200 with JSON; any other status as a server error. */
export function decodeVersion(response: RawResponse): Versions {
  if (response.status !== 200) throw decodeKeysError(response);
  const raw = parseSuccessBody(response);
  const record = (raw ?? {}) as Record<string, unknown>;
  return { server: String(record.etcdserver ?? ''), cluster: String(record.etcdcluster ?? '') };
}
