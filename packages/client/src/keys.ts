import type { CallOptions, Client } from './client.js';
import { KeyOutsidePrefixError } from './errors.js';
import {
  type Action,
  buildURL,
  FORM_CONTENT_TYPE,
  getAction,
  type HttpRequestSpec,
} from './internal/action.js';
import type { Endpoint } from './internal/endpoints.js';
import { decodeKeysResponse } from './internal/keys-response.js';
import { cleanPath, encodeValues } from './internal/path.js';
import { kCreateWatcher, kDo } from './internal/symbols.js';
import { Watcher, type WatcherOptions } from './watcher.js';

/** A node of the keys tree (Go's `Node`). */
export interface Node {
  /** The key; `''` for the root. */
  readonly key: string;
  /** True for a directory. */
  readonly dir: boolean;
  /** The value; `''` for a directory. */
  readonly value: string;
  /** Children of a directory, when read recursively or listed; absent otherwise. */
  readonly nodes?: readonly Node[];
  readonly createdIndex: number;
  readonly modifiedIndex: number;
  /** When the key expires (RFC 3339 with nanoseconds), if it has a TTL. */
  readonly expiration?: string;
  /** Seconds left to live, if the key has a TTL. */
  readonly ttl?: number;
}

/** A keys API reply (Go's `Response`). */
export interface Response {
  /** `get`, `set`, `create`, `update`, `delete`, `expire`, `compareAndSwap`, `compareAndDelete`. */
  readonly action: string;
  /** The node acted on; absent with `noValueOnSuccess`. */
  readonly node?: Node;
  /** The node before the action, when there was one. */
  readonly prevNode?: Node;
  /** `X-Etcd-Index`: the store index when the reply was made (for a watch: when it was registered). */
  readonly index: number;
  /** `X-Etcd-Cluster-Id`, `''` when absent. */
  readonly clusterId: string;
}

/** The default keys prefix (Go's `NewKeysAPI`). */
export const DEFAULT_KEYS_PREFIX = '/v2/keys';

/** Options of {@link KeysAPI.get}. */
export interface GetOptions extends CallOptions {
  /** Include every node below a directory. */
  readonly recursive?: boolean;
  /** Sort children by key (param `sorted`). */
  readonly sort?: boolean;
  /** Linearizable read through raft (param `quorum`). */
  readonly quorum?: boolean;
}

/** Options of {@link KeysAPI.set}. */
export interface SetOptions extends CallOptions {
  /** Compare-and-swap on the current value. An empty string is never compared (as in Go). */
  readonly prevValue?: string;
  /** Compare-and-swap on the current modifiedIndex; 0 means no comparison. */
  readonly prevIndex?: number;
  /** `true`: the key must exist (update); `false`: it must not (create, one-shot); `undefined`: either. */
  readonly prevExist?: boolean;
  /** Time to live in whole seconds (as on the wire); 0 or undefined means none. */
  readonly ttl?: number;
  /** Refresh the TTL without changing the value or waking watchers (needs `ttl`). */
  readonly refresh?: boolean;
  /** Make a directory (no value is sent). */
  readonly dir?: boolean;
  /** Ask the server to reply without the node. */
  readonly noValueOnSuccess?: boolean;
}

/** Options of {@link KeysAPI.delete}. */
export interface DeleteOptions extends CallOptions {
  /** Compare-and-delete on the current value; empty means no comparison. */
  readonly prevValue?: string;
  /** Compare-and-delete on the current modifiedIndex; 0 means no comparison. */
  readonly prevIndex?: number;
  /** Delete a directory and everything below it. */
  readonly recursive?: boolean;
  /** Delete an empty directory. */
  readonly dir?: boolean;
}

/** Options of {@link KeysAPI.createInOrder}. */
export interface CreateInOrderOptions extends CallOptions {
  /** Time to live in whole seconds; 0 or undefined means none. */
  readonly ttl?: number;
}

/** Options of {@link KeysAPI} itself. */
export interface KeysAPIOptions {
  /** Path prefix of every key (Go's `NewKeysAPIWithPrefix`). Default `/v2/keys`. */
  readonly prefix?: string;
}

/**
 * The v2 keys API (Go's `KeysAPI`). Keys are cleaned as Go cleans them (`//a/./b` is `/a/b`), but a key whose
 * cleaned path would leave the prefix (`/../auth/enable`) is refused with a {@link KeyOutsidePrefixError}.
 */
export class KeysAPI {
  readonly #client: Client;
  readonly #prefix: string;

  constructor(client: Client, options: KeysAPIOptions = {}) {
    this.#client = client;
    this.#prefix = options.prefix ?? DEFAULT_KEYS_PREFIX;
  }

  /**
   * The client this API sends through (not in Go). For code on top of several `KeysAPI`s that needs to know
   * which of them reach the same cluster through the same client, e.g. to share what one learned.
   */
  get client(): Client {
    return this.#client;
  }

  /**
   * The path prefix this API sends keys under (not in Go; `options.prefix`, default `/v2/keys`). With
   * {@link client}: two `KeysAPI`s of the same client and prefix reach the same keys.
   */
  get prefix(): string {
    return this.#prefix;
  }

  /** The key's node, or a directory with its children. Fails over between members. */
  async get(key: string, options: GetOptions = {}): Promise<Response> {
    return this.#send(getAction(this.#path(key), options, 'get', label(key)), options);
  }

  /**
   * Sets a key (or makes a directory with `dir`), with optional conditions. With `prevExist: false` this is
   * a create, which is one-shot: it never fails over, since a retried create could fail on its own success
   * (unless the caller says it is safe to repeat with `retrySafe`).
   *
   * @throws {RangeError} for a non-integer or negative `ttl` or `prevIndex`.
   */
  async set(key: string, value: string, options: SetOptions = {}): Promise<Response> {
    const path = this.#path(key);
    const params: [string, string][] = [];
    const form: [string, string][] = [];
    if (options.dir) {
      params.push(['dir', 'true']);
    } else {
      if (options.prevValue) params.push(['prevValue', options.prevValue]);
      form.push(['value', String(value)]);
    }
    const prevIndex = whole('prevIndex', options.prevIndex);
    if (prevIndex) params.push(['prevIndex', String(prevIndex)]);
    if (options.prevExist !== undefined) params.push(['prevExist', String(options.prevExist === true)]);
    const ttl = whole('ttl', options.ttl);
    if (ttl) form.push(['ttl', String(ttl)]);
    if (options.refresh) form.push(['refresh', 'true']);
    if (options.noValueOnSuccess) params.push(['noValueOnSuccess', 'true']);
    const body = encodeValues(form);
    return this.#send(
      {
        oneShot: options.prevExist === false,
        raft: true,
        operation: options.prevExist === false ? 'create' : options.prevExist ? 'update' : 'set',
        key: label(key),
        httpRequest: (ep) => request(ep, 'PUT', path, params, body),
      },
      options,
    );
  }

  /** Creates a key that must not exist yet (`set` with `prevExist: false`; one-shot). */
  create(key: string, value: string, options: Omit<SetOptions, 'prevExist'> = {}): Promise<Response> {
    return this.set(key, value, { ...options, prevExist: false });
  }

  /** Updates a key that must exist (`set` with `prevExist: true`). */
  update(key: string, value: string, options: Omit<SetOptions, 'prevExist'> = {}): Promise<Response> {
    return this.set(key, value, { ...options, prevExist: true });
  }

  /**
   * Deletes a key or directory, with optional conditions. One-shot: it never fails over (unless the caller says
   * it is safe to repeat with `retrySafe`, e.g. a compare-and-delete with `prevIndex`).
   */
  async delete(key: string, options: DeleteOptions = {}): Promise<Response> {
    const path = this.#path(key);
    const params: [string, string][] = [];
    if (options.prevValue) params.push(['prevValue', options.prevValue]);
    const prevIndex = whole('prevIndex', options.prevIndex);
    if (prevIndex) params.push(['prevIndex', String(prevIndex)]);
    if (options.dir) params.push(['dir', 'true']);
    if (options.recursive) params.push(['recursive', 'true']);
    return this.#send(
      {
        oneShot: true,
        raft: true,
        operation: 'delete',
        key: label(key),
        httpRequest: (ep) => ({
          ...request(ep, 'DELETE', path, params),
          headers: { 'content-type': FORM_CONTENT_TYPE },
        }),
      },
      options,
    );
  }

  /**
   * Creates a key below `dir` named by the store index (`<dir>/00000000000000000042`), so keys sort in
   * creation order. Not one-shot (as in Go): if a reply is lost on a failing member, the retry on another
   * member may create a second key.
   *
   * @throws {RangeError} for a non-integer or negative `ttl`.
   */
  async createInOrder(dir: string, value: string, options: CreateInOrderOptions = {}): Promise<Response> {
    const path = this.#path(dir);
    const form: [string, string][] = [['value', String(value)]];
    const ttl = whole('ttl', options.ttl);
    if (ttl) form.push(['ttl', String(ttl)]);
    const body = encodeValues(form);
    return this.#send(
      {
        operation: 'createInOrder',
        raft: true,
        key: label(dir),
        httpRequest: (ep) => request(ep, 'POST', path, [], body),
      },
      options,
    );
  }

  /**
   * A watcher of `key` (Go's `Watcher`): each `next()` waits for the next change after `afterIndex`. See
   * {@link Watcher} for resuming after error 401.
   */
  watcher(key: string, options: WatcherOptions = {}): Watcher {
    const sharePath = typeof options.shared === 'string' ? this.#path(options.shared) : undefined;
    return Watcher[kCreateWatcher](this.#client, this.#path(key), label(key), options, sharePath);
  }

  async #send(action: Action, options: CallOptions): Promise<Response> {
    return decodeKeysResponse(await this.#client[kDo](action, options));
  }

  /** The unescaped path of `key` below the prefix; refuses a key that climbs out of the prefix. */
  #path(key: string): string {
    if (typeof key !== 'string') throw new TypeError(`key must be a string, got ${typeof key}`);
    const prefix = this.#prefix !== '' && !this.#prefix.startsWith('/') ? `/${this.#prefix}` : this.#prefix;
    const rooted = key !== '' && !key.startsWith('/') ? `/${key}` : key;
    if (prefix !== '') {
      const base = cleanPath(prefix);
      const resolved = cleanPath(`${prefix}${rooted}`);
      if (resolved !== base && !resolved.startsWith(base === '/' ? '/' : `${base}/`)) {
        throw new KeyOutsidePrefixError(
          `key ${JSON.stringify(key)} leaves the keys prefix ${JSON.stringify(prefix)}`,
        );
      }
    }
    return `${prefix}${rooted}`;
  }
}

/** A keys request; the endpoint's own path goes first, and the whole path is made canonical. */
export function request(
  endpoint: Endpoint,
  method: HttpRequestSpec['method'],
  path: string,
  params: [string, string][],
  body?: string,
): HttpRequestSpec {
  const target = buildURL(endpoint, `${endpoint.path}${path}`, params);
  if (body === undefined) return { method, ...target, headers: {} };
  return { method, ...target, headers: { 'content-type': FORM_CONTENT_TYPE }, body };
}

/** The key as diagnostics show it: rooted, as the caller named it (without the keys prefix). */
function label(key: string): string {
  return key !== '' && !key.startsWith('/') ? `/${key}` : key;
}

/** Validates a whole-number option (TTL seconds, an index); undefined and 0 mean "none". */
function whole(name: string, value: number | undefined): number {
  if (value === undefined) return 0;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(
      `${name} must be a whole number >= 0${name === 'ttl' ? ' (seconds)' : ''}, got ${String(value)}`,
    );
  }
  return value;
}
