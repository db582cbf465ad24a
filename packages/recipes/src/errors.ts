/**
 * Errors of the recipes. Each has a literal `name` and a stable `code`.
 */

/** Base class of every recipe error. */
export class RecipeError extends Error {
  override name = 'RecipeError';
  readonly code: string = 'ETCDKIT_RECIPE';
}

/**
 * A key kept alive by a {@link Session} can no longer be trusted: its refreshes failed until its local
 * validity deadline passed (before the server lets it expire), or the server said it is gone. The lock,
 * leadership or registration it stood for is lost; it is never silently re-created.
 */
export class SessionLostError extends RecipeError {
  override name = 'SessionLostError';
  override readonly code = 'ETCDKIT_SESSION_LOST';
  /** The key that was lost. */
  readonly key: string;
  constructor(key: string, why: string, options?: ErrorOptions) {
    super(`session key ${key} lost: ${why}`, options);
    this.key = key;
  }
}

/** A waiter's own queue key disappeared (expired or deleted) while it waited. */
export class SessionExpiredError extends RecipeError {
  override name = 'SessionExpiredError';
  override readonly code = 'ETCDKIT_SESSION_EXPIRED';
}

/** A fenced write carried a token older than the one already stored: a newer holder exists. */
export class StaleTokenError extends RecipeError {
  override name = 'StaleTokenError';
  override readonly code = 'ETCDKIT_STALE_TOKEN';
  constructor(
    readonly token: number,
    readonly storedToken: number,
  ) {
    super(`fencing token ${token} is older than the stored token ${storedToken}`);
  }
}
