import type { RawResponse } from './attempt.js';
import { decodeKeysError, parseSuccessBody } from './keys-response.js';

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
  const raw = parseSuccessBody(response);
  const record = (raw ?? {}) as Record<string, unknown>;
  return { server: String(record.etcdserver ?? ''), cluster: String(record.etcdcluster ?? '') };
}
