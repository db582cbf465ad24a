import { describe, expect, it } from 'vitest';
import { AbortHook } from '../../src/internal/abort-hook.js';
import type { RawResponse } from '../../src/internal/attempt.js';
import { type Endpoint, parseEndpoint } from '../../src/internal/endpoints.js';
import { waitTwice } from '../../src/internal/wait-twice.js';

/** One of the two waits, settled by the test; records its closer and where it waits. */
interface Side {
  readonly closer: AbortHook;
  resolve(response: RawResponse): void;
  reject(error: unknown): void;
}

const A = parseEndpoint('http://127.0.0.1:2379');
const B = parseEndpoint('http://127.0.0.2:2379');
const reply = (endpoint: Endpoint, body: string): RawResponse => ({
  status: 200,
  headers: {},
  body,
  endpoint,
});
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function harness(graceMs = 100) {
  const sides: Side[] = [];
  const behind: string[] = [];
  const closing = new AbortHook();
  const watcherClose = new AbortHook();
  const call = waitTwice({
    closers: [closing, watcherClose],
    graceMs,
    behind: (endpoint) => behind.push(endpoint.text),
    run: (side, closer, at) =>
      new Promise<RawResponse>((resolve, reject) => {
        at(side === 0 ? A : B);
        // a wait rejects with its closer's reason when the closer aborts, as the client's do
        closer.listen(reject);
        sides[side] = { closer, resolve, reject };
      }),
  });
  return { sides, behind, closing, watcherClose, call };
}

describe('waitTwice: one watch wait on two members at once', () => {
  it('the first reply wins; the slower wait is let finish within the grace, and nothing is reported', async () => {
    const { sides, behind, call } = harness();
    sides[1]!.resolve(reply(B, 'event'));
    expect((await call).body).toBe('event');
    await sleep(20);
    expect(sides[0]!.closer.aborted).toBe(false);
    sides[0]!.resolve(reply(A, 'event'));
    await sleep(150);
    expect(sides[0]!.closer.aborted).toBe(false);
    expect(behind).toEqual([]);
  });

  it('a wait that has not told the event within the grace is aborted, and its member reported behind', async () => {
    const { sides, behind, call } = harness();
    sides[1]!.resolve(reply(B, 'event'));
    await call;
    await sleep(150);
    expect(sides[0]!.closer.aborted).toBe(true);
    expect(behind).toEqual([A.text]);
  });

  it('the second wait failing leaves the first to answer, and to fail with its own error', async () => {
    const one = harness();
    one.sides[1]!.reject(new Error('b failed'));
    await sleep(5);
    one.sides[0]!.resolve(reply(A, 'event'));
    expect((await one.call).endpoint).toBe(A);
    const both = harness();
    both.sides[1]!.reject(new Error('b failed'));
    await sleep(5);
    both.sides[0]!.reject(new Error('a failed'));
    await expect(both.call).rejects.toThrow('a failed');
  });

  it('the first (health-checked) wait failing fails the call at once and ends the second', async () => {
    const { sides, call } = harness();
    sides[0]!.reject(new Error('every member failed'));
    await expect(call).rejects.toThrow('every member failed');
    expect(sides[1]!.closer.aborted).toBe(true);
  });

  it('a winner that told no event (an empty reply, an error status) reports nobody behind', async () => {
    const empty = harness();
    empty.sides[1]!.resolve({ ...reply(B, ''), body: '' });
    await empty.call;
    const error = harness();
    error.sides[0]!.resolve({ ...reply(A, '{"errorCode":401}'), status: 400 });
    await error.call;
    await sleep(150);
    expect(empty.sides[0]!.closer.aborted).toBe(true);
    expect(error.sides[1]!.closer.aborted).toBe(true);
    expect([...empty.behind, ...error.behind]).toEqual([]);
  });

  it("a closer (the watcher's or the client's) ends both at once with its reason", async () => {
    const { sides, behind, watcherClose, call } = harness();
    watcherClose.abort(new Error('watcher closed'));
    await expect(call).rejects.toThrow('watcher closed');
    expect(sides[0]!.closer.aborted).toBe(true);
    expect(sides[1]!.closer.aborted).toBe(true);
    expect(behind).toEqual([]);
  });

  it("after a win, the watcher's close leaves the loser its grace; the client's close ends it", async () => {
    const { sides, closing, watcherClose, call } = harness(10_000);
    sides[0]!.resolve(reply(A, 'event'));
    await call;
    watcherClose.abort(new Error('watcher closed'));
    expect(sides[1]!.closer.aborted).toBe(false);
    closing.abort(new Error('client closed'));
    expect(sides[1]!.closer.aborted).toBe(true);
  });
});
