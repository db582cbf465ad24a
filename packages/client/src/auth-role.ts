import type { CallOptions, Client } from './client.js';
import { UnexpectedStatusError } from './errors.js';
import { authAction, authJson, checkName, expectOk } from './internal/auth-actions.js';
import { fieldOf, listField, nameOrField, objectAt, text, textField } from './internal/reply-fields.js';
import { kDo } from './internal/symbols.js';

/** What a role may do with a key prefix (Go's `PermissionType`). */
export const PermissionType = { Read: 0, Write: 1, ReadWrite: 2 } as const;
export type PermissionType = (typeof PermissionType)[keyof typeof PermissionType];

/** Key permissions of a role. */
export interface Permissions {
  readonly kv: { readonly read: readonly string[]; readonly write: readonly string[] };
}

/** A v2 role (Go's `Role`). */
export interface Role {
  readonly role: string;
  readonly permissions: Permissions;
}

const EMPTY_PERMISSIONS = { kv: { read: null, write: null } };

/** The v2 roles API (Go's `AuthRoleAPI`). */
export class AuthRoleAPI {
  readonly #client: Client;

  constructor(client: Client) {
    this.#client = client;
  }

  /** Creates a role with no permissions. */
  async addRole(role: string, options: CallOptions = {}): Promise<void> {
    const body = { role: checkName('role', role), permissions: EMPTY_PERMISSIONS };
    expectOk(await this.#client[kDo](authAction('PUT', ['roles', role], body), options));
  }

  /** Deletes a role. */
  async removeRole(role: string, options: CallOptions = {}): Promise<void> {
    expectOk(await this.#client[kDo](authAction('DELETE', ['roles', checkName('role', role)]), options));
  }

  /** A role and its permissions. `isRoleNotFound(error)` tells a missing role. */
  async getRole(role: string, options: CallOptions = {}): Promise<Role> {
    const response = await this.#client[kDo](authAction('GET', ['roles', checkName('role', role)]), options);
    return decodeRole(authJson(expectOk(response, [200])));
  }

  /** Grants read, write or both on key prefixes (e.g. `/app/*`). */
  grantRoleKV(
    role: string,
    prefixes: readonly string[],
    type: PermissionType,
    options: CallOptions = {},
  ): Promise<Role> {
    return this.#modify(role, 'grant', prefixes, type, options);
  }

  /** Revokes read, write or both on key prefixes. */
  revokeRoleKV(
    role: string,
    prefixes: readonly string[],
    type: PermissionType,
    options: CallOptions = {},
  ): Promise<Role> {
    return this.#modify(role, 'revoke', prefixes, type, options);
  }

  /** The names of every role. Errors are `unexpected status code <n>` (as in Go). */
  async listRoles(options: CallOptions = {}): Promise<string[]> {
    const response = await this.#client[kDo](authAction('GET', ['roles'], undefined, true), options);
    if (response.status !== 200) throw new UnexpectedStatusError(response.status);
    return listField(objectAt(authJson(response), ''), 'roles', '', nameOrField('role'));
  }

  async #modify(
    role: string,
    verb: 'grant' | 'revoke',
    prefixes: readonly string[],
    type: PermissionType,
    options: CallOptions,
  ): Promise<Role> {
    const list = [...prefixes];
    const kv = {
      read: type === PermissionType.Read || type === PermissionType.ReadWrite ? list : null,
      write: type === PermissionType.Write || type === PermissionType.ReadWrite ? list : null,
    };
    const body = { role: checkName('role', role), permissions: EMPTY_PERMISSIONS, [verb]: { kv } };
    const response = await this.#client[kDo](authAction('PUT', ['roles', role], body), options);
    return decodeRole(authJson(expectOk(response, [200])));
  }
}

/** A role reply (Go's `Role`); another shape is an `InvalidValueError`. */
function decodeRole(raw: unknown): Role {
  const role = objectAt(raw, '');
  const kv = objectAt(fieldOf(objectAt(fieldOf(role, 'permissions'), 'permissions'), 'kv'), 'permissions.kv');
  return {
    role: textField(role, 'role', ''),
    permissions: {
      kv: {
        read: listField(kv, 'read', 'permissions.kv', text),
        write: listField(kv, 'write', 'permissions.kv', text),
      },
    },
  };
}
