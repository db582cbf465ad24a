/**
 * `etcdkit demo --metrics-file <path>`: the metrics of every demo process (the demo's own observers and each
 * worker, whose latest snapshot arrives over IPC every second and at its exit), written as one JSON file.
 */
import { writeFileSync } from 'node:fs';
import { MetricsCollector, type MetricsSnapshot, mergeSnapshots } from '../metrics.js';
import { UsageError } from '../usage.js';

/** The file's content. Durations are in ms (fields ending in `Ms`), times ISO 8601. */
export interface MetricsReport {
  readonly version: 1;
  readonly startedAt: string;
  /** `null` while the demo runs. */
  readonly endedAt: string | null;
  /** False while the demo runs, and when it was interrupted or failed. */
  readonly complete: boolean;
  /**
   * One snapshot per process: `demo` for the demo itself (its election and registry observers), and each
   * worker by name (`locker-1`, ...); a killed worker's is its last one, at most a second old.
   */
  readonly workers: Readonly<Record<string, MetricsSnapshot>>;
  /** Every process's snapshot merged. */
  readonly total: MetricsSnapshot;
}

/** Collects the demo's own metrics and the workers' snapshots, and writes the file. */
export class MetricsFile {
  readonly path: string;
  readonly #startedAt = new Date().toISOString();
  readonly #collector = new MetricsCollector();
  readonly #workers = new Map<string, MetricsSnapshot>();

  /** Starts collecting in this process and writes a first (empty) report, so that a bad path fails at once. */
  constructor(path: string) {
    this.path = path;
    try {
      this.write(false, false);
    } catch (error) {
      this.#collector.close();
      throw new UsageError(`cannot write --metrics-file ${path}: ${(error as Error).message}`);
    }
  }

  /** A worker's latest snapshot (they are cumulative: it replaces the one before). */
  take(worker: string, snapshot: MetricsSnapshot): void {
    this.#workers.set(worker, snapshot);
  }

  /** Writes the report; `ended` adds `endedAt`. Synchronous, so that an exit path can call it. */
  write(ended: boolean, complete: boolean): void {
    const workers: Record<string, MetricsSnapshot> = { demo: this.#collector.snapshot() };
    for (const [name, snapshot] of [...this.#workers].sort(([a], [b]) =>
      a.localeCompare(b, 'en', { numeric: true }),
    ))
      workers[name] = snapshot;
    const report: MetricsReport = {
      version: 1,
      startedAt: this.#startedAt,
      endedAt: ended ? new Date().toISOString() : null,
      complete,
      workers,
      total: mergeSnapshots(Object.values(workers)),
    };
    writeFileSync(this.path, `${JSON.stringify(report, null, 2)}\n`);
  }

  /** Stops collecting in this process. */
  close(): void {
    this.#collector.close();
  }
}
