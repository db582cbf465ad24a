import { MembersError, UnexpectedStatusError } from '../errors.js';
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

/** Decodes a member, accepting Go's case-insensitive field names. */
export function decodeMember(raw: unknown): Member {
  const get = (name: string): unknown => fieldOf(raw, name);
  const strings = (value: unknown): string[] => (Array.isArray(value) ? value.map(String) : []);
  return {
    id: String(get('id') ?? ''),
    name: String(get('name') ?? ''),
    peerURLs: strings(get('peerURLs')),
    clientURLs: strings(get('clientURLs')),
  };
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

/** Parses a JSON body; a syntax error is returned raw (as Go's members API does). */
export function parseJson(response: RawResponse): unknown {
  return JSON.parse(response.body);
}

/** `GET /v2/members`: 200 only, `{"members":[...]}`. */
export function decodeMemberList(response: RawResponse): Member[] {
  if (response.status !== 200) throw new UnexpectedStatusError(response.status);
  const members = fieldOf(parseJson(response), 'members');
  return Array.isArray(members) ? members.map(decodeMember) : [];
}

/** `GET /v2/members/leader`: 200 only. */
export function decodeLeader(response: RawResponse): Member {
  if (response.status !== 200) throw new UnexpectedStatusError(response.status);
  return decodeMember(parseJson(response));
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
