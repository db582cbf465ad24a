import { readFileSync } from 'node:fs';
import { Client, type ClientConfig, KeysAPI } from '@etcdkit/client';
import { type Command, Option } from 'commander';
import { positiveSeconds, UsageError } from './usage.js';

/** The options every command takes (etcdctl's names, and its environment variables), as commander parses them. */
export interface GlobalValues {
  endpoints?: string | undefined;
  username?: string | undefined;
  password?: string | undefined;
  cacert?: string | undefined;
  caFile?: string | undefined;
  cert?: string | undefined;
  certFile?: string | undefined;
  key?: string | undefined;
  keyFile?: string | undefined;
  insecureSkipTlsVerify?: boolean | undefined;
  prefix?: string | undefined;
  requestTimeout?: number | undefined;
  debug?: boolean | undefined;
}

/** Default of `--request-timeout`, in seconds (the client's own default header timeout). */
export const DEFAULT_REQUEST_TIMEOUT_S = 5;

/** Adds the global options to the program (commander accepts them before or after the command). */
export function addGlobalOptions(program: Command): Command {
  return program
    .option(
      '--endpoints <urls>',
      'comma-separated client URLs (env ETCDCTL_ENDPOINTS; default http://127.0.0.1:2379)',
    )
    .option(
      '--username <user[:password]>',
      'basic auth user (env ETCDCTL_USERNAME), the password after a colon',
    )
    .option('--password <password>', 'basic auth password (env ETCDCTL_PASSWORD; never printed)')
    .option('--cacert <file>', 'CA bundle for https endpoints')
    .addOption(new Option('--ca-file <file>', 'same as --cacert (etcdctl v2 name)'))
    .option('--cert <file>', 'client certificate')
    .addOption(new Option('--cert-file <file>', 'same as --cert'))
    .option('--key <file>', 'client key')
    .addOption(new Option('--key-file <file>', 'same as --key'))
    .option('--insecure-skip-tls-verify', 'accept any server certificate')
    .option('--prefix <dir>', 'key prefix of locks, elections and the registry', '/etcdkit')
    .addOption(
      new Option(
        '--request-timeout <s>',
        'time each endpoint has to accept the connection and answer a request, in seconds',
      )
        .default(DEFAULT_REQUEST_TIMEOUT_S)
        .argParser(positiveSeconds),
    )
    .option(
      '--debug',
      'print each request, failover and lock, election or registry event, the cURL lines (never credentials), and the cause of errors, to stderr',
    );
}

function readPEM(file: string | undefined, what: string): Buffer | undefined {
  if (!file) return undefined;
  try {
    return readFileSync(file);
  } catch (error) {
    throw new UsageError(`cannot read the ${what} ${file}: ${(error as Error).message}`);
  }
}

/** The endpoints the options (or `ETCDCTL_ENDPOINTS`) name. */
export function endpointsOf(values: GlobalValues, env: NodeJS.ProcessEnv = process.env): string[] {
  const endpoints = (values.endpoints ?? env.ETCDCTL_ENDPOINTS ?? 'http://127.0.0.1:2379')
    .split(',')
    .map((url) => url.trim())
    .filter(Boolean);
  if (endpoints.length === 0) throw new UsageError('--endpoints names no URL');
  for (const url of endpoints) {
    if (!/^https?:\/\/[^/]+\/?$/.test(url))
      throw new UsageError(`bad endpoint ${JSON.stringify(url)}: want http(s)://host:port`);
  }
  return endpoints;
}

/**
 * The client configuration the global options and `ETCDCTL_*` variables describe. `headerTimeoutMs` bounds the
 * connection attempt and the wait for each reply of one endpoint (default `--request-timeout`).
 */
export function clientConfig(
  values: GlobalValues,
  env: NodeJS.ProcessEnv = process.env,
  headerTimeoutMs: number = (values.requestTimeout ?? DEFAULT_REQUEST_TIMEOUT_S) * 1000,
): ClientConfig {
  const endpoints = endpointsOf(values, env);
  let username = values.username ?? env.ETCDCTL_USERNAME;
  let password = values.password ?? env.ETCDCTL_PASSWORD;
  if (username?.includes(':') && password === undefined) {
    const colon = username.indexOf(':');
    password = username.slice(colon + 1);
    username = username.slice(0, colon);
  }
  if (password !== undefined && username === undefined) throw new UsageError('--password needs --username');
  const ca = readPEM(values.cacert ?? values.caFile, 'CA file');
  const cert = readPEM(values.cert ?? values.certFile, 'certificate');
  const key = readPEM(values.key ?? values.keyFile, 'key');
  if (Boolean(cert) !== Boolean(key)) throw new UsageError('--cert and --key go together');
  const tls =
    ca || cert || values.insecureSkipTlsVerify
      ? {
          ...(ca ? { ca } : {}),
          ...(cert ? { cert } : {}),
          ...(key ? { key } : {}),
          ...(values.insecureSkipTlsVerify ? { rejectUnauthorized: false } : {}),
        }
      : undefined;
  return {
    endpoints,
    headerTimeoutPerRequest: Math.max(1, Math.round(headerTimeoutMs)),
    ...(username !== undefined ? { username } : {}),
    ...(password !== undefined ? { password } : {}),
    ...(tls ? { tls } : {}),
  };
}

/** A connected keys API for the global options. */
export function connect(values: GlobalValues, headerTimeoutMs?: number): { client: Client; keys: KeysAPI } {
  const client = new Client(clientConfig(values, process.env, headerTimeoutMs));
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
