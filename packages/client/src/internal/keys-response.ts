import { EmptyBodyError, EtcdError, INVALID_JSON_MESSAGE, InvalidResponseError } from '../errors.js';
import { header, type RawResponse } from './attempt.js';
import { fieldOf } from './members-actions.js';

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

function invalid(cause?: unknown): InvalidResponseError {
  return new InvalidResponseError(INVALID_JSON_MESSAGE, cause === undefined ? undefined : { cause });
}

/** Go's `X-Etcd-Index` parsing: absent or empty gives 0; anything but digits is an error. */
export function parseIndex(response: RawResponse): number {
  const text = header(response, 'x-etcd-index');
  if (text === '') return 0;
  if (!/^\d+$/.test(text))
    throw new InvalidResponseError(`strconv.ParseUint: parsing ${JSON.stringify(text)}: invalid syntax`);
  return Number(text);
}

/** The JSON type each node field must have (Go's json-iterator refuses a mismatch). */
const NODE_FIELD_TYPES: Record<string, string> = {
  key: 'string',
  dir: 'boolean',
  value: 'string',
  createdIndex: 'number',
  modifiedIndex: 'number',
  expiration: 'string',
  ttl: 'number',
};

function decodeNode(raw: unknown): Node {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw invalid();
  const r = raw as Record<string, unknown>;
  for (const name in r) {
    const value = r[name];
    if (value === null) continue;
    if (name === 'nodes') {
      if (!Array.isArray(value)) throw invalid();
    } else if (NODE_FIELD_TYPES[name] !== undefined && typeof value !== NODE_FIELD_TYPES[name]) {
      throw invalid();
    }
  }
  const node: { -readonly [K in keyof Node]: Node[K] } = {
    key: (r.key as string | undefined) ?? '',
    dir: (r.dir as boolean | undefined) ?? false,
    value: (r.value as string | undefined) ?? '',
    createdIndex: (r.createdIndex as number | undefined) ?? 0,
    modifiedIndex: (r.modifiedIndex as number | undefined) ?? 0,
  };
  if (Array.isArray(r.nodes)) node.nodes = r.nodes.map(decodeNode);
  if (typeof r.expiration === 'string') node.expiration = r.expiration;
  if (typeof r.ttl === 'number') node.ttl = r.ttl;
  return node;
}

/**
 * The JSON of a successful reply.
 *
 * @throws {EmptyBodyError} for an empty body.
 * @throws {InvalidResponseError} for a body that is not JSON.
 */
export function parseSuccessBody(response: RawResponse): unknown {
  if (response.body === '') throw new EmptyBodyError();
  try {
    return JSON.parse(response.body);
  } catch (error) {
    throw invalid(error);
  }
}

/**
 * Decodes a keys reply (Go's `unmarshalHTTPResponse`): 200 and 201 are successes, decoded case-sensitively;
 * every other status is a server error, decoded case-insensitively into an {@link EtcdError}.
 *
 * @throws {EmptyBodyError} for a success with an empty body.
 * @throws {InvalidResponseError} for a body that is not an etcd reply.
 * @throws {EtcdError} for a server error.
 */
export function decodeKeysResponse(response: RawResponse): Response {
  if (response.status !== 200 && response.status !== 201) throw decodeKeysError(response);
  const index = parseIndex(response);
  const raw = parseSuccessBody(response);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw invalid();
  const r = raw as Record<string, unknown>;
  if (r.action !== undefined && typeof r.action !== 'string') throw invalid();
  const out: { -readonly [K in keyof Response]: Response[K] } = {
    action: (r.action as string | undefined) ?? '',
    index,
    clusterId: header(response, 'x-etcd-cluster-id'),
  };
  if (r.node !== undefined && r.node !== null) out.node = decodeNode(r.node);
  if (r.prevNode !== undefined && r.prevNode !== null) out.prevNode = decodeNode(r.prevNode);
  return out;
}

/** A non-success keys reply as an {@link EtcdError} (or an {@link InvalidResponseError} if it is not JSON). */
export function decodeKeysError(response: RawResponse): Error {
  let raw: unknown;
  try {
    raw = JSON.parse(response.body);
  } catch (error) {
    return invalid(error);
  }
  if (typeof raw !== 'object' || raw === null) return invalid();
  const num = (name: string): number => {
    const value = fieldOf(raw, name);
    return typeof value === 'number' ? value : 0;
  };
  const str = (name: string): string => {
    const value = fieldOf(raw, name);
    return typeof value === 'string' ? value : '';
  };
  return new EtcdError(num('errorCode'), str('message'), str('cause'), num('index'));
}
