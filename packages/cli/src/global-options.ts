import { readFileSync } from 'node:fs';
import { Client, type ClientConfig, KeysAPI } from '@etcdkit/client';
import { UsageError } from './usage.js';

/** The options every command takes (etcdctl's names, and its environment variables). */
export const GLOBAL_OPTIONS = {
  endpoints: { type: 'string' },
  username: { type: 'string' },
  password: { type: 'string' },
  cacert: { type: 'string' },
  'ca-file': { type: 'string' },
  cert: { type: 'string' },
  'cert-file': { type: 'string' },
  key: { type: 'string' },
  'key-file': { type: 'string' },
  'insecure-skip-tls-verify': { type: 'boolean' },
  prefix: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
} as const;

export interface GlobalValues {
  endpoints?: string | undefined;
  username?: string | undefined;
  password?: string | undefined;
  cacert?: string | undefined;
  'ca-file'?: string | undefined;
  cert?: string | undefined;
  'cert-file'?: string | undefined;
  key?: string | undefined;
  'key-file'?: string | undefined;
  'insecure-skip-tls-verify'?: boolean | undefined;
  prefix?: string | undefined;
}

function readPEM(file: string | undefined, what: string): Buffer | undefined {
  if (!file) return undefined;
  try {
    return readFileSync(file);
  } catch (error) {
    throw new UsageError(`cannot read the ${what} ${file}: ${(error as Error).message}`);
  }
}

/** The client configuration the global options and `ETCDCTL_*` variables describe. */
export function clientConfig(values: GlobalValues, env: NodeJS.ProcessEnv = process.env): ClientConfig {
  const endpoints = (values.endpoints ?? env.ETCDCTL_ENDPOINTS ?? 'http://127.0.0.1:2379')
    .split(',')
    .map((url) => url.trim())
    .filter(Boolean);
  for (const url of endpoints) {
    if (!/^https?:\/\/[^/]+\/?$/.test(url))
      throw new UsageError(`bad endpoint ${JSON.stringify(url)}: want http(s)://host:port`);
  }
  let username = values.username ?? env.ETCDCTL_USERNAME;
  let password = values.password ?? env.ETCDCTL_PASSWORD;
  if (username?.includes(':') && password === undefined) {
    const colon = username.indexOf(':');
    password = username.slice(colon + 1);
    username = username.slice(0, colon);
  }
  if (password !== undefined && username === undefined) throw new UsageError('--password needs --username');
  const ca = readPEM(values.cacert ?? values['ca-file'], 'CA file');
  const cert = readPEM(values.cert ?? values['cert-file'], 'certificate');
  const key = readPEM(values.key ?? values['key-file'], 'key');
  if (Boolean(cert) !== Boolean(key)) throw new UsageError('--cert and --key go together');
  const tls =
    ca || cert || values['insecure-skip-tls-verify']
      ? {
          ...(ca ? { ca } : {}),
          ...(cert ? { cert } : {}),
          ...(key ? { key } : {}),
          ...(values['insecure-skip-tls-verify'] ? { rejectUnauthorized: false } : {}),
        }
      : undefined;
  return {
    endpoints,
    ...(username !== undefined ? { username } : {}),
    ...(password !== undefined ? { password } : {}),
    ...(tls ? { tls } : {}),
  };
}

/** A connected keys API for the global options. */
export function connect(values: GlobalValues): { client: Client; keys: KeysAPI } {
  const client = new Client(clientConfig(values));
  return { client, keys: new KeysAPI(client) };
}

/** Where a named lock, election or service lives: `name` itself when it starts with `/`, else under the prefix. */
export function keyOf(values: GlobalValues, kind: 'locks' | 'elections' | 'services', name: string): string {
  if (!name) throw new UsageError(`a ${kind.slice(0, -1)} name is required`);
  if (name.startsWith('/')) return name;
  if (name.includes('/'))
    throw new UsageError(`bad name ${JSON.stringify(name)}: no '/' unless it is a full key`);
  const prefix = (values.prefix ?? '/etcdkit').replace(/\/+$/, '');
  return `${prefix}/${kind}/${name}`;
}
