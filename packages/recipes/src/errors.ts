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

/**
 * The reason a held lock's, permit's or term's `signal` aborts with when its holder ended it on purpose:
 * `release()`, `resign()` or the end of an `await using` block, or `close()` of its recipe (or of its
 * session), after which nothing keeps the key alive. It is no loss: a key that could no longer be trusted
 * aborts the signal with a {@link SessionLostError} instead, and whichever came first stays the reason. Code
 * watching a signal tells the two apart by `signal.reason.code` (`ETCDKIT_RELEASED` or
 * `ETCDKIT_SESSION_LOST`), or with `instanceof`. A call still waiting (an `acquire()`, a `campaign()`, a
 * `DoubleBarrier.enter()`) when its recipe is closed rejects with it too (`how` is `closed`).
 */
export class ReleasedError extends RecipeError {
  override name = 'ReleasedError';
  override readonly code = 'ETCDKIT_RELEASED';
  /** The key that was given up (the recipe's directory when a closed recipe refused a call). */
  readonly key: string;
  /**
   * `released` (a lock, read or write lock, or permit), `resigned` (an election term) or `closed` (its recipe
   * or session was closed: the key is no longer kept alive and expires by its TTL, unless deleted).
   */
  readonly how: 'released' | 'resigned' | 'closed';
  constructor(key: string, how: 'released' | 'resigned' | 'closed') {
    super(
      how === 'closed'
        ? `${key} is no longer kept: its recipe or session was closed`
        : `${key} was ${how} by its holder`,
    );
    this.key = key;
    this.how = how;
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
