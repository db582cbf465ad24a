/**
 * Recording a KV history: {@link KvHistory} keeps the operations, {@link KvRecorder} runs calls of a keys API
 * (`@etcdkit/client`'s `KeysAPI`, or anything of the same shape) as one process and records each with its
 * times, input and outcome (see `classify.ts` for how errors are judged).
 */
import { now } from '../history.js';
import { countingRequests } from './attempts.js';
import { classifyKvError } from './classify.js';
import type { KvInput, KvObserved, KvOperation, KvOutput } from './kv-ops.js';

/** A node of a keys reply, as far as the recorder reads it. */
export interface RecordableNode {
  readonly key: string;
  readonly value: string;
  readonly modifiedIndex: number;
}

/** A keys reply, as far as the recorder reads it (`@etcdkit/client`'s `Response` is one). */
export interface RecordableReply {
  readonly node?: RecordableNode;
  readonly prevNode?: RecordableNode;
}

/** The calls the recorder makes; `@etcdkit/client`'s `KeysAPI` has them. */
export interface RecordableKeys {
  get(key: string, options?: { readonly quorum?: boolean }): Promise<RecordableReply>;
  set(
    key: string,
    value: string,
    options?: { readonly prevValue?: string; readonly prevIndex?: number; readonly prevExist?: boolean },
  ): Promise<RecordableReply>;
  delete(
    key: string,
    options?: { readonly prevValue?: string; readonly prevIndex?: number },
  ): Promise<RecordableReply>;
  createInOrder(dir: string, value: string): Promise<RecordableReply>;
}

/** A compare of {@link KvRecorder.cas} and {@link KvRecorder.delete}: `prevValue` and/or `prevIndex`. */
export interface KvCompare {
  readonly prevValue?: string;
  readonly prevIndex?: number;
}

/** The operations of a KV history, from any number of processes. */
export class KvHistory {
  readonly #ops: KvOperation[] = [];

  /** Every operation recorded, in completion order. */
  get operations(): readonly KvOperation[] {
    return this.#ops;
  }

  /** Adds an operation (e.g. one a worker process reported, or a fabricated one). */
  record(op: KvOperation): void {
    this.#ops.push(op);
  }

  /** Adds every operation of `other`. */
  merge(other: KvHistory | readonly KvOperation[]): void {
    for (const op of other instanceof KvHistory ? other.operations : other) this.record(op);
  }

  /**
   * A recorder of `keys` calls as `process`. A process is sequential: run one call of a recorder at a time,
   * and give each concurrent loop a recorder of its own.
   */
  recorder(process: string, keys: RecordableKeys): KvRecorder {
    return new KvRecorder(process, keys, (op) => this.record(op));
  }
}

const observed = (node: RecordableNode): KvObserved => ({ value: node.value, index: node.modifiedIndex });

const strip = <T extends object>(options: T): T =>
  Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as T;

/**
 * Runs keys calls as one process and records them. Each method resolves to the recorded operation, also when
 * the call failed (the error is in `detail`); it rejects only for a `TypeError`/`RangeError` the call threw
 * before sending anything (a bad argument), which is not recorded. `get` is a quorum read unless
 * `quorum: false` (then it is counted, not checked).
 *
 * A write the client sent more than once (a failover retry or hedge of `@etcdkit/client`) may have taken
 * effect more than once, which the model cannot express: a success of such a write is recorded as pending
 * (with `attempts`). For a sound check, give each process a client that sends each write once (e.g. with one
 * endpoint).
 */
export class KvRecorder {
  readonly #process: string;
  readonly #keys: RecordableKeys;
  readonly #record: (op: KvOperation) => void;

  constructor(process: string, keys: RecordableKeys, record: (op: KvOperation) => void) {
    this.#process = process;
    this.#keys = keys;
    this.#record = record;
  }

  /** Reads `key` (`quorum: true` unless told otherwise). */
  get(key: string, options: { readonly quorum?: boolean } = {}): Promise<KvOperation> {
    const quorum = options.quorum ?? true;
    const input: KvInput = quorum ? { type: 'get', key } : { type: 'get', key, quorum };
    return this.#run(input, () => this.#keys.get(key, { quorum }));
  }

  /** Sets `key` to `value`, unconditionally. */
  set(key: string, value: string): Promise<KvOperation> {
    return this.#run({ type: 'set', key, value }, () => this.#keys.set(key, value));
  }

  /** Compare-and-swap: sets `key` when its value is `prevValue` and/or its `modifiedIndex` is `prevIndex`. */
  cas(key: string, value: string, compare: KvCompare): Promise<KvOperation> {
    const input = strip({ type: 'cas', key, value, ...compare }) as KvInput;
    return this.#run(input, () => this.#keys.set(key, value, strip({ ...compare })));
  }

  /** Creates `key` (`prevExist=false`): fails with 105 when it exists. */
  create(key: string, value: string): Promise<KvOperation> {
    return this.#run({ type: 'create', key, value }, () => this.#keys.set(key, value, { prevExist: false }));
  }

  /** Updates `key` (`prevExist=true`): fails with 100 when it does not exist. */
  update(key: string, value: string): Promise<KvOperation> {
    return this.#run({ type: 'update', key, value }, () => this.#keys.set(key, value, { prevExist: true }));
  }

  /** Deletes `key`; with a compare, a compare-and-delete. */
  delete(key: string, compare: KvCompare = {}): Promise<KvOperation> {
    const input = strip({ type: 'delete', key, ...compare }) as KvInput;
    return this.#run(input, () => this.#keys.delete(key, strip({ ...compare })));
  }

  /** Creates a new key below `dir`, named by the store index. */
  createInOrder(dir: string, value: string): Promise<KvOperation> {
    return this.#run({ type: 'createInOrder', dir, value }, () => this.#keys.createInOrder(dir, value));
  }

  async #run(input: KvInput, call: () => Promise<RecordableReply>): Promise<KvOperation> {
    const start = now();
    const { result, requests } = await countingRequests(call);
    const end = now();
    const base = { process: this.#process, start, end, input, ...(requests ? { attempts: requests } : {}) };
    let op: KvOperation;
    if ('value' in result) {
      const output = success(input, result.value);
      const retried = input.type !== 'get' && requests !== undefined && requests > 1;
      op = retried ? { ...base, detail: `sent ${requests} times` } : { ...base, output };
    } else {
      const { error } = result;
      if ((error instanceof TypeError || error instanceof RangeError) && requests === undefined) throw error;
      const verdict = classifyKvError(input, error, requests);
      const detail = describe(error);
      if (verdict.kind === 'output') op = { ...base, output: verdict.output, detail };
      else op = verdict.kind === 'failed' ? { ...base, failed: true, detail } : { ...base, detail };
    }
    this.#record(op);
    return op;
  }
}

/** The output of a successful call. */
function success(input: KvInput, reply: RecordableReply): KvOutput {
  const node = reply.node;
  const index = node === undefined ? {} : { index: node.modifiedIndex };
  if (input.type === 'get') return { status: 'ok', ...(node ? { value: node.value } : {}), ...index };
  if (input.type === 'createInOrder') {
    const name = node?.key.slice(node.key.lastIndexOf('/') + 1);
    return { status: 'ok', ...index, ...(name === undefined ? {} : { key: `${input.dir}/${name}` }) };
  }
  if (reply.prevNode) return { status: 'ok', ...index, prev: observed(reply.prevNode) };
  return { status: 'ok', ...index, ...(input.type === 'set' && node ? { prev: null } : {}) };
}

/** `name code: message` of an error, for the printout. */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code =
    (error as { code?: unknown; errorCode?: unknown }).errorCode ?? (error as { code?: unknown }).code;
  return `${error.name}${code === undefined ? '' : ` ${String(code)}`}: ${error.message.split('\n')[0]}`;
}
