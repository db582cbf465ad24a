import { AuthError, INVALID_JSON_MESSAGE, InvalidResponseError } from '../errors.js';
import { type Action, buildURL, type HttpRequestSpec, JSON_CONTENT_TYPE } from './action.js';
import type { RawResponse } from './attempt.js';
import { joinPath } from './path.js';
import { fieldOf } from './reply-fields.js';

/** An auth API request: `path.Join(ep.Path, "/v2/auth", ...parts)`, JSON body when given. */
export function authAction(
  method: HttpRequestSpec['method'],
  parts: readonly string[],
  body?: unknown,
  jsonHeader = body !== undefined,
): Action {
  return {
    operation: 'auth',
    secretBody: typeof body === 'object' && body !== null && 'password' in body,
    httpRequest(endpoint): HttpRequestSpec {
      const target = buildURL(endpoint, joinPath(endpoint.path || '/', '/v2/auth', ...parts), [], false);
      const headers: Record<string, string> = jsonHeader ? { 'content-type': JSON_CONTENT_TYPE } : {};
      if (body === undefined) return { method, ...target, headers };
      return { method, ...target, headers, body: JSON.stringify(body) };
    },
  };
}

/** Refuses user and role names that path cleaning would turn into another URL (`..`, `a/b`). */
export function checkName(kind: 'user' | 'role', name: string): string {
  if (typeof name !== 'string' || name === '' || name === '.' || name === '..' || name.includes('/')) {
    throw new RangeError(
      `${kind} name must be non-empty, not "." or "..", and without "/", got ${JSON.stringify(name)}`,
    );
  }
  return name;
}

/** The server's auth error (Go's `authError`): the `message` field of the body. */
export function authError(response: RawResponse): Error {
  let raw: unknown;
  try {
    raw = JSON.parse(response.body);
  } catch (error) {
    return new InvalidResponseError(INVALID_JSON_MESSAGE, { cause: error });
  }
  return new AuthError(String(fieldOf(raw, 'message') ?? ''), response.status);
}

/** Parses a successful auth reply. */
export function authJson(response: RawResponse): unknown {
  try {
    return JSON.parse(response.body);
  } catch (error) {
    throw new InvalidResponseError(INVALID_JSON_MESSAGE, { cause: error });
  }
}

/** 200 or 201, else the auth error. */
export function expectOk(response: RawResponse, statuses: readonly number[] = [200, 201]): RawResponse {
  if (!statuses.includes(response.status)) throw authError(response);
  return response;
}
