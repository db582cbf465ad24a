/**
 * Metrics from the client's and the recipes' diagnostics channels, for `etcdkit demo --metrics-file`: a
 * collector subscribes in one process and aggregates into a JSON-ready snapshot; snapshots of many processes
 * merge into one (counters add, histograms add bucket by bucket).
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import {
  ClientChannels,
  type FailoverMessage,
  type MemberHealthMessage,
  type RequestEndMessage,
  type RequestErrorMessage,
} from '@etcdkit/client';
import {
  type AcquiredMessage,
  type HandoffMessage,
  type LostMessage,
  RecipeChannels,
  type ReleasedMessage,
} from '@etcdkit/recipes';

/** Buckets per doubling: a bucket's upper bound is 2^(1/4) (19 %) above its lower one. */
const STEPS_PER_OCTAVE = 4;
/** The first bucket holds everything up to 2^-2 ms (0.25 ms). */
const MIN_STEP = -2 * STEPS_PER_OCTAVE;
/** The last bucket ends at 2^20 ms (about 17 min); longer values are counted there too (`maxMs` is exact). */
const MAX_STEP = 20 * STEPS_PER_OCTAVE;

/** Upper bound of bucket `step`, in ms (rounded to 4 significant digits, as it appears in JSON). */
function boundOf(step: number): number {
  return Number((2 ** (step / STEPS_PER_OCTAVE)).toPrecision(4));
}

/** A histogram of durations as it appears in a snapshot: only its non-empty buckets, each by upper bound. */
export interface HistogramSnapshot {
  readonly count: number;
  readonly sumMs: number;
  /** 0 while empty. */
  readonly minMs: number;
  readonly maxMs: number;
  /** Estimates from the buckets (within a bucket's 19 %), clamped to [minMs, maxMs]; 0 while empty. */
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  /** Non-empty buckets, rising: `count` values in (previous bound, `leMs`]. The bounds are fixed: 2^(k/4) ms. */
  readonly buckets: readonly { readonly leMs: number; readonly count: number }[];
}

/** A duration histogram with fixed logarithmic buckets, so that histograms of different processes merge. */
export class Histogram {
  /** Counts by step (see {@link boundOf}). */
  readonly #counts = new Map<number, number>();
  #count = 0;
  #sum = 0;
  #min = Number.POSITIVE_INFINITY;
  #max = 0;

  /** Records one duration in ms (negative or non-finite values are ignored). */
  record(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    const raw = ms > 0 ? Math.ceil(Math.log2(ms) * STEPS_PER_OCTAVE - 1e-9) : MIN_STEP;
    const step = Math.min(MAX_STEP, Math.max(MIN_STEP, raw));
    this.#counts.set(step, (this.#counts.get(step) ?? 0) + 1);
    this.#count++;
    this.#sum += ms;
    this.#min = Math.min(this.#min, ms);
    this.#max = Math.max(this.#max, ms);
  }

  /** Adds a snapshot's counts (of this process or another). */
  add(snapshot: HistogramSnapshot): void {
    if (snapshot.count === 0) return;
    for (const { leMs, count } of snapshot.buckets) {
      const step = Math.round(Math.log2(leMs) * STEPS_PER_OCTAVE);
      this.#counts.set(step, (this.#counts.get(step) ?? 0) + count);
    }
    this.#count += snapshot.count;
    this.#sum += snapshot.sumMs;
    this.#min = Math.min(this.#min, snapshot.minMs);
    this.#max = Math.max(this.#max, snapshot.maxMs);
  }

  /** The value below which `p` (0..1) of the durations fall, estimated from the buckets. */
  quantile(p: number): number {
    if (this.#count === 0) return 0;
    const rank = p * this.#count;
    let seen = 0;
    for (const step of [...this.#counts.keys()].sort((a, b) => a - b)) {
      const count = this.#counts.get(step)!;
      if (seen + count >= rank) {
        // linear within the bucket, between its bounds
        const low = step === MIN_STEP ? 0 : boundOf(step - 1);
        const high = boundOf(step);
        const estimate = low + ((rank - seen) / count) * (high - low);
        return Math.min(this.#max, Math.max(this.#min, estimate));
      }
      seen += count;
    }
    return this.#max;
  }

  toJSON(): HistogramSnapshot {
    const round = (ms: number): number => Math.round(ms * 1000) / 1000;
    return {
      count: this.#count,
      sumMs: round(this.#sum),
      minMs: this.#count ? round(this.#min) : 0,
      maxMs: round(this.#max),
      p50Ms: round(this.quantile(0.5)),
      p90Ms: round(this.quantile(0.9)),
      p99Ms: round(this.quantile(0.99)),
      buckets: [...this.#counts.entries()]
        .sort(([a], [b]) => a - b)
        .map(([step, count]) => ({ leMs: boundOf(step), count })),
    };
  }
}

/** Counts by name. */
export type Counts = Record<string, number>;

/** What one process (or, merged, several) saw: every field a count unless its name ends in a unit. */
export interface MetricsSnapshot {
  readonly requests: {
    /** HTTP requests (each redirect hop is one) that got a reply or failed. */
    readonly total: number;
    /** By the call's operation (`get`, `set`, `watch`, ...), then by `2xx`, `3xx`, `4xx`, `5xx` or `error`. */
    readonly byOperation: Readonly<Record<string, Counts>>;
    /** Request durations, start to whole reply or failure; watch waits (which last until an event) excluded. */
    readonly durationMs: HistogramSnapshot;
  };
  readonly failovers: {
    readonly total: number;
    /** `retry` (the call went on at another member) and `pin` (a one-shot call failed; next calls move). */
    readonly byKind: Counts;
  };
  readonly members: {
    /** Times a member became suspect. */
    readonly suspect: number;
    /** Times a suspect member answered again. */
    readonly healthy: number;
  };
  readonly watch: {
    readonly events: number;
    /** Waits moved to another member. */
    readonly moves: number;
    /** Re-reads after error 401. */
    readonly resyncs: number;
  };
  readonly locks: {
    /** Keys queued (locks, read/write locks, semaphores, election candidates). */
    readonly enqueued: number;
    readonly acquired: number;
    readonly released: number;
    /** Acquisitions by recipe (`lock`, `rwlock`, `semaphore`, `election`, ...). */
    readonly acquiredByRecipe: Counts;
    /** From the call to acquire (or campaign) to held. */
    readonly waitMs: HistogramSnapshot;
    /** From held to released by the holder. */
    readonly holdMs: HistogramSnapshot;
    /** Waiters that became holders because the holder ahead went away. */
    readonly handoffs: number;
    /** From seeing the previous holder go to held. */
    readonly handoffMs: HistogramSnapshot;
  };
  readonly sessions: {
    /** Failed refreshes of a still valid key. */
    readonly atRisk: number;
    /** Kept keys lost (held locks, terms, registrations, waiters). */
    readonly lost: number;
    readonly lostByReason: Counts;
  };
  readonly elections: {
    /** Leader changes seen (by campaigns and observers of this process). */
    readonly leaderChanges: number;
  };
  readonly registry: {
    readonly added: number;
    readonly removed: number;
    readonly expired: number;
  };
}

/** Distinct keys kept in a by-name count before the rest go to `other` (the names are fixed words, but still). */
const MAX_NAMES = 50;

function bump(counts: Counts, name: string, by = 1): void {
  const key = Object.hasOwn(counts, name) || Object.keys(counts).length < MAX_NAMES ? name : 'other';
  counts[key] = (counts[key] ?? 0) + by;
}

/** The counts under `name`, made on first use. */
function countsOf(table: Record<string, Counts>, name: string): Counts {
  let counts = table[name];
  if (!counts) {
    counts = {};
    table[name] = counts;
  }
  return counts;
}

function statusClass(status: number): string {
  return status >= 200 && status < 600 ? `${Math.floor(status / 100)}xx` : String(status);
}

/** The mutable form of a snapshot, histograms included. */
class Aggregate {
  requests = 0;
  readonly byOperation: Record<string, Counts> = {};
  readonly requestMs = new Histogram();
  failovers = 0;
  readonly failoversByKind: Counts = {};
  suspect = 0;
  healthy = 0;
  watchEvents = 0;
  watchMoves = 0;
  watchResyncs = 0;
  enqueued = 0;
  acquired = 0;
  released = 0;
  readonly acquiredByRecipe: Counts = {};
  readonly waitMs = new Histogram();
  readonly holdMs = new Histogram();
  handoffs = 0;
  readonly handoffMs = new Histogram();
  atRisk = 0;
  lost = 0;
  readonly lostByReason: Counts = {};
  leaderChanges = 0;
  added = 0;
  removed = 0;
  expired = 0;

  request(operation: string, outcome: string): void {
    this.requests++;
    bump(countsOf(this.byOperation, operation), outcome);
  }

  add(s: MetricsSnapshot): void {
    this.requests += s.requests.total;
    for (const [operation, counts] of Object.entries(s.requests.byOperation))
      for (const [outcome, n] of Object.entries(counts))
        bump(countsOf(this.byOperation, operation), outcome, n);
    this.requestMs.add(s.requests.durationMs);
    this.failovers += s.failovers.total;
    for (const [kind, n] of Object.entries(s.failovers.byKind)) bump(this.failoversByKind, kind, n);
    this.suspect += s.members.suspect;
    this.healthy += s.members.healthy;
    this.watchEvents += s.watch.events;
    this.watchMoves += s.watch.moves;
    this.watchResyncs += s.watch.resyncs;
    this.enqueued += s.locks.enqueued;
    this.acquired += s.locks.acquired;
    this.released += s.locks.released;
    for (const [recipe, n] of Object.entries(s.locks.acquiredByRecipe))
      bump(this.acquiredByRecipe, recipe, n);
    this.waitMs.add(s.locks.waitMs);
    this.holdMs.add(s.locks.holdMs);
    this.handoffs += s.locks.handoffs;
    this.handoffMs.add(s.locks.handoffMs);
    this.atRisk += s.sessions.atRisk;
    this.lost += s.sessions.lost;
    for (const [why, n] of Object.entries(s.sessions.lostByReason)) bump(this.lostByReason, why, n);
    this.leaderChanges += s.elections.leaderChanges;
    this.added += s.registry.added;
    this.removed += s.registry.removed;
    this.expired += s.registry.expired;
  }

  snapshot(): MetricsSnapshot {
    const copy = (counts: Counts): Counts => ({ ...counts });
    return {
      requests: {
        total: this.requests,
        byOperation: Object.fromEntries(Object.entries(this.byOperation).map(([op, c]) => [op, copy(c)])),
        durationMs: this.requestMs.toJSON(),
      },
      failovers: { total: this.failovers, byKind: copy(this.failoversByKind) },
      members: { suspect: this.suspect, healthy: this.healthy },
      watch: { events: this.watchEvents, moves: this.watchMoves, resyncs: this.watchResyncs },
      locks: {
        enqueued: this.enqueued,
        acquired: this.acquired,
        released: this.released,
        acquiredByRecipe: copy(this.acquiredByRecipe),
        waitMs: this.waitMs.toJSON(),
        holdMs: this.holdMs.toJSON(),
        handoffs: this.handoffs,
        handoffMs: this.handoffMs.toJSON(),
      },
      sessions: { atRisk: this.atRisk, lost: this.lost, lostByReason: copy(this.lostByReason) },
      elections: { leaderChanges: this.leaderChanges },
      registry: { added: this.added, removed: this.removed, expired: this.expired },
    };
  }
}

/** Merges snapshots (of several processes) into one. */
export function mergeSnapshots(snapshots: Iterable<MetricsSnapshot>): MetricsSnapshot {
  const total = new Aggregate();
  for (const snapshot of snapshots) total.add(snapshot);
  return total.snapshot();
}

/**
 * Subscribes to the client's and the recipes' channels of this process until closed, and counts what they
 * report. Only message fields are read: no key, value or error text is kept but a session loss's reason.
 */
export class MetricsCollector implements Disposable {
  readonly #data = new Aggregate();
  readonly #subscriptions: [string, (message: unknown) => void][] = [];

  constructor() {
    const data = this.#data;
    this.#on(ClientChannels.requestEnd, (message) => {
      const m = message as RequestEndMessage;
      data.request(m.call.operation, statusClass(m.status));
      if (m.call.operation !== 'watch') data.requestMs.record(m.durationMs);
    });
    this.#on(ClientChannels.requestError, (message) => {
      const m = message as RequestErrorMessage;
      data.request(m.call.operation, 'error');
      if (m.call.operation !== 'watch') data.requestMs.record(m.durationMs);
    });
    this.#on(ClientChannels.failover, (message) => {
      data.failovers++;
      bump(data.failoversByKind, (message as FailoverMessage).kind);
    });
    this.#on(ClientChannels.memberHealth, (message) => {
      if ((message as MemberHealthMessage).state === 'suspect') data.suspect++;
      else data.healthy++;
    });
    this.#on(ClientChannels.watchEvent, () => data.watchEvents++);
    this.#on(ClientChannels.watchMove, () => data.watchMoves++);
    this.#on(ClientChannels.watchResync, () => data.watchResyncs++);
    this.#on(RecipeChannels.enqueue, () => data.enqueued++);
    this.#on(RecipeChannels.acquired, (message) => {
      const m = message as AcquiredMessage;
      data.acquired++;
      bump(data.acquiredByRecipe, m.recipe);
      data.waitMs.record(m.waitMs);
    });
    this.#on(RecipeChannels.released, (message) => {
      data.released++;
      data.holdMs.record((message as ReleasedMessage).holdMs);
    });
    this.#on(RecipeChannels.handoff, (message) => {
      data.handoffs++;
      data.handoffMs.record((message as HandoffMessage).handoffMs);
    });
    this.#on(RecipeChannels.atRisk, () => data.atRisk++);
    this.#on(RecipeChannels.lost, (message) => {
      data.lost++;
      bump(data.lostByReason, String((message as LostMessage).why));
    });
    this.#on(RecipeChannels.electionLeader, () => data.leaderChanges++);
    this.#on(RecipeChannels.registryAdd, () => data.added++);
    this.#on(RecipeChannels.registryRemove, () => data.removed++);
    this.#on(RecipeChannels.registryExpire, () => data.expired++);
  }

  /** What was counted so far (a copy, ready for JSON). */
  snapshot(): MetricsSnapshot {
    return this.#data.snapshot();
  }

  /** Unsubscribes (idempotent); {@link snapshot} still answers. */
  close(): void {
    for (const [name, listener] of this.#subscriptions.splice(0)) unsubscribe(name, listener);
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #on(name: string, listener: (message: unknown) => void): void {
    subscribe(name, listener);
    this.#subscriptions.push([name, listener]);
  }
}
