import type { Attributes } from '@opentelemetry/api';

/** `db.system.name` of every span and client metric. */
export const DB_SYSTEM = 'etcd';

/** Parsed endpoints; a client has a handful, the bound only keeps a misuse from growing it without end. */
const servers = new Map<string, Attributes>();
const MAX_SERVERS = 256;

/**
 * `server.address` and `server.port` of an endpoint URL (endpoints come without userinfo, and only these two
 * parts are read anyway). Nothing for a string that is not a URL.
 */
export function serverAttributes(endpoint: string): Attributes {
  let attributes = servers.get(endpoint);
  if (attributes === undefined) {
    attributes = {};
    try {
      const url = new URL(endpoint);
      const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
      attributes = { 'server.address': url.hostname.replace(/^\[(.*)\]$/, '$1'), 'server.port': port };
    } catch {}
    if (servers.size >= MAX_SERVERS) servers.clear();
    servers.set(endpoint, attributes);
  }
  return attributes;
}

/**
 * An endpoint for an attribute value: its origin, scheme, host and port, and nothing else (no userinfo, path or
 * query, should one ever be there).
 */
export function endpointValue(endpoint: string): string {
  try {
    return new URL(endpoint).origin;
  } catch {
    return '_OTHER';
  }
}

/** `error.type`: the error's `name` (the client's and recipes' errors have literal names), else `_OTHER`. */
export function errorType(error: unknown): string {
  if (typeof error === 'object' && error !== null) {
    const name = (error as { name?: unknown }).name;
    if (typeof name === 'string' && name !== '') return name;
  }
  return '_OTHER';
}

/** The span status message: the error's own message, never its `cause` chain. */
export function errorMessage(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null) {
    const message = (error as { message?: unknown }).message;
    if (typeof message === 'string') return message;
  }
  return undefined;
}
