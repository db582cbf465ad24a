import {
  type CallOptions,
  type CreateInOrderOptions,
  type DeleteOptions,
  EtcdError,
  type GetOptions,
  type Node,
  type Response,
  type SetOptions,
  type WatcherOptions,
} from '@etcdkit/client';
import type { RecipeKeys, RecipeWatcher } from '../../src/keys.js';

/** A promise with its resolve and reject, for a reply the test hands out when it chooses. */
export interface Pending<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(reason: unknown): void;
}

export function pending<T>(): Pending<T> {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** The options of any keys method (each method's options fit, all fields being optional). */
export type AnyOptions = GetOptions & SetOptions & DeleteOptions & CreateInOrderOptions;

/** One call the recipe made: its method, key, options, and the reply the test gives it. */
export interface Call {
  readonly method: 'set' | 'create' | 'delete' | 'get' | 'createInOrder' | 'resync';
  readonly key: string;
  readonly value?: string;
  readonly options: AnyOptions;
  readonly reply: Pending<Response>;
}

/** One watcher the recipe opened; each `next()` waits for an event or error the test pushes. */
export class FakeWatcher implements RecipeWatcher {
  readonly key: string;
  readonly afterIndex: number;
  closed = false;
  #waiting: Pending<Response> | undefined;
  readonly #queued: (() => Pending<Response>['promise'])[] = [];
  readonly #keys: FakeKeys;

  constructor(keys: FakeKeys, key: string, afterIndex: number) {
    this.#keys = keys;
    this.key = key;
    this.afterIndex = afterIndex;
  }

  /** Whether a `next()` is waiting now. */
  get waiting(): boolean {
    return this.#waiting !== undefined;
  }

  next(options: CallOptions = {}): Promise<Response> {
    const queued = this.#queued.shift();
    if (queued) return queued();
    const wait = pending<Response>();
    this.#waiting = wait;
    options.signal?.addEventListener('abort', () => wait.reject(options.signal!.reason), { once: true });
    return wait.promise.finally(() => {
      if (this.#waiting === wait) this.#waiting = undefined;
    });
  }

  /** Delivers an event to the waiting (or next) `next()`. */
  push(event: Response): void {
    if (this.#waiting) this.#waiting.resolve(event);
    else this.#queued.push(() => Promise.resolve(event));
  }

  /** Fails the waiting (or next) `next()`. */
  fail(error: unknown): void {
    if (this.#waiting) this.#waiting.reject(error);
    else this.#queued.push(() => Promise.reject(error));
  }

  resync(options: CallOptions = {}): Promise<Response> {
    return this.#keys.record('resync', this.key, undefined, options);
  }

  close(): void {
    this.closed = true;
    this.#waiting?.reject(new DOMException('watcher closed', 'AbortError'));
  }
}

/**
 * The part of `KeysAPI` the recipes call ({@link RecipeKeys}), as a fake that records each call and lets the
 * test answer it (pure logic only: real etcd behaviour is what the integration tests check).
 */
export class FakeKeys implements RecipeKeys {
  readonly calls: Call[] = [];
  readonly watchers: FakeWatcher[] = [];
  #onCall: ((call: Call) => void) | undefined;

  /** As a {@link RecipeKeys}, for the recipes' constructors (the fake itself: no cast). */
  get api(): RecipeKeys {
    return this;
  }

  /** Answers every future call as it comes, with `answer` (default: leave it pending). */
  onCall(answer: (call: Call) => void): void {
    this.#onCall = answer;
  }

  record(
    method: Call['method'],
    key: string,
    value: string | undefined,
    options: AnyOptions = {},
  ): Promise<Response> {
    const call: Call = { method, key, ...(value === undefined ? {} : { value }), options, reply: pending() };
    this.calls.push(call);
    // like the client: an abort of the call's signal rejects it at once with the signal's reason
    const { signal } = options;
    if (signal?.aborted) call.reply.reject(signal.reason);
    signal?.addEventListener('abort', () => call.reply.reject(signal.reason), { once: true });
    this.#onCall?.(call);
    return call.reply.promise;
  }

  /** The calls of one method, in order. */
  of(method: Call['method']): Call[] {
    return this.calls.filter((call) => call.method === method);
  }

  set(key: string, value: string, options: SetOptions = {}): Promise<Response> {
    return this.record('set', key, value, options);
  }

  create(key: string, value: string, options: Omit<SetOptions, 'prevExist'> = {}): Promise<Response> {
    return this.record('create', key, value, options);
  }

  delete(key: string, options: DeleteOptions = {}): Promise<Response> {
    return this.record('delete', key, undefined, options);
  }

  get(key: string, options: GetOptions = {}): Promise<Response> {
    return this.record('get', key, undefined, options);
  }

  createInOrder(dir: string, value: string, options: CreateInOrderOptions = {}): Promise<Response> {
    return this.record('createInOrder', dir, value, options);
  }

  watcher(key: string, options: WatcherOptions = {}): FakeWatcher {
    const watcher = new FakeWatcher(this, key, options.afterIndex ?? 0);
    this.watchers.push(watcher);
    return watcher;
  }
}

export function node(key: string, createdIndex: number, modifiedIndex: number, value = ''): Node {
  return { key, dir: false, value, createdIndex, modifiedIndex };
}

export function reply(action: string, n: Node, prevNode?: Node): Response {
  return { action, node: n, ...(prevNode ? { prevNode } : {}), index: n.modifiedIndex, clusterId: '' };
}

/** The reply to a read of directory `dir` holding `nodes`, at store index `index`. */
export function dirReply(dir: string, index: number, ...nodes: Node[]): Response {
  return {
    action: 'get',
    node: { key: dir, dir: true, value: '', createdIndex: 1, modifiedIndex: 1, nodes },
    index,
    clusterId: '',
  };
}

export function etcdError(errorCode: number, index = 0): EtcdError {
  return new EtcdError(errorCode, `error ${errorCode}`, '', index);
}

/** Lets pending promise callbacks run (a few turns of the microtask queue and one of the event loop). */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** A call's outcome as a value: `done` when it resolves, else the error it rejects with. */
export function outcomeOf(call: Promise<unknown>, done: string): Promise<unknown> {
  return call.then(
    () => done,
    (error: unknown) => error,
  );
}

/**
 * `told`'s value if it comes within 1 s, else 'still waiting'. The recipes' unit tests use a TTL of 2 s, whose
 * validity deadline (1.5 s after a key's create; the fakes answer no refresh) would end a wait with a loss too:
 * what comes within 1 s came from the rule under test.
 */
export function soon(told: Promise<unknown>): Promise<unknown> {
  return Promise.race([told, new Promise((resolve) => setTimeout(() => resolve('still waiting'), 1000))]);
}
