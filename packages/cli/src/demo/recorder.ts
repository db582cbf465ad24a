import {
  checkFencedWrites,
  checkNoOverlap,
  checkRisingTokens,
  History,
  now,
  type Violation,
} from '@etcdkit/testkit';
import type { WorkerEvent } from './protocol.js';

type Listener = () => void;

/**
 * Everything the demo saw, as a history testkit's checkers read: lock holds, fenced writes, election terms;
 * plus what the observers saw (leaders, registry changes), and waits on any of it.
 */
export class Recorder {
  readonly history = new History();
  /** Lock holds in progress, by worker. */
  readonly holding = new Map<string, { token: number; start: number }>();
  /** Election terms in progress, by worker. */
  readonly leading = new Map<string, { token: number; start: number }>();
  acquisitions = 0;
  staleWritesRefused = 0;
  /** Handoff gaps (ms): from one holder's release to the next holder's acquisition. */
  readonly handoffs: number[] = [];
  lastAcquired: { worker: string; token: number; at: number } | undefined;
  /** The holder asked to keep the lock until it is killed. */
  holdingForever: { worker: string; token: number; at: number } | undefined;
  observedLeader: { value: string; at: number } | undefined;
  readonly services = new Map<string, number>();
  readonly errors: string[] = [];
  #lastRelease: { worker: string; end: number } | undefined;
  readonly #listeners = new Set<Listener>();

  /** Takes one worker event. */
  take(event: WorkerEvent): void {
    switch (event.type) {
      case 'acquired':
        this.acquisitions++;
        this.holding.set(event.worker, { token: event.token, start: event.at });
        if (this.#lastRelease && this.#lastRelease.worker !== event.worker)
          this.handoffs.push(event.at - this.#lastRelease.end);
        this.lastAcquired = { worker: event.worker, token: event.token, at: event.at };
        break;
      case 'released':
        this.holding.delete(event.worker);
        this.history.record({
          process: event.worker,
          kind: 'hold',
          start: event.start,
          end: event.end,
          ok: true,
          token: event.token,
          detail: `${event.lost ? 'lost' : 'released'}; its process stalled up to ${event.maxStallMs.toFixed(0)} ms`,
        });
        this.#lastRelease = { worker: event.worker, end: event.end };
        break;
      case 'write':
        if (event.stale) this.staleWritesRefused++;
        this.history.record({
          process: event.worker,
          kind: 'write',
          start: event.start,
          end: event.end,
          ok: event.ok,
          token: event.token,
        });
        break;
      case 'elected':
        this.leading.set(event.worker, { token: event.token, start: event.at });
        break;
      case 'deposed':
        this.#endTerm(event.worker, event.at);
        break;
      case 'holding-forever':
        this.holdingForever = { worker: event.worker, token: event.token, at: event.at };
        break;
      case 'error':
        this.errors.push(`${event.worker}: ${event.message}`);
        break;
      default:
        break;
    }
    this.#notify();
  }

  /** A worker was SIGKILLed at `at`: whatever it held ends there (it can do nothing after). */
  killed(worker: string, at: number): void {
    const hold = this.holding.get(worker);
    if (hold) {
      this.history.record({
        process: worker,
        kind: 'hold',
        start: hold.start,
        end: at,
        ok: true,
        token: hold.token,
      });
      this.holding.delete(worker);
      this.#lastRelease = { worker, end: at };
    }
    this.#endTerm(worker, at);
  }

  /** The election observer saw `value` lead (or nobody). */
  leaderSeen(value: string | undefined): void {
    this.observedLeader = value ? { value, at: now() } : undefined;
    this.#notify();
  }

  /** The registry observer saw an instance come or go. */
  serviceSeen(id: string, present: boolean): void {
    if (present) this.services.set(id, now());
    else this.services.delete(id);
    this.#notify();
  }

  /** Resolves when `predicate` holds (checked on every change), or rejects after `timeoutMs`. */
  until(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#listeners.delete(check);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const check = (): void => {
        if (!predicate()) return;
        clearTimeout(timer);
        this.#listeners.delete(check);
        resolve();
      };
      this.#listeners.add(check);
    });
  }

  /** Ends the open holds and terms (at the end of the demo) and runs the checkers. */
  violations(): Violation[] {
    const end = now();
    for (const [worker, hold] of this.holding)
      this.history.record({
        process: worker,
        kind: 'hold',
        start: hold.start,
        end,
        ok: true,
        token: hold.token,
      });
    for (const worker of [...this.leading.keys()]) this.#endTerm(worker, end);
    const holds = this.history.ofKind('hold');
    const terms = this.history.ofKind('term');
    return [
      ...checkNoOverlap(holds),
      ...checkRisingTokens(holds),
      ...checkFencedWrites(this.history.operations.filter((op) => op.kind === 'write')),
      ...checkNoOverlap(terms),
      ...checkRisingTokens(terms),
    ];
  }

  #endTerm(worker: string, at: number): void {
    const term = this.leading.get(worker);
    if (!term) return;
    this.leading.delete(worker);
    this.history.record({
      process: worker,
      kind: 'term',
      start: term.start,
      end: at,
      ok: true,
      token: term.token,
    });
  }

  #notify(): void {
    for (const listener of [...this.#listeners]) listener();
  }
}
