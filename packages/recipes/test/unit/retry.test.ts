import { EtcdError } from '@etcdkit/client';
import { describe, expect, it } from 'vitest';
import { type Backoff, RetryPacing, retrying, retryOptions } from '../../src/core/retry.js';

/** The pauses p-retry sleeps, by its own formula, after `n` failures in a row of an operation paced by `backoff`. */
function pauses(backoff: Backoff, n: number): number[] {
  const { minTimeout, factor, maxTimeout } = retryOptions(backoff);
  return Array.from({ length: n }, (_, i) => Math.min(minTimeout * factor ** i, maxTimeout));
}

/** A backoff quick enough for a unit test. */
const quick: Backoff = { firstMs: 1, factor: 2, maxMs: 4, attempts: 4 };

/** An operation that fails with each of `failures` in turn, then succeeds with 'done'; counts its calls. */
function failingWith(...failures: unknown[]) {
  const calls = { n: 0 };
  const operation = async (): Promise<string> => {
    const failure = failures[calls.n++];
    if (failure !== undefined) throw failure;
    return 'done';
  };
  return { calls, operation };
}

describe('the core retry pacing', () => {
  it('paces the queue key create: 3 attempts, 100 then 200 ms', () => {
    expect(retryOptions(RetryPacing.enqueue).retries).toBe(2);
    expect(pauses(RetryPacing.enqueue, 2)).toEqual([100, 200]);
  });

  it("paces a kept key's delete: 5 attempts, 100, 200, 400, 400 ms", () => {
    expect(retryOptions(RetryPacing.removeKey).retries).toBe(4);
    expect(pauses(RetryPacing.removeKey, 4)).toEqual([100, 200, 400, 400]);
  });

  it('doubles the loss watch re-read pause from 100 ms up to 2 s, without end', () => {
    expect(retryOptions(RetryPacing.lossRecheck).retries).toBe(Number.POSITIVE_INFINITY);
    expect(pauses(RetryPacing.lossRecheck, 7)).toEqual([100, 200, 400, 800, 1600, 2000, 2000]);
  });

  it('doubles the re-registration and re-follow pauses from 100 ms up to 5 s', () => {
    for (const backoff of [RetryPacing.reRegister, RetryPacing.followAgain])
      expect(pauses(backoff, 8)).toEqual([100, 200, 400, 800, 1600, 3200, 5000, 5000]);
  });

  it('keeps the fixed pauses and counts, without jitter', () => {
    expect(RetryPacing).toMatchObject({
      transientPauseMs: 100,
      refreshRetryMaxMs: 250,
      ambiguousWriteAttempts: 3,
    });
    expect(retryOptions(RetryPacing.enqueue).randomize).toBe(false);
  });
});

describe('retrying', () => {
  it('tries a transient failure again until the operation succeeds', async () => {
    const { calls, operation } = failingWith(new Error('reset'), new Error('reset'));
    await expect(retrying(operation, quick)).resolves.toBe('done');
    expect(calls.n).toBe(3);
  });

  it("stops at once on etcd's own answer, and rejects with it", async () => {
    const refused = new EtcdError(100, 'Key not found', '/k', 1);
    const { calls, operation } = failingWith(refused);
    await expect(retrying(operation, quick)).rejects.toBe(refused);
    expect(calls.n).toBe(1);
  });

  it('rejects with the last failure once the attempts are spent', async () => {
    const last = new Error('fourth');
    const { calls, operation } = failingWith(new Error('1'), new Error('2'), new Error('3'), last);
    await expect(retrying(operation, quick)).rejects.toBe(last);
    expect(calls.n).toBe(4);
  });

  it('asks the rules which failures may be tried again', async () => {
    const fatal = new Error('fatal');
    const { calls, operation } = failingWith(new Error('reset'), fatal);
    await expect(retrying(operation, quick, { retryable: (error) => error !== fatal })).rejects.toBe(fatal);
    expect(calls.n).toBe(2);
  });

  it('tries at once, without counting, after a failure the rules call instructive', async () => {
    const taught = new Error('newer index');
    const { calls, operation } = failingWith(taught, taught, taught, taught, taught);
    const slow: Backoff = { firstMs: 60_000, factor: 1, maxMs: 60_000, attempts: 2 };
    await expect(retrying(operation, slow, { atOnce: (error) => error === taught })).resolves.toBe('done');
    expect(calls.n).toBe(6);
  });

  it("rejects with the signal's own reason when it aborts during a pause, even a reason that is no Error", async () => {
    const controller = new AbortController();
    const slow: Backoff = { firstMs: 60_000, factor: 1, maxMs: 60_000 };
    const { calls, operation } = failingWith(new Error('reset'));
    const retried = retrying(operation, slow, { signal: controller.signal });
    setTimeout(() => controller.abort('stopped'), 10);
    await expect(retried).rejects.toBe('stopped');
    expect(calls.n).toBe(1);
  });

  it('returns what an attempt made even when the signal aborted while it ran (the caller removes it)', async () => {
    const controller = new AbortController();
    const made = retrying(
      async () => {
        controller.abort('too late');
        return 'queue key';
      },
      quick,
      { signal: controller.signal },
    );
    await expect(made).resolves.toBe('queue key');
  });

  it('adds no listener to the caller’s signal, however many calls share it', async () => {
    const controller = new AbortController();
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    const slow: Backoff = { firstMs: 60_000, factor: 1, maxMs: 60_000 };
    const calls = Array.from({ length: 30 }, () =>
      retrying(failingWith(new Error('reset')).operation, slow, { signal: controller.signal }).catch(
        (error: unknown) => error,
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, 20));
    controller.abort('stopped');
    expect(await Promise.all(calls)).toEqual(Array(30).fill('stopped'));
    process.off('warning', onWarning);
    expect(warnings.filter((warning) => warning.name === 'MaxListenersExceededWarning')).toEqual([]);
  });
});
