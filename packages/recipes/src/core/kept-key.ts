/**
 * The core's kept key: one key a {@link Session} keeps alive. Its refresh timer, its compare-and-swap writes
 * (`modify`, `update`) and what a 101 after one of them means, and its removal (a compare-and-delete that never
 * deletes someone else's key). Its parts live beside it: what its own writes were (`own-writes.ts`), its local
 * validity deadline (`validity.ts`), and the loss watch that sees it deleted, expired or changed by someone else
 * at once (`loss-watch.ts`).
 */
import { isClientClosed, isKeyNotFound, isTestFailed, type Node } from '@etcdkit/client';
import { ReleasedError, SessionLostError } from '../errors.js';
import { isListening, publishAtRisk, publishLost } from '../internal/channels.js';
import { markKeptHere, unmarkKeptHere } from './kept-here.js';
import { watchForLoss } from './loss-watch.js';
import { type KeptNode, OwnWrites } from './own-writes.js';
import { firstRefresh, nextRefresh, type RefreshTime } from './refresh-phase.js';
import { markRemovedHere } from './removed-here.js';
import { isPermanent, RetryPacing, retrying } from './retry.js';
import type { Session } from './session.js';
import { ValidityDeadline } from './validity.js';

/** How long after a removal the loss watch may wait for the removal's own event before it is ended. */
const LOSS_WATCH_GRACE_MS = 1000;

/** Why a key is lost when no refresh applied in time. */
const DEADLINE_PASSED = 'no successful refresh before its validity deadline';

/**
 * The reason a halted key's abandoned write rejects with (nobody sees it: a halted key's writes are not
 * reported). Made once: an error's stack costs tens of microseconds, on the release path.
 */
const HALTED = new DOMException('the kept key was halted: its write is abandoned', 'AbortError');

/** How a {@link Session} times its keys. */
export interface KeptKeyTiming {
  /** The refresh interval, in ms. */
  readonly refreshMs: number;
  /** How long before the TTL runs out (counted from a refresh's send) the key stops being trusted, in ms. */
  readonly marginMs: number;
}

/**
 * One key kept alive by a {@link Session}: refreshed on a timer, and watched from its own index so that its
 * removal or a change by someone else is seen at once (see {@link SessionKey.signal}).
 */
export class SessionKey implements AsyncDisposable {
  readonly key: string;
  readonly #session: Session;
  readonly #controller = new AbortController();
  /** Aborted by {@link SessionKey.stop} (and on loss): ends the loss watch. */
  readonly #ended = new AbortController();
  /** Aborted by {@link SessionKey.halt}: a write still in flight is abandoned (a release never waits for it). */
  readonly #abandon = new AbortController();
  readonly #refreshMs: number;
  readonly #onStop: () => void;
  readonly #own: OwnWrites;
  /** The cluster id of the last reply that made or wrote the key ('' when unknown), for {@link markRemovedHere}. */
  #clusterId = '';
  readonly #validity: ValidityDeadline;
  #removing: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  /**
   * When the next refresh is due (`performance.now()`, not rounded): it goes out on the slot at or before it,
   * or later in a busy process.
   */
  #dueAt = 0;
  /** Tells `atRisk` while the refresh in flight has no answer (see `#warnOverdue`). */
  #overdue: NodeJS.Timeout | undefined;
  #inFlight: Promise<void> = Promise.resolve();
  /** Set by {@link SessionKey.halt}: no more refreshes, and nothing seen from now on is a loss. */
  #halted = false;
  #gone = false;

  /** @internal Use {@link Session.keep}. */
  static create(
    session: Session,
    key: string,
    node: KeptNode,
    sentAt: number,
    timing: KeptKeyTiming,
    onStop: () => void,
  ): SessionKey {
    return new SessionKey(session, key, node, sentAt, timing, onStop);
  }

  private constructor(
    session: Session,
    key: string,
    node: KeptNode,
    sentAt: number,
    timing: KeptKeyTiming,
    onStop: () => void,
  ) {
    this.#session = session;
    this.key = key;
    this.#own = new OwnWrites(node);
    this.#clusterId = node.clusterId ?? '';
    this.#refreshMs = timing.refreshMs;
    this.#onStop = onStop;
    this.#validity = new ValidityDeadline(session.ttl * 1000 - timing.marginMs, sentAt, () =>
      this.lose(DEADLINE_PASSED),
    );
    markKeptHere(key);
    this.#schedule(firstRefresh(timing.refreshMs));
    void this.#watchForLoss();
  }

  /**
   * Aborts (with a {@link SessionLostError}) as soon as the key can no longer be trusted: its validity
   * deadline passed, or it was deleted, expired or changed by someone else; with a `ReleasedError` (`closed`)
   * when {@link SessionKey.stop} stops it while it is still kept. Removing it ({@link SessionKey.remove}) does
   * not abort it.
   */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** The key's current modifiedIndex (it changes with each refresh). */
  get modifiedIndex(): number {
    return this.#own.modifiedIndex;
  }

  /** The key's createdIndex. */
  get createdIndex(): number {
    return this.#own.createdIndex;
  }

  /**
   * The key's value as far as this process knows: the last one a reply confirmed, or that of a
   * {@link SessionKey.modify} in flight; `undefined` when it was kept without its value.
   */
  get value(): string | undefined {
    return this.#own.value;
  }

  /**
   * True once the key is known to be gone from etcd or replaced (deleted, expired, created again by someone
   * else), not merely unreachable; the {@link SessionKey.signal} has aborted then.
   */
  get gone(): boolean {
    return this.#gone;
  }

  /** True while the key is within its local validity deadline and not lost. */
  get valid(): boolean {
    return !this.#controller.signal.aborted && !this.#validity.passed;
  }

  /**
   * Stops refreshing and watching (waiting for a write in flight), without deleting the key. Idempotent. A key
   * still kept (not removed nor lost) aborts its {@link SessionKey.signal} with a `ReleasedError` (`closed`):
   * from now on nothing keeps it alive, so nobody may rely on it.
   */
  async stop(): Promise<void> {
    if (!this.#halted) this.#controller.abort(new ReleasedError(this.key, 'closed'));
    this.halt();
    this.#ended.abort();
    await this.settled();
  }

  /** The same as {@link SessionKey.stop}: the key is no longer kept (it expires by TTL), not deleted. */
  close(): Promise<void> {
    return this.stop();
  }

  /** {@link SessionKey.stop}, for `await using`: the key is no longer kept (it expires by TTL), not deleted. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  /**
   * Stops refreshing at once, without waiting for a write in flight (its result still updates
   * {@link SessionKey.modifiedIndex}: see {@link SessionKey.settled}); nothing the key's watch sees from now on
   * counts as a loss. The watch itself ends with the next event on the key (a release's delete: no request is
   * aborted on the release path) or at {@link SessionKey.stop}. Idempotent.
   */
  halt(): void {
    if (this.#halted) return;
    this.#halted = true;
    this.#abandon.abort(HALTED);
    clearTimeout(this.#timer);
    this.#validity.clear();
    unmarkKeptHere(this.key);
    this.#onStop();
  }

  /** Resolves once no write of this key (refresh, {@link SessionKey.modify}) is in flight. */
  async settled(): Promise<void> {
    for (let last: Promise<void> | undefined; last !== this.#inFlight; ) {
      last = this.#inFlight;
      await last;
    }
  }

  /**
   * Changes the key while no refresh is in flight: `write` gets the current modifiedIndex (to use as
   * `prevIndex`) and a signal that aborts when the key is halted (pass it on: a release must not wait for the
   * write), and returns the new modifiedIndex, which later refreshes then use. Send the write `retrySafe`: it
   * is a compare-and-swap. `options.value` is the value the write stores: a 101 (the index moved) is then
   * judged by a quorum read; when the key still has its createdIndex and holds this value, a late attempt of
   * this very write applied and the write is done; when it holds the value it had, a late refresh of ours moved
   * the index and the write is sent again. Any other 100 or 101 loses the key (unless it was halted meanwhile:
   * a release that raced the write is no loss), and is thrown.
   */
  modify(
    write: (modifiedIndex: number, signal: AbortSignal) => Promise<number>,
    options: { readonly value?: string } = {},
  ): Promise<void> {
    const run = this.#inFlight.then(async () => {
      if (this.#controller.signal.aborted) throw this.#controller.signal.reason;
      const { value } = options;
      const heldBefore = this.#own.mayHold(value);
      for (let attempt = 1; ; attempt++) {
        this.#own.expect(value); // from now on the key may hold it (an abandoned attempt may apply late)
        try {
          this.#own.wrote(await write(this.#own.modifiedIndex, this.#abandon.signal));
          this.#own.confirm(value);
          return;
        } catch (error) {
          if (this.#halted) throw error;
          if (isTestFailed(error) && value !== undefined && attempt < RetryPacing.ambiguousWriteAttempts) {
            const seen = await this.#recognise(this.#abandon.signal);
            if (this.#halted) throw error;
            // this very write, applied late (unless the key held its value already: then write again)
            if (seen.state === 'ours' && seen.node.value === value && !heldBefore) return;
            if (seen.state === 'ours') continue; // a late refresh of ours moved the index
            if (seen.state !== 'unknown') this.#loseAsSeen(seen.state, error);
            throw error; // unknown: cannot tell, the refreshes and the deadline decide
          }
          if (isKeyNotFound(error) || isTestFailed(error))
            this.#lose('the key was deleted or changed by someone else', error, isKeyNotFound(error));
          throw error;
        }
      }
    });
    this.#inFlight = run.catch(() => {});
    return run;
  }

  /**
   * Sets the key's value (a compare-and-swap on its modifiedIndex with the session's TTL, sent `retrySafe`),
   * after any write of the key in flight: watchers of the key see a `compareAndSwap`. See
   * {@link SessionKey.modify} for what a 100 or 101 means.
   */
  update(value: string): Promise<void> {
    return this.modify(
      async (prevIndex, signal) => {
        const response = await this.#session.keys.set(this.key, value, {
          prevIndex,
          ttl: this.#session.ttl,
          retrySafe: true,
          signal,
        });
        this.#clusterId = response.clusterId;
        return response.node!.modifiedIndex;
      },
      { value },
    );
  }

  /**
   * Stops keeping the key and deletes it, at once: a compare-and-delete on its modifiedIndex sent `retrySafe`
   * (a slow or frozen member cannot hold it up), so that it can never delete someone else's key. It goes out
   * while a write of the key may still be in flight (that write is abandoned): when a late write of ours
   * moved the index first (101), the key is read again and deleted only if it still has our createdIndex. A
   * 100 means it is gone already (expired, or deleted by an earlier attempt of this delete). Transient
   * failures are retried a few times, then the last one is thrown (the key expires by its TTL); another etcd
   * error or a closed client is thrown at once. An abort of `signal` ends the attempts and rejects with its
   * reason. Idempotent: later calls return the first call's promise.
   */
  remove(options: { readonly signal?: AbortSignal } = {}): Promise<void> {
    this.#removing ??= (async () => {
      this.halt();
      try {
        await this.#deleteOwn(options.signal);
      } catch (error) {
        void this.stop();
        throw error;
      }
      // The loss watch ends with our delete's event, which comes right after the reply: aborting its long-poll
      // now would cost the connection (and delay the event to the waiter behind on the same client).
      setTimeout(() => void this.stop(), LOSS_WATCH_GRACE_MS).unref();
    })();
    return this.#removing;
  }

  /** Records that this process removed the key (see `removed-here.ts`), in the cluster `clusterId`. */
  #markRemoved(clusterId: string): void {
    const { keys } = this.#session;
    markRemovedHere(keys.client ?? keys, clusterId, this.key, this.#own.createdIndex);
  }

  async #deleteOwn(signal: AbortSignal | undefined): Promise<void> {
    let prevIndex = this.#own.modifiedIndex;
    // a 101 that taught a newer index is sent again at once, a bounded number of times
    let indexFixes = 0;
    const fixedIndex = (error: unknown) =>
      isTestFailed(error) && ++indexFixes < RetryPacing.removeKey.attempts;
    await retrying(
      async () => {
        try {
          const response = await this.#session.keys.delete(this.key, {
            prevIndex,
            retrySafe: true,
            // to two members at once: a member frozen just before the release holds up no next holder
            fanOut: 2,
            ...(signal ? { signal } : {}),
          });
          this.#markRemoved(response.clusterId);
        } catch (error) {
          if (signal?.aborted) throw signal.reason;
          if (isKeyNotFound(error)) {
            // gone for good either way (expired, or deleted by an earlier attempt or the other copy of this
            // delete, whose 100 often comes first): the same as a confirmed delete of ours
            this.#markRemoved(this.#clusterId);
            return;
          }
          if (!isTestFailed(error)) throw error;
          await this.settled(); // quick: a write in flight was abandoned by the halt
          if (this.#own.modifiedIndex !== prevIndex) {
            prevIndex = this.#own.modifiedIndex;
            throw error;
          }
          const seen = await this.#recognise(signal);
          if (seen.state === 'gone' || seen.state === 'recreated') return;
          if ('node' in seen) prevIndex = seen.node.modifiedIndex;
          throw error;
        }
      },
      RetryPacing.removeKey,
      // etcd's own refusal, or a closed client, ends it: no retry changes that (a 101 taught a newer index)
      { signal, retryable: (error) => isTestFailed(error) || !isPermanent(error), atOnce: fixedIndex },
    );
  }

  /**
   * Marks the key lost now (e.g. a watcher saw it deleted). Published as `lost` unless the key was stopped
   * first (released, resigned, closed: its removal is no loss).
   */
  lose(why: string, cause?: unknown): void {
    this.#lose(why, cause, false);
  }

  #lose(why: string, cause: unknown, gone: boolean): void {
    if (this.#controller.signal.aborted) return;
    if (gone) this.#gone = true;
    const error = new SessionLostError(this.key, why, cause === undefined ? undefined : { cause });
    if (!this.#halted) publishLost(this.key, why, error);
    this.#controller.abort(error);
    this.halt();
    this.#ended.abort();
  }

  /** Whether `index` is one our own writes gave the key (waiting for our writes in flight to answer). */
  async #isOwn(index: number): Promise<boolean> {
    if (this.#own.made(index)) return true;
    await this.settled();
    return this.#own.made(index);
  }

  /**
   * The loss watch (`loss-watch.ts`): a delete or expiry, or a change that none of our writes made, loses the
   * key at once; our own writes (mark-held, touch, proclaim: refreshes make no event) are passed over. Ends
   * when the key is stopped or lost.
   */
  #watchForLoss(): Promise<void> {
    const kept = this;
    return watchForLoss({
      keys: this.#session.keys,
      key: this.key,
      createdIndex: this.#own.createdIndex,
      afterIndex: this.#own.modifiedIndex,
      end: this.#ended.signal,
      get halted() {
        return kept.#halted;
      },
      readTimeoutMs: this.#refreshMs,
      seen: (node, how) => this.#judgeNode(node, how),
      gone: (why, cause) => this.#lose(why, cause, true),
    });
  }

  /**
   * The key as an event or a read shows it (`seen` says how, for the loss's message): created again by someone
   * else, or changed by a write none of ours made, loses it.
   */
  async #judgeNode(
    node: Pick<Node, 'createdIndex' | 'modifiedIndex' | 'value'>,
    seen: string,
  ): Promise<void> {
    if (node.createdIndex !== this.#own.createdIndex) {
      this.#lose('the key was created again by someone else', undefined, true);
      return;
    }
    if ((await this.#isOwn(node.modifiedIndex)) || this.#halted) return;
    // A value only our writes give it: the late effect of an attempt abandoned on a slow member.
    if (this.#own.mayHold(node.value)) this.#own.wrote(node.modifiedIndex);
    else this.lose(`the key was changed by someone else (${seen})`);
  }

  /** Loses the key as a {@link #recognise} read after `error` (a 101) found it: gone, or someone else's. */
  #loseAsSeen(state: 'gone' | 'recreated' | 'changed', error: unknown): void {
    const gone = state !== 'changed';
    this.#lose(gone ? 'the key is gone' : 'the key was changed by someone else', error, gone);
  }

  /**
   * Reads the key (a quorum read, `retrySafe`) after a reply that left it in doubt, and adopts its
   * modifiedIndex when it is still ours: the same createdIndex and one of the values our writes may have
   * given it. A 101 after a repeated attempt is most often the late effect of the first one. The read ends
   * with `signal` (for a write of the key: its halt; for the release's delete: the caller's) or after a
   * refresh interval.
   */
  async #recognise(
    signal: AbortSignal | undefined,
  ): Promise<
    | { readonly state: 'ours' | 'changed'; readonly node: Node }
    | { readonly state: 'gone' | 'recreated' | 'unknown' }
  > {
    let node: Node | undefined;
    try {
      const timeout = AbortSignal.timeout(this.#refreshMs);
      const read = await this.#session.keys.get(this.key, {
        quorum: true,
        retrySafe: true,
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
      node = read.node;
    } catch (error) {
      return { state: isKeyNotFound(error) ? 'gone' : 'unknown' };
    }
    if (!node) return { state: 'unknown' };
    const state = this.#own.judge(node);
    if (state === 'recreated') return { state };
    if (state === 'ours') this.#own.adopt(node);
    return { state, node };
  }

  /** Sets the next refresh's timer: `ms` from now, or as {@link RefreshTime} says (due then, sent on its slot). */
  #schedule(when: number | RefreshTime): void {
    if (this.#halted) return;
    const { dueAt, delayMs } =
      typeof when === 'number' ? { dueAt: performance.now() + when, delayMs: when } : when;
    this.#dueAt = dueAt;
    this.#timer = setTimeout(() => {
      this.#inFlight = this.#inFlight.then(() => this.#refresh());
    }, delayMs);
    this.#timer.unref();
  }

  async #refresh(): Promise<void> {
    if (this.#halted) return;
    const sentAt = performance.now();
    this.#warnOverdue(sentAt, this.#refreshMs);
    try {
      // No timeout of our own: an attempt stuck on a slow member is joined by another on the next member
      // (retrySafe: hedged by the client), and the validity deadline decides when the key is lost.
      const response = await this.#session.keys.set(this.key, '', {
        ttl: this.#session.ttl,
        refresh: true,
        prevExist: true,
        prevIndex: this.#own.modifiedIndex,
        retrySafe: true,
        signal: this.#abandon.signal,
      });
      // Even when halted meanwhile: the key changed, and a release deletes it with this index.
      // (A refresh keeps the value; its reply says which it is.)
      if (response.node) this.#own.adopt(response.node);
      this.#clusterId = response.clusterId;
      if (this.#halted) return;
      // A deadline passed before this reply came stays passed (its timer may just not have run yet): a key
      // once found invalid (`valid`) never becomes valid again.
      if (this.#validity.passed) {
        this.lose(DEADLINE_PASSED);
        return;
      }
      this.#validity.push(sentAt);
      // one interval after this refresh was due, not after its reply, nor when its timer fired: replies that
      // come in one batch and timers that fire together after a busy moment would otherwise put keys in step
      // for good (see `refresh-phase.ts`); and never later than an interval and a slot after the send (a
      // timer set late in a long turn of the event loop can fire before it is due)
      this.#schedule(
        nextRefresh(this.#dueAt, sentAt, this.#refreshMs, performance.now(), this.#validity.until),
      );
    } catch (error) {
      if (this.#halted) return;
      if (isTestFailed(error)) {
        // Most often a late attempt of ours (of this refresh, or of one that failed) moved the index. The
        // validity is not pushed by it (when it applied is unknown): the next refresh, sent now, does that.
        const seen = await this.#recognise(this.#abandon.signal);
        if (this.#halted) return;
        if (seen.state === 'ours') {
          this.#schedule(0);
          return;
        }
        if (seen.state !== 'unknown') {
          this.#loseAsSeen(seen.state, error);
          return;
        }
      } else if (isKeyNotFound(error)) {
        this.#lose('the key is gone', error, true);
        return;
      }
      // At risk: try again soon; the deadline decides when it is lost. A closed client can never refresh
      // again: no more attempts, and the deadline alone decides.
      publishAtRisk(this.key, error, this.#validity.until);
      if (isClientClosed(error)) return;
      this.#schedule(Math.min(RetryPacing.refreshRetryMaxMs, this.#refreshMs / 2));
    } finally {
      clearTimeout(this.#overdue);
    }
  }

  /**
   * While a refresh sent at `sentAt` has no answer, tells `atRisk` after `afterMs` (a refresh interval, the
   * first time) and again every half interval (only while anyone listens): the refresh fails over by itself
   * and may take that long, and the key comes nearer its deadline meanwhile. The refresh clears the timer.
   */
  #warnOverdue(sentAt: number, afterMs: number): void {
    if (!isListening('atRisk')) return;
    this.#overdue = setTimeout(() => {
      const waited = Math.round(performance.now() - sentAt);
      const error = new DOMException(`no answer to a refresh for ${waited} ms`, 'TimeoutError');
      publishAtRisk(this.key, error, this.#validity.until, `a refresh has had no answer for ${waited} ms`);
      this.#warnOverdue(sentAt, Math.max(100, this.#refreshMs / 2));
    }, afterMs);
    this.#overdue.unref();
  }
}
