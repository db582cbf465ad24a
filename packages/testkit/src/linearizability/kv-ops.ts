/**
 * The operations of a KV history: what a process asked etcd's v2 keys API to do ({@link KvInput}), what it
 * got back ({@link KvOutput}), and when ({@link KvOperation}).
 */

/** A node as a reply showed it: its value and its `modifiedIndex`. */
export interface KvObserved {
  readonly value: string;
  /** The node's `modifiedIndex`, when the reply carried it. */
  readonly index?: number;
}

/**
 * What an operation asked for. `get` is a quorum read (`quorum=true`; a local read is only checked when it is
 * marked `quorum: false`, and then it is counted, not checked). `cas` is a compare-and-swap (`set` with
 * `prevValue` and/or `prevIndex`), `create` a `set` with `prevExist=false`, `update` one with
 * `prevExist=true`, `delete` an unconditional delete or, with `prevValue`/`prevIndex`, a compare-and-delete.
 * `createInOrder` POSTs a new key below `dir`, named by the store index.
 */
export type KvInput =
  | { readonly type: 'get'; readonly key: string; readonly quorum?: boolean }
  | { readonly type: 'set'; readonly key: string; readonly value: string }
  | { readonly type: 'update'; readonly key: string; readonly value: string }
  | { readonly type: 'create'; readonly key: string; readonly value: string }
  | {
      readonly type: 'cas';
      readonly key: string;
      readonly value: string;
      readonly prevValue?: string;
      readonly prevIndex?: number;
    }
  | {
      readonly type: 'delete';
      readonly key: string;
      readonly prevValue?: string;
      readonly prevIndex?: number;
    }
  | { readonly type: 'createInOrder'; readonly dir: string; readonly value: string };

/**
 * What an operation got back, when the outcome is definite.
 *
 * - `ok`: success. A `get` has the node's `value` and `index` (`modifiedIndex`). A write has `index`, the
 *   `modifiedIndex` it made (for a delete: the delete's index), when the reply carried it, and may have `prev`,
 *   the node it replaced (`prevNode`), or `null` when the reply said there was none. A `createInOrder` has
 *   `key`, the key it created.
 * - `not-found`: error 100 (or a `get` of a missing key); `storeIndex` is the error's index (`X-Etcd-Index`).
 * - `compare-failed`: error 101. `exists`: error 105.
 */
export type KvOutput =
  | {
      readonly status: 'ok';
      readonly value?: string;
      readonly index?: number;
      readonly prev?: KvObserved | null;
      readonly key?: string;
    }
  | { readonly status: 'not-found'; readonly storeIndex?: number }
  | { readonly status: 'compare-failed' }
  | { readonly status: 'exists' };

/**
 * One operation of a KV history. `output` is absent when the outcome is unknown (*pending*: a timeout, a lost
 * connection, an abort after the request may have been sent): the checker lets a pending operation take
 * effect at any point after `start`, or never, as Knossos and porcupine treat an `:info` operation (completion
 * at +infinity). `end` is still when the caller gave up, for the printout. An operation known not to have
 * taken effect (refused before anything was sent) has `failed: true` and is left out of the check.
 */
export interface KvOperation {
  /** Who ran it: one sequential process (a worker loop). */
  readonly process: string;
  /** Invocation time, ms (see `now()`). */
  readonly start: number;
  /** Completion time, ms; for a pending operation, when the caller gave up. */
  readonly end: number;
  readonly input: KvInput;
  /** The definite outcome; absent when pending. */
  readonly output?: KvOutput;
  /** True when the operation certainly did not take effect (e.g. the connection was refused). */
  readonly failed?: boolean;
  /** How many HTTP requests the client sent for it, when the recorder could tell. */
  readonly attempts?: number;
  /** The error, for the printout (its name, code and message). */
  readonly detail?: string;
}

/** True when `op`'s outcome is unknown: it may take effect at any time after its start, or never. */
export function isPending(op: KvOperation): boolean {
  return op.output === undefined && op.failed !== true;
}

/** The key an operation is about: its key, or for `createInOrder` its directory. */
export function keyOf(input: KvInput): string {
  return input.type === 'createInOrder' ? input.dir : input.key;
}
