import {
  EmptyBodyError,
  EtcdError,
  INVALID_JSON_MESSAGE,
  InvalidResponseError,
  InvalidValueError,
} from '../errors.js';
import type { Node, Response } from '../keys.js';
import { header, type RawResponse } from './attempt.js';
import { fieldOf, invalidValue, shorten } from './reply-fields.js';

function invalid(cause?: unknown): InvalidResponseError {
  return new InvalidResponseError(INVALID_JSON_MESSAGE, cause === undefined ? undefined : { cause });
}

/** Go's `uint64` maximum: above it, Go's `strconv.ParseUint` says "value out of range". */
const MAX_UINT64 = 18446744073709551615n;

/**
 * Go's `X-Etcd-Index` parsing: absent or empty gives 0; anything but digits is an error, and so is a value
 * above 2^53 - 1, which a JavaScript number cannot hold exactly (Go's uint64 goes up to 2^64 - 1).
 */
export function parseIndex(response: RawResponse): number {
  const text = header(response, 'x-etcd-index');
  if (text === '') return 0;
  if (!/^\d+$/.test(text))
    throw new InvalidResponseError(`strconv.ParseUint: parsing ${JSON.stringify(text)}: invalid syntax`);
  const index = Number(text);
  if (index <= Number.MAX_SAFE_INTEGER) return index;
  throw new InvalidValueError(
    'X-Etcd-Index',
    BigInt(text) > MAX_UINT64
      ? `strconv.ParseUint: parsing ${JSON.stringify(shorten(text))}: value out of range`
      : `X-Etcd-Index ${shorten(text)} is above 2^53 - 1 and cannot be represented exactly`,
  );
}

/** An index field (Go: `uint64`) must be a whole number from 0 to 2^53 - 1; the error if it is not. */
function indexError(where: string, name: string, value: number): InvalidValueError | undefined {
  if (Number.isSafeInteger(value) && value >= 0) return undefined;
  return invalidValue(`${where}.${name}`, value, 'a whole number from 0 to 2^53 - 1');
}

/** A whole-number field (Go: `int64` or `int`) may be negative: `ttl`, `errorCode`; the error if not whole. */
function wholeError(where: string, name: string, value: number): InvalidValueError | undefined {
  if (Number.isSafeInteger(value)) return undefined;
  return invalidValue(`${where}.${name}`, value, 'a whole number');
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:Z|[+-](\d{2}):(\d{2}))$/;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * Go's `time.Time` JSON form, RFC 3339 with optional fraction, with each field in range (`time.Parse`). Reads
 * the fields in place (a listing of a thousand keys with a TTL checks a thousand of these).
 */
export function isRFC3339(text: string): boolean {
  if (!RFC3339.test(text)) return false;
  const year = digits(text, 0, 4);
  const month = digits(text, 5, 2);
  const day = digits(text, 8, 2);
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days = month === 2 && leap ? 29 : (DAYS_IN_MONTH[month - 1] ?? 0);
  if (
    day < 1 ||
    day > days ||
    digits(text, 11, 2) > 23 ||
    digits(text, 14, 2) > 59 ||
    digits(text, 17, 2) > 59
  )
    return false;
  // a numeric zone ends the text: +hh:mm
  const last = text.charCodeAt(text.length - 1);
  return (
    last === 90 /* Z */ || (digits(text, text.length - 5, 2) <= 23 && digits(text, text.length - 2, 2) <= 59)
  );
}

/** The number written by the `count` ASCII digits of `text` at `at` (the pattern has checked they are digits). */
function digits(text: string, at: number, count: number): number {
  let value = 0;
  for (let i = at; i < at + count; i++) value = value * 10 + (text.charCodeAt(i) - 48);
  return value;
}

/** An `expiration` (Go: `*time.Time`) must be an RFC 3339 time; the error if it is not. */
function timeError(where: string, value: string): InvalidValueError | undefined {
  if (isRFC3339(value)) return undefined;
  return invalidValue(`${where}.expiration`, value, 'an RFC 3339 time');
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

/** Decodes a node; `where` names it in errors (`node`, `prevNode`, `node.nodes[]`). */
function decodeNode(raw: unknown, where: string): Node {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw invalid();
  const r = raw as Record<string, unknown>;
  for (const name in r) {
    const value = r[name];
    if (value === null) continue;
    if (name === 'nodes') {
      if (!Array.isArray(value)) throw invalid();
      continue;
    }
    const type = NODE_FIELD_TYPES[name];
    if (type === undefined) continue;
    if (typeof value !== type) throw invalid();
    const error =
      name === 'createdIndex' || name === 'modifiedIndex'
        ? indexError(where, name, value as number)
        : name === 'ttl'
          ? wholeError(where, name, value as number)
          : name === 'expiration'
            ? timeError(where, value as string)
            : undefined;
    if (error) throw error;
  }
  const node: { -readonly [K in keyof Node]: Node[K] } = {
    key: (r.key as string | undefined) ?? '',
    dir: (r.dir as boolean | undefined) ?? false,
    value: (r.value as string | undefined) ?? '',
    createdIndex: (r.createdIndex as number | undefined) ?? 0,
    modifiedIndex: (r.modifiedIndex as number | undefined) ?? 0,
  };
  if (Array.isArray(r.nodes)) {
    const child = `${where}.nodes[]`;
    node.nodes = r.nodes.map((n) => decodeNode(n, child));
  }
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
  if (r.node !== undefined && r.node !== null) out.node = decodeNode(r.node, 'node');
  if (r.prevNode !== undefined && r.prevNode !== null) out.prevNode = decodeNode(r.prevNode, 'prevNode');
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
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return invalid();
  // Go decodes into Error{Code int, Message string, Cause string, Index uint64}: a mismatch is ErrInvalidJSON.
  const errorCode = fieldOf(raw, 'errorCode') ?? 0;
  const index = fieldOf(raw, 'index') ?? 0;
  const message = fieldOf(raw, 'message') ?? '';
  const cause = fieldOf(raw, 'cause') ?? '';
  if (typeof errorCode !== 'number' || typeof index !== 'number') return invalid();
  if (typeof message !== 'string' || typeof cause !== 'string') return invalid();
  return (
    wholeError('error', 'errorCode', errorCode) ??
    indexError('error', 'index', index) ??
    new EtcdError(errorCode, message, cause, index)
  );
}
