import type { CallOptions, Client } from './client.js';
import { authAction, authJson, checkName, expectOk } from './internal/auth-actions.js';
import { listField, nameOrField, objectAt, textField } from './internal/reply-fields.js';
import { kDo } from './internal/symbols.js';

/** A v2 user (Go's `User`); the password is never returned by the server. */
export interface User {
  readonly user: string;
  readonly roles: readonly string[];
}

/** The v2 users API (Go's `AuthUserAPI`). Errors are `AuthError`s with the server's message. */
export class AuthUserAPI {
  readonly #client: Client;

  constructor(client: Client) {
    this.#client = client;
  }

  /** Creates a user. */
  async addUser(username: string, password: string, options: CallOptions = {}): Promise<void> {
    const body = { user: checkName('user', username), password, roles: null };
    expectOk(await this.#client[kDo](authAction('PUT', ['users', username], body), options));
  }

  /** Deletes a user. */
  async removeUser(username: string, options: CallOptions = {}): Promise<void> {
    expectOk(await this.#client[kDo](authAction('DELETE', ['users', checkName('user', username)]), options));
  }

  /** A user and the names of its roles. `isUserNotFound(error)` tells a missing user. */
  async getUser(username: string, options: CallOptions = {}): Promise<User> {
    const response = await this.#client[kDo](
      authAction('GET', ['users', checkName('user', username)]),
      options,
    );
    return decodeUser(authJson(expectOk(response, [200])));
  }

  /** Adds roles to a user. */
  async grantUser(username: string, roles: readonly string[], options: CallOptions = {}): Promise<User> {
    const body = { user: checkName('user', username), roles: null, grant: [...roles] };
    return decodeUser(
      authJson(
        expectOk(await this.#client[kDo](authAction('PUT', ['users', username], body), options), [200]),
      ),
    );
  }

  /** Removes roles from a user. */
  async revokeUser(username: string, roles: readonly string[], options: CallOptions = {}): Promise<User> {
    const body = { user: checkName('user', username), roles: null, revoke: [...roles] };
    return decodeUser(
      authJson(
        expectOk(await this.#client[kDo](authAction('PUT', ['users', username], body), options), [200]),
      ),
    );
  }

  /**
   * Sets a user's password. Accepts only 200: for a user that does not exist the server creates it and answers
   * 201, which is reported as an `AuthError` with an empty message, as in Go.
   */
  async changePassword(username: string, password: string, options: CallOptions = {}): Promise<User> {
    const body = { user: checkName('user', username), password, roles: null };
    return decodeUser(
      authJson(
        expectOk(await this.#client[kDo](authAction('PUT', ['users', username], body), options), [200]),
      ),
    );
  }

  /** The names of every user. */
  async listUsers(options: CallOptions = {}): Promise<string[]> {
    const response = expectOk(
      await this.#client[kDo](authAction('GET', ['users'], undefined, true), options),
      [200],
    );
    return listField(objectAt(authJson(response), ''), 'users', '', nameOrField('user'));
  }
}

/**
 * A user reply (Go's `User`, or `UserRoles` whose roles are objects, `{"role":"r",...}`: Go keeps their
 * names). Another shape is an `InvalidValueError`.
 */
function decodeUser(raw: unknown): User {
  const user = objectAt(raw, '');
  return { user: textField(user, 'user', ''), roles: listField(user, 'roles', '', nameOrField('role')) };
}
