import { describe, expect, it, vi } from 'vitest';
import { AllAttemptsFailed, attemptsWithin, hedge } from '../../src/internal/hedge.js';

/** An attempt the test settles when it chooses; records whether it was aborted. */
interface Attempt {
  readonly n: number;
  readonly signal: AbortSignal;
  resolve(value: string): void;
  reject(error: unknown): void;
}

function harness() {
  const attempts: Attempt[] = [];
  const run = (n: number, signal: AbortSignal): Promise<string> =>
    new Promise<string>((resolve, reject) => {
      attempts.push({ n, signal, resolve, reject });
    });
  return { attempts, run };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('hedge: attempts of a call that is safe to repeat', () => {
  it('one attempt while it answers in time', async () => {
    const { attempts, run } = harness();
    const call = hedge(run, { maxAttempts: 6, hedgeMs: 200 });
    await sleep(20);
    attempts[0]!.resolve('a');
    expect(await call).toBe('a');
    await sleep(250);
    expect(attempts).toHaveLength(1);
  });

  it('a slow attempt gets a second beside it after hedgeMs; the slow one still wins if it answers first', async () => {
    const { attempts, run } = harness();
    const slow: number[] = [];
    const call = hedge(run, { maxAttempts: 6, hedgeMs: 50, onSlow: (n) => slow.push(n) });
    await sleep(80);
    expect(attempts).toHaveLength(2);
    expect(slow).toEqual([0]);
    expect(attempts[0]!.signal.aborted).toBe(false); // still waiting, not abandoned
    attempts[0]!.resolve('late first');
    expect(await call).toBe('late first');
    expect(attempts[1]!.signal.aborted).toBe(true); // the loser is aborted
  });

  it('a failure starts the next attempt at once; all failed: AllAttemptsFailed with every error in order', async () => {
    const { attempts, run } = harness();
    const failed: number[] = [];
    const call = hedge(run, { maxAttempts: 3, hedgeMs: 10_000, onFailed: (n) => failed.push(n) });
    for (let n = 0; n < 3; n++) {
      await sleep(5);
      expect(attempts).toHaveLength(n + 1);
      attempts[n]!.reject(new Error(`e${n}`));
    }
    const error = await call.then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(error).toBeInstanceOf(AllAttemptsFailed);
    expect((error as AllAttemptsFailed).errors.map((e) => (e as Error).message)).toEqual(['e0', 'e1', 'e2']);
    expect(failed).toEqual([0, 1, 2]);
  });

  it('with a backoff, the hedges after the steady ones wait longer each: hedgeMs, ..., then x backoff', async () => {
    // a fake clock: real timers on a loaded machine fire against libuv's cached loop time, so a measured gap can
    // be a little short of the delay asked for; the pacing itself is what this test is about
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    try {
      const { attempts, run } = harness();
      const t0 = performance.now();
      const startedAt: number[] = [];
      const pacing = { hedgeMs: 40, backoff: 2, steadyHedges: 2 };
      const call = hedge(
        (n, signal) => {
          startedAt.push(performance.now() - t0);
          return run(n, signal);
        },
        { maxAttempts: 5, ...pacing },
      );
      // hedges at 40 and 80 (steady), then gaps of 80 and 160: at 160 and 320
      await vi.advanceTimersByTimeAsync(319);
      expect(startedAt).toEqual([0, 40, 80, 160]);
      await vi.advanceTimersByTimeAsync(1);
      expect(startedAt).toEqual([0, 40, 80, 160, 320]);
      await vi.advanceTimersByTimeAsync(10_000);
      expect(attempts).toHaveLength(5); // maxAttempts
      attempts[4]!.resolve('fifth');
      expect(await call).toBe('fifth');
    } finally {
      vi.useRealTimers();
    }
  });

  it('attemptsWithin counts the attempts hedge starts before a deadline, with the same pacing', () => {
    const pacing = { hedgeMs: 40, backoff: 2, steadyHedges: 2 };
    // the first at 0; hedges at 40, 80, 160, 320, 640
    expect(attemptsWithin(40, pacing)).toBe(1);
    expect(attemptsWithin(41, pacing)).toBe(2);
    expect(attemptsWithin(161, pacing)).toBe(4);
    expect(attemptsWithin(321, pacing)).toBe(5);
    // the client's pacing: 3 members, 150 ms, x1.5: 150, 300, 450, 675, 1012, 1518, 2277, 3416 within 5 s
    expect(attemptsWithin(5000, { hedgeMs: 150, backoff: 1.5, steadyHedges: 3 })).toBe(9);
    expect(attemptsWithin(5000, { hedgeMs: 100 })).toBe(32); // never more than 32
    expect(attemptsWithin(5000, { hedgeMs: 0 })).toBe(1);
  });

  it('at most maxAttempts; the call then waits for those still running', async () => {
    const { attempts, run } = harness();
    const call = hedge(run, { maxAttempts: 3, hedgeMs: 20 });
    await sleep(150);
    expect(attempts).toHaveLength(3);
    attempts[2]!.reject(new Error('e2'));
    attempts[0]!.reject(new Error('e0'));
    await sleep(10);
    attempts[1]!.resolve('second');
    expect(await call).toBe('second');
  });

  it('an abort of the call aborts every attempt and rejects with its reason', async () => {
    const { attempts, run } = harness();
    const controller = new AbortController();
    const call = hedge(run, { maxAttempts: 6, hedgeMs: 20, signal: controller.signal });
    await sleep(50);
    const reason = new Error('stop');
    controller.abort(reason);
    await expect(call).rejects.toBe(reason);
    expect(attempts.every((attempt) => attempt.signal.aborted)).toBe(true);
    const started = attempts.length;
    await sleep(60);
    expect(attempts).toHaveLength(started); // no attempt after the abort
  });

  it('hedgeMs 0: no hedge, the next attempt only after a failure', async () => {
    const { attempts, run } = harness();
    const call = hedge(run, { maxAttempts: 3, hedgeMs: 0 });
    await sleep(50);
    expect(attempts).toHaveLength(1);
    attempts[0]!.reject(new Error('e0'));
    await sleep(5);
    expect(attempts).toHaveLength(2);
    attempts[1]!.resolve('b');
    expect(await call).toBe('b');
  });

  it('initialAttempts 2: two attempts at once, the hedges after them; lingerMs: the loser runs on, then is aborted', async () => {
    const { attempts, run } = harness();
    const call = hedge(run, { maxAttempts: 6, hedgeMs: 10_000, initialAttempts: 2, lingerMs: 100 });
    expect(attempts.map((a) => a.n)).toEqual([0, 1]);
    // a value that is no whole number starts one attempt, as the default does
    const odd = harness();
    void hedge(odd.run, { maxAttempts: 2, hedgeMs: 10_000, initialAttempts: Number.NaN }).catch(() => {});
    expect(odd.attempts).toHaveLength(1);
    odd.attempts[0]!.resolve('x');
    attempts[1]!.resolve('second');
    expect(await call).toBe('second');
    await sleep(50);
    expect(attempts[0]!.signal.aborted).toBe(false); // still let finish
    await sleep(100);
    expect(attempts[0]!.signal.aborted).toBe(true); // its time is up
    expect(attempts).toHaveLength(2);
  });

  it('lingerMs: a loser that completes in time is never aborted; an abort of the call still aborts all at once', async () => {
    const { attempts, run } = harness();
    const call = hedge(run, { maxAttempts: 6, hedgeMs: 10_000, initialAttempts: 2, lingerMs: 100 });
    attempts[0]!.resolve('first');
    expect(await call).toBe('first');
    attempts[1]!.resolve('late');
    await sleep(150);
    expect(attempts[1]!.signal.aborted).toBe(false);
    const controller = new AbortController();
    const aborted = hedge(run, {
      maxAttempts: 6,
      hedgeMs: 10_000,
      initialAttempts: 2,
      lingerMs: 10_000,
      signal: controller.signal,
    });
    controller.abort(new Error('stop'));
    await expect(aborted).rejects.toThrow('stop');
    expect(attempts[2]!.signal.aborted).toBe(true);
    expect(attempts[3]!.signal.aborted).toBe(true);
  });
});
