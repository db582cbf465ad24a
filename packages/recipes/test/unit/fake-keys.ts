import { EtcdError, type KeysAPI, type Node, type Response } from '@etcdkit/client';

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

/** One call the recipe made: its method, key, options, and the reply the test gives it. */
export interface Call {
  readonly method: 'set' | 'delete' | 'get' | 'createInOrder' | 'resync';
  readonly key: string;
  readonly value?: string;
  readonly options: Record<string, unknown>;
  readonly reply: Pending<Response>;
}

/** One watcher the recipe opened; each `next()` waits for an event or error the test pushes. */
export class FakeWatcher {
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

  next(options: { signal?: AbortSignal } = {}): Promise<Response> {
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

  resync(options: { signal?: AbortSignal } = {}): Promise<Response> {
    return this.#keys.record('resync', this.key, undefined, options);
  }

  close(): void {
    this.closed = true;
    this.#waiting?.reject(new DOMException('watcher closed', 'AbortError'));
  }
}

/**
 * The part of `KeysAPI` the queue recipes call, as a fake that records each call and lets the test answer
 * it (pure logic only: real etcd behaviour is what the integration tests check).
 */
export class FakeKeys {
  readonly calls: Call[] = [];
  readonly watchers: FakeWatcher[] = [];
  #onCall: ((call: Call) => void) | undefined;

  /** As a `KeysAPI`, for the recipes' constructors. */
  get api(): KeysAPI {
    return this as unknown as KeysAPI;
  }

  /** Answers every future call as it comes, with `answer` (default: leave it pending). */
  onCall(answer: (call: Call) => void): void {
    this.#onCall = answer;
  }

  record(
    method: Call['method'],
    key: string,
    value: string | undefined,
    options: Record<string, unknown> = {},
  ): Promise<Response> {
    const call: Call = { method, key, ...(value === undefined ? {} : { value }), options, reply: pending() };
    this.calls.push(call);
    // like the client: an abort of the call's signal rejects it at once with the signal's reason
    const signal = options.signal as AbortSignal | undefined;
    if (signal?.aborted) call.reply.reject(signal.reason);
    signal?.addEventListener('abort', () => call.reply.reject(signal.reason), { once: true });
    this.#onCall?.(call);
    return call.reply.promise;
  }

  /** The calls of one method, in order. */
  of(method: Call['method']): Call[] {
    return this.calls.filter((call) => call.method === method);
  }

  set(key: string, value: string, options: Record<string, unknown> = {}): Promise<Response> {
    return this.record('set', key, value, options);
  }

  delete(key: string, options: Record<string, unknown> = {}): Promise<Response> {
    return this.record('delete', key, undefined, options);
  }

  get(key: string, options: Record<string, unknown> = {}): Promise<Response> {
    return this.record('get', key, undefined, options);
  }

  createInOrder(dir: string, value: string, options: Record<string, unknown> = {}): Promise<Response> {
    return this.record('createInOrder', dir, value, options);
  }

  watcher(key: string, options: { afterIndex?: number } = {}): FakeWatcher {
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

export function etcdError(errorCode: number, index = 0): EtcdError {
  return new EtcdError(errorCode, `error ${errorCode}`, '', index);
}

/** Lets pending promise callbacks run (a few turns of the microtask queue and one of the event loop). */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
