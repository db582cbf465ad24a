/**
 * `etcdkit demo --report <path>`: the demo's history as one HTML page (testkit's history report): every
 * process's lock holds, fenced writes and election terms, the faults as bands, and any safety violation
 * highlighted.
 */
import { writeFileSync } from 'node:fs';
import {
  FaultRecorder,
  type History,
  type ReportFault,
  type Violation,
  writeHistoryReport,
} from '@etcdkit/testkit';
import { UsageError } from '../usage.js';

/** The faults the demo injects, and the page it writes at its end. */
export class ReportFile {
  readonly path: string;
  readonly #faults = new FaultRecorder();

  /** Writes an empty file at once, so that a bad path fails before the demo starts. */
  constructor(path: string) {
    this.path = path;
    try {
      writeFileSync(path, '');
    } catch (error) {
      throw new UsageError(`cannot write --report ${path}: ${(error as Error).message}`);
    }
  }

  /**
   * A fault begins now (or at `start`, wall-clock ms as `now()` gives), `name` on `target`. Returns the
   * function that ends it, now or at the time given.
   */
  fault(name: string, target: string, start?: number): (end?: number) => void {
    return this.#faults.begin(name, target, start);
  }

  /** The faults so far (one still going is drawn open to the end). */
  get faults(): readonly ReportFault[] {
    return this.#faults.faults;
  }

  /** Writes the page: the history, its lock holds, the faults and the safety checkers' violations. */
  write(title: string, history: History, violations: readonly Violation[]): Promise<void> {
    return writeHistoryReport(this.path, {
      title,
      operations: history,
      holds: history.ofKind('hold'),
      faults: this.#faults.faults,
      violations,
    });
  }
}
