import type { CallOptions, Client } from './client.js';
import { UnexpectedStatusError } from './errors.js';
import { redactUserinfo } from './internal/endpoints.js';
import {
  decodeLeader,
  decodeMember,
  decodeMemberList,
  membersAction,
  membersError,
  parseJson,
} from './internal/members-actions.js';
import { kDo } from './internal/symbols.js';

/** A cluster member as `/v2/members` describes it. */
export interface Member {
  /** Hex member id. */
  readonly id: string;
  /** Empty until the member has started. */
  readonly name: string;
  readonly peerURLs: readonly string[];
  /** Empty until the member has started. */
  readonly clientURLs: readonly string[];
}

/**
 * The v2 members API (Go's `MembersAPI`): list, add, remove and update members, and find the leader.
 * Member ids must be hex (as etcd prints them); Go would path-clean any string into the URL.
 */
export class MembersAPI {
  readonly #client: Client;

  constructor(client: Client) {
    this.#client = client;
  }

  /** Every member, in the server's order (by id). */
  async list(options: CallOptions = {}): Promise<Member[]> {
    return decodeMemberList(await this.#client[kDo](membersAction('GET'), options));
  }

  /** The current leader. During an election every member answers 503, giving a `ClusterError`. */
  async leader(options: CallOptions = {}): Promise<Member> {
    return decodeLeader(await this.#client[kDo](membersAction('GET', 'leader'), options));
  }

  /**
   * Adds a member by its peer URL. It has no name and no client URLs until it starts.
   *
   * @throws {TypeError} for a peer URL that is not `http(s)://host:port` (checked before sending).
   * @throws {MembersError} with the server's message on 409 (e.g. `membership: peerURL exists`).
   */
  async add(peerURL: string, options: CallOptions = {}): Promise<Member> {
    const peerURLs = normalizePeerURLs([peerURL]);
    const response = await this.#client[kDo](membersAction('POST', '', { peerURLs }), options);
    if (response.status === 201) return decodeMember(parseJson(response));
    if (response.status === 409) throw membersError(response);
    throw new UnexpectedStatusError(response.status);
  }

  /**
   * Removes a member. Removing one that is already gone (410) succeeds, as in Go.
   *
   * @throws {UnexpectedStatusError} e.g. 404 for an unknown id.
   */
  async remove(memberId: string, options: CallOptions = {}): Promise<void> {
    const response = await this.#client[kDo](membersAction('DELETE', checkMemberId(memberId)), options);
    if (response.status !== 204 && response.status !== 410) throw new UnexpectedStatusError(response.status);
  }

  /**
   * Replaces a member's peer URLs.
   *
   * @throws {TypeError} for an empty list (`no valid URLs given`, as in Go) or a malformed peer URL; nothing
   * is sent then.
   * @throws {MembersError} with the server's message on 404 (no such member) or 409 (URL in use).
   */
  async update(memberId: string, peerURLs: readonly string[], options: CallOptions = {}): Promise<void> {
    const urls = normalizePeerURLs(peerURLs);
    const response = await this.#client[kDo](
      membersAction('PUT', checkMemberId(memberId), { peerURLs: urls }),
      options,
    );
    if (response.status === 204) return;
    if (response.status === 404 || response.status === 409) throw membersError(response);
    throw new UnexpectedStatusError(response.status);
  }
}

function checkMemberId(memberId: string): string {
  if (typeof memberId !== 'string' || !/^[0-9a-fA-F]{1,16}$/.test(memberId)) {
    throw new RangeError(`member id must be 1 to 16 hex digits, got ${JSON.stringify(memberId)}`);
  }
  return memberId;
}

/**
 * etcd's `types.NewURLs`: at least one URL (`no valid URLs given`, as Go refuses before sending); each URL
 * trimmed and parsed; scheme http/https/unix/unixs; `host:port`; no path. The result is sorted, as the server
 * expects. Messages show a URL's userinfo as `***` (Go prints it whole).
 */
export function normalizePeerURLs(urls: readonly string[]): string[] {
  if (!Array.isArray(urls)) throw new TypeError(`peer URLs must be an array, got ${typeof urls}`);
  if (urls.length === 0) throw new TypeError('no valid URLs given');
  const out = urls.map((raw) => {
    const text = String(raw).trim();
    const shown = redactUserinfo(text);
    const match = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/([^/?#]*)([^?#]*)/.exec(text);
    if (!match) throw new TypeError(`parse ${JSON.stringify(shown)}: invalid URI for request`);
    const scheme = match[1]!.toLowerCase();
    if (!['http', 'https', 'unix', 'unixs'].includes(scheme)) {
      throw new TypeError(`URL scheme must be http, https, unix, or unixs: ${shown}`);
    }
    if (!/^(\[[0-9a-fA-F:.]+\]|[^:[\]]+):\d+$/.test(match[2]!)) {
      throw new TypeError(`URL address does not have the form "host:port": ${shown}`);
    }
    if (match[3] !== '') throw new TypeError(`URL must not contain a path: ${shown}`);
    return text;
  });
  return out.sort();
}
