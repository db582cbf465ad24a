/** Faults a test injects by hand (not by `runFaultSchedule`), recorded for the history report. */
import { now } from '../history.js';
import type { ReportFault } from './input.js';

/**
 * Records when each fault a test injects itself begins and ends, in wall-clock ms (`now()`, the time base of
 * `History` operations), as the history report's fault bands. A fault not ended is drawn open to the end.
 *
 * @example
 * ```ts
 * const recorder = new FaultRecorder();
 * const end = recorder.begin('cut', 'm0 -> m1, m2');
 * await network.cut([m0], [m1, m2]);
 * await sleep(2000);
 * await network.heal();
 * end();
 * await reportViolations(path, { operations: history, faults: recorder.faults, violations });
 * ```
 */
export class FaultRecorder {
  readonly #faults: { name: string; target: string; start: number; end?: number }[] = [];

  /**
   * Fault `name` on `target` (member names, or any text) begins now, or at `start` (wall-clock ms). Returns the
   * function that ends it: now, or at the time given.
   */
  begin(name: string, target: string, start: number = now()): (end?: number) => void {
    const fault: { name: string; target: string; start: number; end?: number } = { name, target, start };
    this.#faults.push(fault);
    return (end = now()) => {
      fault.end = end;
    };
  }

  /** The faults so far, in the order they began. */
  get faults(): readonly ReportFault[] {
    return this.#faults;
  }
}
