/**
 * The recipes' `node:diagnostics_channel` events: a stable, documented contract, next to the client's
 * (`ClientChannels` in `@etcdkit/client`). Subscribe with `diagnostics_channel.subscribe(name, fn)`.
 *
 * - Messages are published synchronously, in the async context of the recipe call that caused them.
 * - `recipe` says which recipe published (`lock`, `rwlock`, `semaphore`, `election`, `registry`, ...);
 *   `name` is the recipe's directory (a lock's name, an election's, a registry's service directory).
 * - No message carries credentials or a value the caller did not put in a key; durations are in ms, measured
 *   with `performance.now()` in this process.
 * - Nothing is built or published while a channel has no subscriber.
 *
 * @packageDocumentation
 */

/** The names of the recipes' channels. Part of the public API: they do not change within a major version. */
export const RecipeChannels = {
  /**
   * A contender's key joined a queue (lock, rwlock, semaphore, election; a double barrier's member keys are no
   * contenders and publish nothing). {@link EnqueueMessage}
   */
  enqueue: 'etcdkit:recipes:enqueue',
  /**
   * A lock, read or write lock, or permit is held, or a campaign won (recipe `election`, the term's key).
   * {@link AcquiredMessage}
   */
  acquired: 'etcdkit:recipes:acquired',
  /**
   * A held lock or permit was released by its holder (`release()`, or a term's `resign()`), once its key is
   * deleted. Not after a loss: a key lost before its release publishes only `lost`. {@link ReleasedMessage}
   */
  released: 'etcdkit:recipes:released',
  /**
   * A waiter became holder because the holder ahead of it went away (a hand-over), published just before its
   * `acquired`. Not when the lock was free at once. {@link HandoffMessage}
   */
  handoff: 'etcdkit:recipes:handoff',
  /**
   * A kept key's refresh failed; it is still valid but may be lost. Published for each failed attempt (they are
   * retried every 250 ms at most until the validity deadline). {@link AtRiskMessage}
   */
  atRisk: 'etcdkit:recipes:atRisk',
  /**
   * A kept key (a held lock, a term, a registration, a waiter) is lost, just before its `signal` aborts. Not when
   * it was stopped first (released, resigned, closed). {@link LostMessage}
   */
  lost: 'etcdkit:recipes:lost',
  /**
   * An election's leader changed, as this process saw it: by `observe()` (its first read too), a won
   * `campaign()`, a `resign()`, or a leader key of its own removed. Once per change per process and election
   * name, whichever saw it first; a read older than a change already published is not published.
   * {@link LeaderMessage}
   */
  electionLeader: 'etcdkit:recipes:election:leader',
  /**
   * A registry watcher (`watch()`, or a `cache()`, each on its own) saw an instance appear, its first read
   * included. {@link RegistryMessage}
   */
  registryAdd: 'etcdkit:recipes:registry:add',
  /**
   * A registry watcher saw an instance removed (deregistered or deleted), or found it gone at a re-read (after
   * error 401 or a failed watch), which cannot tell how. {@link RegistryMessage}
   */
  registryRemove: 'etcdkit:recipes:registry:remove',
  /** A registry watcher saw an instance's key expire (its process stopped refreshing it). {@link RegistryMessage} */
  registryExpire: 'etcdkit:recipes:registry:expire',
} as const;

/** `etcdkit:recipes:enqueue` */
export interface EnqueueMessage {
  readonly recipe: string;
  readonly name: string;
  /** The contender's queue key. */
  readonly key: string;
  readonly createdIndex: number;
}

/** `etcdkit:recipes:acquired` */
export interface AcquiredMessage {
  readonly recipe: string;
  readonly name: string;
  readonly key: string;
  /** The key's createdIndex: the fencing token. */
  readonly fencingToken: number;
  /** From the call to acquire (or campaign) to held, in ms. */
  readonly waitMs: number;
}

/** `etcdkit:recipes:released` */
export interface ReleasedMessage {
  readonly recipe: string;
  readonly name: string;
  readonly key: string;
  /** From held to released, in ms. */
  readonly holdMs: number;
}

/** `etcdkit:recipes:handoff` */
export interface HandoffMessage {
  readonly recipe: string;
  readonly name: string;
  /** The new holder's key. */
  readonly key: string;
  /** The key whose removal handed the lock over. */
  readonly previousKey: string;
  /** From the moment this waiter saw `previousKey` go to held, in ms. */
  readonly handoffMs: number;
}

/** `etcdkit:recipes:atRisk` */
export interface AtRiskMessage {
  readonly key: string;
  /**
   * Why, in words: `a refresh failed: <error>`, or `a refresh has had no answer for <n> ms` (a refresh fails
   * over between members by itself, so it may still be under way a whole refresh interval later).
   */
  readonly why: string;
  /** The refresh's error; for a refresh with no answer yet, a `TimeoutError` naming the wait. */
  readonly error: unknown;
  /** How long the key stays valid without a successful refresh, in ms. */
  readonly validForMs: number;
}

/** `etcdkit:recipes:lost` */
export interface LostMessage {
  readonly key: string;
  /** Why, in words (the `SessionLostError`'s reason). */
  readonly why: string;
  /** The `SessionLostError` the key's signal aborted with. */
  readonly error: unknown;
}

/** `etcdkit:recipes:election:leader` */
export interface LeaderMessage {
  readonly recipe: 'election';
  readonly name: string;
  /** The leader's key, `undefined` when there is none. */
  readonly key: string | undefined;
  /** The leader's value, `undefined` when there is none. */
  readonly value: string | undefined;
  /** The leader key's createdIndex (its term's fencing token), 0 when there is none. */
  readonly createdIndex: number;
  /** Whether this leader is a campaign of this process (its key is kept alive by a session of this process). */
  readonly self: boolean;
}

/** `etcdkit:recipes:registry:add`, `:remove` and `:expire` */
export interface RegistryMessage {
  readonly recipe: 'registry';
  readonly service: string;
  readonly id: string;
  /** The instance's key. */
  readonly key: string;
  /** The instance as last read (address, port, meta). */
  readonly instance: unknown;
}
