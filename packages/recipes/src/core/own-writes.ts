/**
 * What a kept key knows of its own writes, to tell them from everyone else's: its createdIndex, the newest
 * modifiedIndex its writes returned, the recent indexes they made, and the values it may hold. Pure
 * bookkeeping (no I/O): {@link SessionKey} asks it what an event or a read of the key means.
 */
import type { Node } from '@etcdkit/client';

/** A key as {@link Session.keep} takes it: its indexes and, best, its value. */
export interface KeptNode {
  readonly createdIndex: number;
  readonly modifiedIndex: number;
  /** The value the key holds at `modifiedIndex`. */
  readonly value?: string;
  /** The cluster id of the reply that made or found the key, if known. */
  readonly clusterId?: string;
}

/** How many of its own recent indexes a key remembers, to tell its own writes from others' in watch events. */
const OWN_INDEXES = 16;

/**
 * What a read or event shows of the key, against our writes: `recreated` (another createdIndex: removed and made
 * again by someone), `ours` (our createdIndex and a value only our writes give it), `changed` (our createdIndex,
 * another value).
 */
export type Ownership = 'recreated' | 'ours' | 'changed';

/** The own-write bookkeeping of one kept key. */
export class OwnWrites {
  readonly createdIndex: number;
  #modifiedIndex: number;
  /** The key's recent indexes that its own writes made, oldest first. */
  readonly #recent: number[] = [];
  /**
   * The values the key may hold: the last one a reply confirmed, plus that of a write in flight. `undefined`
   * when not known (then no ambiguous reply can be told to be ours).
   */
  #values: readonly string[] | undefined;

  constructor(node: KeptNode) {
    this.createdIndex = node.createdIndex;
    this.#modifiedIndex = node.modifiedIndex;
    this.#recent.push(node.modifiedIndex);
    this.#values = node.value === undefined ? undefined : [node.value];
  }

  /** The newest modifiedIndex our writes gave the key (a late reply never moves it back). */
  get modifiedIndex(): number {
    return this.#modifiedIndex;
  }

  /** The value the key holds as far as we know (the newest one it may hold), `undefined` when not known. */
  get value(): string | undefined {
    return this.#values?.at(-1);
  }

  /** The values the key may hold now (to compare with after a write), `undefined` when not known. */
  get values(): readonly string[] | undefined {
    return this.#values;
  }

  /** Our own write gave the key `index` (a late one may be older than the newest we know). */
  wrote(index: number): void {
    if (index > this.#modifiedIndex) this.#modifiedIndex = index;
    this.#recent.push(index);
    if (this.#recent.length > OWN_INDEXES) this.#recent.shift();
  }

  /** Whether one of our recent writes gave the key `index`. */
  made(index: number): boolean {
    return this.#recent.includes(index);
  }

  /** Whether the key may hold `value` by one of our writes. False when the values are not known. */
  mayHold(value: string | undefined): boolean {
    return value !== undefined && (this.#values?.includes(value) ?? false);
  }

  /**
   * A write that stores `value` is about to go out: from now on the key may hold it too (an abandoned attempt may
   * apply late). A write whose value is not told (`undefined`) makes the values unknown.
   */
  expect(value: string | undefined): void {
    if (value === undefined) this.#values = undefined;
    else if (this.#values && !this.#values.includes(value)) this.#values = [...this.#values, value];
  }

  /** A reply confirmed that the key holds `value` (`undefined`: not known). */
  confirm(value: string | undefined): void {
    this.#values = value === undefined ? undefined : [value];
  }

  /** The key as a read or event shows it, against our writes (see {@link Ownership}). */
  judge(node: Pick<Node, 'createdIndex' | 'value'>): Ownership {
    if (node.createdIndex !== this.createdIndex) return 'recreated';
    return this.mayHold(node.value) ? 'ours' : 'changed';
  }

  /** Takes `node` (ours, see {@link OwnWrites.judge}) as the key's state: its index as our write, its value. */
  adopt(node: Pick<Node, 'modifiedIndex' | 'value'>): void {
    this.wrote(node.modifiedIndex);
    this.confirm(node.value);
  }
}
