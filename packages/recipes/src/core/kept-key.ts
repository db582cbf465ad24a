/**
 * The core's kept key: one key a {@link Session} keeps alive. Its refresh timer and local validity deadline, its
 * compare-and-swap writes (`modify`, `update`) and what a 101 after one of them means, its removal (a
 * compare-and-delete that never deletes someone else's key), and the loss watch that sees it deleted, expired or
 * changed by someone else at once.
 */
import { isKeyNotFound, isTestFailed, type Node, type Response } from '@etcdkit/client';
import { SessionLostError } from '../errors.js';
import { isListening, publishAtRisk, publishLost } from '../internal/channels.js';
import { markKeptHere, unmarkKeptHere } from './kept-here.js';
import { firstRefreshDelay, nextRefreshDelay } from './refresh-phase.js';
import { markRemovedHere } from './removed-here.js';
import { Pacer, pauseAfter, RetryPacing } from './retry.js';
import type { Session } from './session.js';
import { GONE_ACTIONS, sleep } from './wait.js';

/** A key as {@link Session.keep} takes it: its indexes and, best, its value. */
export interface KeptNode {
  readonly createdIndex: number;
  readonly modifiedIndex: number;
  /** The value the key holds at `modifiedIndex`. */
  readonly value?: string;
}

/** How many of its own recent indexes a key remembers, to tell its own writes from others' in watch events. */
const OWN_INDEXES = 16;

/**
 * One key kept alive by a {@link Session}: refreshed on a timer, and watched from its own index so that its
 * removal or a change by someone else is seen at once (see {@link SessionKey.signal}).
 */
export class SessionKey {
  readonly key: string;
  readonly #session: Session;
  readonly #controller = new AbortController();
  /** Aborted by {@link SessionKey.stop} (and on loss): ends the loss watch. */
  readonly #halted = new AbortController();
  /** Aborted by {@link SessionKey.halt}: a write still in flight is abandoned (a release never waits for it). */
  readonly #abandon = new AbortController();
  readonly #refreshMs: number;
  readonly #marginMs: number;
  readonly #onStop: () => void;
  readonly #createdIndex: number;
  #modifiedIndex: number;
  /** The key's recent indexes that its own writes made (refreshes, {@link SessionKey.modify}). */
  readonly #own: number[] = [];
  /**
   * The values the key may hold: the last one a reply confirmed, plus that of a {@link SessionKey.modify} in
   * flight. `undefined` when not known (then no ambiguous reply can be told to be ours).
   */
  #values: string[] | undefined;
  #removing: Promise<void> | undefined;
  #validUntil: number;
  #timer: NodeJS.Timeout | undefined;
  /** When the next refresh is due (`performance.now()`): its timer may fire later, in a busy process. */
  #dueAt = 0;
  /** Tells `atRisk` while the refresh in flight has no answer (see `#warnOverdue`). */
  #overdue: NodeJS.Timeout | undefined;
  #deadline: NodeJS.Timeout | undefined;
  #inFlight: Promise<void> = Promise.resolve();
  #stopped = false;
  #gone = false;

  /** @internal Use {@link Session.keep}. */
  static create(
    session: Session,
    key: string,
    indexes: KeptNode,
    sentAt: number,
    refreshMs: number,
    marginMs: number,
    onStop: () => void,
  ): SessionKey {
    return new SessionKey(session, key, indexes, sentAt, refreshMs, marginMs, onStop);
  }

  private constructor(
    session: Session,
    key: string,
    indexes: KeptNode,
    sentAt: number,
    refreshMs: number,
    marginMs: number,
    onStop: () => void,
  ) {
    this.#session = session;
    this.key = key;
    this.#createdIndex = indexes.createdIndex;
    this.#modifiedIndex = indexes.modifiedIndex;
    this.#own.push(indexes.modifiedIndex);
    this.#values = indexes.value === undefined ? undefined : [indexes.value];
    this.#refreshMs = refreshMs;
    this.#marginMs = marginMs;
    this.#onStop = onStop;
    this.#validUntil = sentAt + session.ttl * 1000 - marginMs;
    markKeptHere(key);
    this.#armDeadline();
    this.#schedule(firstRefreshDelay(refreshMs));
    void this.#watchLoss();
  }

  /**
   * Aborts (with a {@link SessionLostError}) as soon as the key can no longer be trusted: its validity
   * deadline passed, or it was deleted, expired or changed by someone else. Stopping the key does not abort it.
   */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** The key's current modifiedIndex (it changes with each refresh). */
  get modifiedIndex(): number {
    return this.#modifiedIndex;
  }

  /** The key's createdIndex. */
  get createdIndex(): number {
    return this.#createdIndex;
  }

  /**
   * The key's value as far as this process knows: the last one a reply confirmed, or that of a
   * {@link SessionKey.modify} in flight; `undefined` when it was kept without its value.
   */
  get value(): string | undefined {
    return this.#values?.at(-1);
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
    return !this.#controller.signal.aborted && performance.now() < this.#validUntil;
  }

  /** Stops refreshing and watching (waiting for a write in flight), without deleting the key. Idempotent. */
  async stop(): Promise<void> {
    this.halt();
    this.#halted.abort();
    await this.settled();
  }

  /**
   * Stops refreshing at once, without waiting for a write in flight (its result still updates
   * {@link SessionKey.modifiedIndex}: see {@link SessionKey.settled}); nothing the key's watch sees from now on
   * counts as a loss. The watch itself ends with the next event on the key (a release's delete: no request is
   * aborted on the release path) or at {@link SessionKey.stop}. Idempotent.
   */
  halt(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#abandon.abort();
    clearTimeout(this.#timer);
    clearTimeout(this.#deadline);
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
      const before = this.#values;
      for (let attempt = 1; ; attempt++) {
        // From now on the key may hold this write's value (an abandoned attempt may apply late).
        if (value === undefined) this.#values = undefined;
        else if (this.#values && !this.#values.includes(value)) this.#values = [...this.#values, value];
        try {
          this.#wrote(await write(this.#modifiedIndex, this.#abandon.signal));
          this.#values = value === undefined ? undefined : [value];
          return;
        } catch (error) {
          if (this.#stopped) throw error;
          if (isTestFailed(error) && value !== undefined && attempt < RetryPacing.ambiguousWriteAttempts) {
            const seen = await this.#recognise(this.#abandon.signal);
            if (this.#stopped) throw error;
            // this very write, applied late (unless the key held its value already: then write again)
            if (seen.state === 'ours' && seen.node.value === value && !before?.includes(value)) return;
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
   * failures are retried a few times, then the last one is thrown (the key expires by its TTL). An abort of
   * `signal` ends the attempts and rejects with its reason. Idempotent: later calls return the first call's
   * promise.
   */
  remove(options: { readonly signal?: AbortSignal } = {}): Promise<void> {
    this.#removing ??= (async () => {
      this.halt();
      try {
        await this.#deleteOwn(options.signal);
      } finally {
        // the loss watch has most likely ended with our delete's event already
        void this.stop();
      }
    })();
    return this.#removing;
  }

  async #deleteOwn(signal: AbortSignal | undefined): Promise<void> {
    let prevIndex = this.#modifiedIndex;
    let last: unknown;
    for (let attempt = 1; attempt <= RetryPacing.removeKey.attempts; attempt++) {
      try {
        const response = await this.#session.keys.delete(this.key, {
          prevIndex,
          retrySafe: true,
          ...(signal ? { signal } : {}),
        });
        const { keys } = this.#session;
        markRemovedHere(keys.client ?? keys, response.clusterId, this.key, this.#createdIndex);
        return;
      } catch (error) {
        if (signal?.aborted) throw signal.reason;
        if (isKeyNotFound(error)) return;
        last = error;
        if (isTestFailed(error)) {
          await this.settled(); // quick: a write in flight was abandoned by the halt
          if (this.#modifiedIndex !== prevIndex) {
            prevIndex = this.#modifiedIndex;
            continue;
          }
          const seen = await this.#recognise(signal);
          if (seen.state === 'gone' || seen.state === 'recreated') return;
          if ('node' in seen) prevIndex = seen.node.modifiedIndex;
          continue;
        }
        if (attempt < RetryPacing.removeKey.attempts)
          await sleep(pauseAfter(RetryPacing.removeKey, attempt), signal);
      }
    }
    throw last;
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
    if (!this.#stopped) publishLost(this.key, why, error);
    this.#controller.abort(error);
    this.halt();
    this.#halted.abort();
  }

  /** Our own write gave the key `index` (a late one may be older than the newest we know). */
  #wrote(index: number): void {
    if (index > this.#modifiedIndex) this.#modifiedIndex = index;
    this.#own.push(index);
    if (this.#own.length > OWN_INDEXES) this.#own.shift();
  }

  /** Whether `index` is one our own writes gave the key (waiting for our writes in flight to answer). */
  async #isOwn(index: number): Promise<boolean> {
    if (this.#own.includes(index)) return true;
    await this.settled();
    return this.#own.includes(index);
  }

  /**
   * The loss watch: one long-poll on the key from its own index. A delete or expiry, or a change that none of
   * our writes made, loses the key at once; our own writes (mark-held, touch, proclaim: refreshes make no
   * event) are passed over. Error 401 or a failed watch re-reads the key once (a quorum get) and watches on
   * past the read. Ends when the key is stopped or lost.
   */
  async #watchLoss(): Promise<void> {
    const stop = this.#halted.signal;
    const watcher = this.#session.keys.watcher(this.key, { afterIndex: this.#modifiedIndex, shared: true });
    try {
      const pacer = new Pacer(RetryPacing.lossRecheck); // after a failed re-read
      while (!stop.aborted && !this.#stopped) {
        let event: Response;
        try {
          event = await watcher.next({ signal: stop });
        } catch {
          if (stop.aborted) return;
          // index cleared (401), or no member could hold the watch: read the key once, watch on past the read
          if (!(await this.#recheck(watcher))) await sleep(pacer.next(), stop).catch(() => {});
          else pacer.reset();
          continue;
        }
        await this.#judge(event, watcher);
      }
    } finally {
      watcher.close();
    }
  }

  /** One event on the key: ours, or a loss. */
  async #judge(event: Response, watcher: { resync(options: { signal: AbortSignal }): Promise<Response> }) {
    const node = event.node;
    if (!node || this.#stopped) return;
    if (GONE_ACTIONS.has(event.action)) {
      if (this.#stopped) return;
      // Committed, so final; read once more for the server's own word (error 100) as the cause.
      let cause: unknown;
      try {
        const read = await watcher.resync({ signal: AbortSignal.timeout(this.#refreshMs) });
        if (read.node && read.node.createdIndex !== this.#createdIndex) {
          this.#lose(
            `the key was removed (${event.action}) and created again by someone else`,
            undefined,
            true,
          );
          return;
        }
      } catch (error) {
        cause = isKeyNotFound(error) ? error : undefined;
      }
      this.#lose(cause ? 'the key is gone' : `the key was removed (${event.action})`, cause, true);
      return;
    }
    await this.#judgeNode(node, `${event.action} at index ${node.modifiedIndex}`);
  }

  /**
   * The key as an event or a read shows it (`seen` says how, for the loss's message): created again by someone
   * else, or changed by a write none of ours made, loses it.
   */
  async #judgeNode(
    node: Pick<Node, 'createdIndex' | 'modifiedIndex' | 'value'>,
    seen: string,
  ): Promise<void> {
    if (node.createdIndex !== this.#createdIndex) {
      this.#lose('the key was created again by someone else', undefined, true);
      return;
    }
    if ((await this.#isOwn(node.modifiedIndex)) || this.#stopped) return;
    // A value only our writes give it: the late effect of an attempt abandoned on a slow member.
    if (this.#values?.includes(node.value)) this.#wrote(node.modifiedIndex);
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
    if (node.createdIndex !== this.#createdIndex) return { state: 'recreated' };
    if (!this.#values?.includes(node.value)) return { state: 'changed', node };
    this.#wrote(node.modifiedIndex);
    this.#values = [node.value];
    return { state: 'ours', node };
  }

  /** Re-reads the key after a failed watch; false when the read failed for a transient reason. */
  async #recheck(watcher: { resync(options: { signal: AbortSignal }): Promise<Response> }): Promise<boolean> {
    try {
      const read = await watcher.resync({
        signal: AbortSignal.any([this.#halted.signal, AbortSignal.timeout(this.#refreshMs)]),
      });
      const node = read.node;
      if (this.#stopped || !node) return true;
      await this.#judgeNode(node, `index ${node.modifiedIndex}`);
      return true;
    } catch (error) {
      if (this.#stopped) return true;
      if (isKeyNotFound(error)) {
        this.#lose('the key is gone', error, true);
        return true;
      }
      return false;
    }
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#dueAt = performance.now() + ms;
    this.#timer = setTimeout(() => {
      this.#inFlight = this.#inFlight.then(() => this.#refresh());
    }, ms);
    this.#timer.unref();
  }

  #armDeadline(): void {
    clearTimeout(this.#deadline);
    this.#deadline = setTimeout(
      () => this.lose('no successful refresh before its validity deadline'),
      Math.max(0, this.#validUntil - performance.now()),
    );
    this.#deadline.unref();
  }

  async #refresh(): Promise<void> {
    if (this.#stopped) return;
    const sentAt = performance.now();
    this.#warnOverdue(sentAt, this.#refreshMs);
    try {
      // No timeout of our own: an attempt stuck on a slow member is joined by another on the next member
      // (retrySafe: hedged by the client), and the validity deadline decides when the key is lost.
      const response = await this.#session.keys.set(this.key, '', {
        ttl: this.#session.ttl,
        refresh: true,
        prevExist: true,
        prevIndex: this.#modifiedIndex,
        retrySafe: true,
        signal: this.#abandon.signal,
      });
      // Even when stopped meanwhile: the key changed, and a release deletes it with this index.
      if (response.node) {
        this.#wrote(response.node.modifiedIndex);
        this.#values = [response.node.value]; // a refresh keeps the value; its reply says which it is
      }
      if (this.#stopped) return;
      this.#validUntil = sentAt + this.#session.ttl * 1000 - this.#marginMs;
      this.#armDeadline();
      // one interval after this refresh was due, not after its reply, nor when its timer fired: replies that
      // come in one batch and timers that fire together after a busy moment would otherwise put keys in step
      // for good (see `refresh-phase.ts`); and never later than an interval after the send (a timer set late
      // in a long turn of the event loop can fire before it is due)
      this.#schedule(
        nextRefreshDelay(Math.min(this.#dueAt, sentAt), this.#refreshMs, performance.now(), this.#validUntil),
      );
    } catch (error) {
      if (this.#stopped) return;
      if (isTestFailed(error)) {
        // Most often a late attempt of ours (of this refresh, or of one that failed) moved the index. The
        // validity is not pushed by it (when it applied is unknown): the next refresh, sent now, does that.
        const seen = await this.#recognise(this.#abandon.signal);
        if (this.#stopped) return;
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
      // At risk: try again soon; the deadline decides when it is lost.
      publishAtRisk(this.key, error, this.#validUntil);
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
      publishAtRisk(this.key, error, this.#validUntil, `a refresh has had no answer for ${waited} ms`);
      this.#warnOverdue(sentAt, Math.max(100, this.#refreshMs / 2));
    }, afterMs);
    this.#overdue.unref();
  }
}
