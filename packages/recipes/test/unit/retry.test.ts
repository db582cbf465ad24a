import { describe, expect, it } from 'vitest';
import { Pacer, pauseAfter, RetryPacing } from '../../src/core/retry.js';

/** The pauses a loop paced by `pacer` sleeps after `n` failures in a row. */
function pauses(pacer: Pacer, n: number): number[] {
  return Array.from({ length: n }, () => pacer.next());
}

describe('the core retry pacing', () => {
  it('paces the queue key create as it always did: 3 attempts, 100 then 200 ms', () => {
    expect(RetryPacing.enqueue.attempts).toBe(3);
    expect([1, 2].map((attempt) => pauseAfter(RetryPacing.enqueue, attempt))).toEqual([100, 200]);
  });

  it("paces a kept key's delete as it always did: 5 attempts, 100 ms more after each", () => {
    expect(RetryPacing.removeKey.attempts).toBe(5);
    expect([1, 2, 3, 4].map((attempt) => pauseAfter(RetryPacing.removeKey, attempt))).toEqual([
      100, 200, 300, 400,
    ]);
  });

  it('doubles the loss watch re-read pause from 100 ms up to 2 s, and starts again after a good read', () => {
    const pacer = new Pacer(RetryPacing.lossRecheck);
    expect(pauses(pacer, 7)).toEqual([100, 200, 400, 800, 1600, 2000, 2000]);
    pacer.reset();
    expect(pauses(pacer, 2)).toEqual([100, 200]);
  });

  it('doubles the re-registration pause from 100 ms up to 5 s', () => {
    expect(pauses(new Pacer(RetryPacing.reRegister), 8)).toEqual([
      100, 200, 400, 800, 1600, 3200, 5000, 5000,
    ]);
    expect(new Pacer(RetryPacing.reRegister).next()).toBe(100);
    expect(pauseAfter(RetryPacing.reRegister, 10_000)).toBe(5000);
  });

  it('keeps the fixed pauses and counts', () => {
    expect(RetryPacing).toMatchObject({
      transientPauseMs: 100,
      refreshRetryMaxMs: 250,
      ambiguousWriteAttempts: 3,
    });
  });
});
