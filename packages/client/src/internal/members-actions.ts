import {
  INVALID_JSON_MESSAGE,
  InvalidResponseError,
  InvalidValueError,
  MembersError,
  UnexpectedStatusError,
} from '../errors.js';
import type { Member } from '../members.js';
import { type Action, buildURL, type HttpRequestSpec, JSON_CONTENT_TYPE } from './action.js';
import type { RawResponse } from './attempt.js';
import type { Endpoint } from './endpoints.js';
import { joinPath } from './path.js';

/** A members API request: `path.Join(ep.Path, "/v2/members", suffix)`. */
export function membersAction(method: HttpRequestSpec['method'], suffix = '', body?: unknown): Action {
  return {
    operation: membersOperation(method, suffix),
    httpRequest(endpoint: Endpoint): HttpRequestSpec {
      const target = buildURL(endpoint, joinPath(endpoint.path || '/', '/v2/members', suffix), [], false);
      if (body === undefined) return { method, ...target, headers: {} };
      return {
        method,
        ...target,
        headers: { 'content-type': JSON_CONTENT_TYPE },
        body: JSON.stringify(body),
      };
    },
  };
}

/** The diagnostics name of a members call. */
function membersOperation(method: HttpRequestSpec['method'], suffix: string): string {
  if (method === 'GET') return suffix === 'leader' ? 'members.leader' : 'members.list';
  return method === 'POST' ? 'members.add' : method === 'DELETE' ? 'members.remove' : 'members.update';
}

/**
 * Decodes a member (at `where` in the reply, for errors), accepting Go's case-insensitive field names. As Go's
 * decoding into `Member` does, it refuses a member that is not an object (null is Go's zero value), an id or
 * name that is not a string, and URL lists that are not lists of strings (absent or null fields are empty).
 *
 * @throws {InvalidValueError} for such a member.
 */
export function decodeMember(raw: unknown, where = 'member'): Member {
  // null decodes to Go's zero value, as in Go
  if (typeof raw !== 'object' || Array.isArray(raw)) throw mistyped(where, raw, 'an object');
  const text = (name: string): string => {
    const value = fieldOf(raw, name) ?? '';
    if (typeof value !== 'string') throw mistyped(`${where}.${name}`, value, 'a string');
    return value;
  };
  const strings = (name: string): string[] => {
    const value = fieldOf(raw, name) ?? [];
    if (!Array.isArray(value) || !value.every((item) => typeof item === 'string'))
      throw mistyped(`${where}.${name}`, value, 'a list of strings');
    return value as string[];
  };
  return {
    id: text('id'),
    name: text('name'),
    peerURLs: strings('peerURLs'),
    clientURLs: strings('clientURLs'),
  };
}

/** The error for a reply field of the wrong JSON type (Go: an `UnmarshalTypeError`). */
export function mistyped(field: string, value: unknown, expected: string): InvalidValueError {
  const shown = JSON.stringify(value) ?? String(value);
  return new InvalidValueError(
    field,
    `${INVALID_JSON_MESSAGE}: ${field} ${shown.length > 64 ? `${shown.slice(0, 64)}...` : shown} is not ${expected}`,
  );
}

/** A JSON object's field, matched case-insensitively as Go's encoding/json does (exact match first). */
export function fieldOf(raw: unknown, name: string): unknown {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const record = raw as Record<string, unknown>;
  if (name in record) return record[name];
  const lower = name.toLowerCase();
  const key = Object.keys(record).find((k) => k.toLowerCase() === lower);
  return key === undefined ? undefined : record[key];
}

/**
 * Parses a JSON body. Unlike Go's members API, which returns the JSON package's own syntax error, a body that
 * is not JSON is an {@link InvalidResponseError} (its `cause` is the syntax error), as for the keys API.
 */
export function parseJson(response: RawResponse): unknown {
  try {
    return JSON.parse(response.body);
  } catch (error) {
    throw new InvalidResponseError(INVALID_JSON_MESSAGE, { cause: error });
  }
}

/** `GET /v2/members`: 200 only, `{"members":[...]}` (absent or null: none). */
export function decodeMemberList(response: RawResponse): Member[] {
  if (response.status !== 200) throw new UnexpectedStatusError(response.status);
  const body = parseJson(response);
  if (typeof body !== 'object' || Array.isArray(body)) throw mistyped('body', body, 'an object');
  const members = fieldOf(body, 'members') ?? [];
  if (!Array.isArray(members)) throw mistyped('members', members, 'a list');
  return members.map((member) => decodeMember(member, 'members[]'));
}

/** `GET /v2/members/leader`: 200 only. */
export function decodeLeader(response: RawResponse): Member {
  if (response.status !== 200) throw new UnexpectedStatusError(response.status);
  return decodeMember(parseJson(response), 'leader');
}

/** The server's members error (Go's `membersError`): the `message` field of the body. */
export function membersError(response: RawResponse): MembersError {
  let message = '';
  try {
    message = String(fieldOf(parseJson(response), 'message') ?? '');
  } catch {
    message = response.body;
  }
  return new MembersError(message, response.status);
}
