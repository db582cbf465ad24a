import type {
  CallOptions,
  CreateInOrderOptions,
  DeleteOptions,
  GetOptions,
  Response,
  SetOptions,
  WatcherOptions,
} from '@etcdkit/client';

/**
 * What the recipes call of a watcher made by {@link RecipeKeys.watcher}: the part of the client's `Watcher`
 * they use. A `Watcher` is one.
 */
export interface RecipeWatcher {
  /** Waits for the next event (`Watcher.next`); an abort of `signal` rejects with its reason. */
  next(options?: CallOptions): Promise<Response>;
  /** Reads the watched key with a quorum read and moves the watcher past it (`Watcher.resync`, after 401). */
  resync(options?: CallOptions): Promise<Response>;
  /** Ends the watcher: a pending {@link next} rejects with an `AbortError`. Idempotent. */
  close(): void;
}

/**
 * What the recipes call of the client's `KeysAPI`, and all they need: every recipe, {@link Session} and
 * {@link SessionKey} take one. A `KeysAPI` is one as it is (no cast); a test can pass a fake that records the
 * calls and answers them when it chooses. Each method means what the `KeysAPI` method of the same name means.
 */
export interface RecipeKeys {
  /**
   * The client the calls go through (`KeysAPI.client`), if any: what the recipes learn through one keys object
   * (e.g. that a key they deleted is gone) they apply to the others of the same client only. A fake may leave
   * it out (then only to itself).
   */
  readonly client?: object;
  /**
   * The path prefix of the keys (`KeysAPI.prefix`), if known: with {@link client}, it tells which keys objects
   * reach the same keys, so that they can share reads (see `core/shared-read.ts`). Keys objects that report
   * the same client and prefix must be interchangeable (a shared read goes through any one of them); a wrapper
   * that adds behaviour of its own should leave it out. A fake may leave it out (then it shares with itself
   * only).
   */
  readonly prefix?: string;
  /** Reads a key or directory (`KeysAPI.get`). */
  get(key: string, options?: GetOptions): Promise<Response>;
  /** Writes a key, a compare-and-swap when `prevIndex`/`prevValue`/`prevExist` are given (`KeysAPI.set`). */
  set(key: string, value: string, options?: SetOptions): Promise<Response>;
  /** Creates a key that must not exist yet (`KeysAPI.create`; error 105 when it does). */
  create(key: string, value: string, options?: Omit<SetOptions, 'prevExist'>): Promise<Response>;
  /** Deletes a key, a compare-and-delete when `prevIndex`/`prevValue` are given (`KeysAPI.delete`). */
  delete(key: string, options?: DeleteOptions): Promise<Response>;
  /** Creates a key with a new, increasing name in a directory (`KeysAPI.createInOrder`). */
  createInOrder(dir: string, value: string, options?: CreateInOrderOptions): Promise<Response>;
  /** Makes a watcher of a key or directory (`KeysAPI.watcher`). */
  watcher(key: string, options?: WatcherOptions): RecipeWatcher;
}
