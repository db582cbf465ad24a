import type { MetricsSnapshot } from '../metrics.js';

/** What demo workers report to the demo over IPC. Times are wall-clock ms (`now()` of testkit). */
export type WorkerEvent =
  | { type: 'ready'; worker: string }
  | { type: 'acquired'; worker: string; token: number; at: number }
  | {
      type: 'released';
      worker: string;
      token: number;
      start: number;
      /** When the hold ended: the release began, or the worker learnt the lock was lost. */
      end: number;
      /** The lock was no longer valid (`HeldLock.valid`) at the end of the hold: lost, not released. */
      lost: boolean;
      /** The longest the worker's event loop was kept from running during the hold, in ms. */
      maxStallMs: number;
    }
  | { type: 'write'; worker: string; token: number; start: number; end: number; ok: boolean; stale: boolean }
  | { type: 'elected'; worker: string; token: number; at: number }
  | { type: 'deposed'; worker: string; token: number; at: number }
  | { type: 'registered'; worker: string; at: number }
  | { type: 'holding-forever'; worker: string; token: number; at: number }
  | { type: 'error'; worker: string; message: string }
  /** With `--metrics-file`: the worker's metrics so far, every second and at exit. */
  | { type: 'metrics'; worker: string; metrics: MetricsSnapshot };

/** How often a worker sends its metrics snapshot (with `--metrics-file`), in ms. */
export const METRICS_INTERVAL_MS = 1000;

/** The roles a worker process can play. */
export type Role = 'locker' | 'candidate' | 'service';

/** Keys the demo uses. */
export const DEMO_KEYS = {
  lock: '/etcdkit-demo/locks/report',
  fenced: '/etcdkit-demo/report',
  election: '/etcdkit-demo/elections/scheduler',
  services: '/etcdkit-demo/services',
  service: 'api',
} as const;

/** TTL of every session in the demo, seconds: what a crashed holder costs. */
export const DEMO_TTL = 2;

/**
 * The workers' client settings, tuned to the demo's cluster (election timeout 250 ms): a request that gets no
 * reply headers in 1 s fails over to the next member (a frozen member answers nothing); a waiting watch checks
 * its member's health every 250 ms and moves at the first failed check; a write that is safe to repeat
 * (session refreshes, releases, the recipes' compare-and-swaps) is also sent to another member after 150 ms
 * without an answer (hedged: the first reply wins), so that a release reaches a member of the new majority
 * within about one election of a leader's death, and a refresh a third of the way into the 2 s TTL still
 * lands well before its session's validity deadline.
 */
export const DEMO_CLIENT = { headerTimeoutMs: 1000, livenessMs: 250, retrySafeTimeoutMs: 150 } as const;
