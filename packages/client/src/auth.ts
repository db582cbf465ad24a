import type { CallOptions, Client } from './client.js';
import { authAction, expectOk } from './internal/auth-actions.js';
import { kDo } from './internal/symbols.js';

/** The v2 auth switch (Go's `AuthAPI`). */
export class AuthAPI {
  readonly #client: Client;

  constructor(client: Client) {
    this.#client = client;
  }

  /**
   * Turns authentication on (`PUT /v2/auth/enable`).
   *
   * @throws {AuthError} e.g. `auth: No root user available, please create one`.
   */
  async enable(options: CallOptions = {}): Promise<void> {
    expectOk(await this.#client[kDo](authAction('PUT', ['enable']), options));
  }

  /** Turns authentication off (`DELETE /v2/auth/enable`; needs root credentials). */
  async disable(options: CallOptions = {}): Promise<void> {
    expectOk(await this.#client[kDo](authAction('DELETE', ['enable']), options));
  }
}
