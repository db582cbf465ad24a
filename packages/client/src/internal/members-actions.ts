import {
  INVALID_JSON_MESSAGE,
  InvalidResponseError,
  MembersError,
  UnexpectedStatusError,
} from '../errors.js';
import type { Member } from '../members.js';
import { type Action, buildURL, type HttpRequestSpec, JSON_CONTENT_TYPE } from './action.js';
import type { RawResponse } from './attempt.js';
import type { Endpoint } from './endpoints.js';
import { joinPath } from './path.js';
import { fieldOf, listField, objectAt, text, textField } from './reply-fields.js';

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
 * Decodes a member (at `where` in the reply, for errors) as Go's decoding into `Member` does (see
 * `reply-fields.ts`): an object (null: the zero value) whose id and name are strings and whose URL lists are
 * lists of strings.
 *
 * @throws {InvalidValueError} for a member of another shape.
 */
export function decodeMember(raw: unknown, where = 'member'): Member {
  const member = objectAt(raw, where);
  return {
    id: textField(member, 'id', where),
    name: textField(member, 'name', where),
    peerURLs: listField(member, 'peerURLs', where, text),
    clientURLs: listField(member, 'clientURLs', where, text),
  };
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
  return listField(objectAt(parseJson(response), ''), 'members', '', decodeMember);
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
