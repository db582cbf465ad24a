import { EmptyBodyError, INVALID_JSON_MESSAGE, InvalidResponseError } from '../errors.js';
import type { RawResponse } from './attempt.js';
import { decodeKeysError } from './keys-response.js';

/** Server and cluster versions (Go's `version.Versions`). */
export interface Versions {
  /** The member's version, e.g. `3.4.23`. */
  readonly server: string;
  /** The cluster's version, e.g. `3.4.0`. */
  readonly cluster: string;
}

/** Decodes a `/version` reply: 200 with JSON; any other status as a server error. */
export function decodeVersion(response: RawResponse): Versions {
  if (response.status !== 200) throw decodeKeysError(response);
  const text = response.body;
  if (text === '') throw new EmptyBodyError();
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new InvalidResponseError(INVALID_JSON_MESSAGE, { cause: error });
  }
  const record = (raw ?? {}) as Record<string, unknown>;
  return { server: String(record.etcdserver ?? ''), cluster: String(record.etcdcluster ?? '') };
}
