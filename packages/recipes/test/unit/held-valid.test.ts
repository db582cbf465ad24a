/**
 * `HeldLock.valid` and `Term.valid` with fake keys: judged on the clock when read, so a holder whose process
 * was starved past the key's validity deadline learns it before the timer that aborts its signal has run.
 */
import { describe, expect, it, vi } from 'vitest';
import { Election } from '../../src/election.js';
import { SessionLostError } from '../../src/errors.js';
import { Lock } from '../../src/lock.js';
import { type Call, dirReply, FakeKeys, node, reply, settle } from './fake-keys.js';

const DIR = '/held';
const OURS = `${DIR}/8`;

/**
 * Fake keys where our create and the first read (ours first) are answered; `more` may answer other calls.
 * `sentAt()`: when the create was sent.
 */
function grantingKeys(more: (call: Call) => void = () => {}): { keys: FakeKeys; sentAt: () => number } {
  const keys = new FakeKeys();
  let createSentAt = 0;
  keys.onCall((call) => {
    if (call.method === 'createInOrder') {
      createSentAt = performance.now();
      call.reply.resolve(reply('create', node(OURS, 8, 8, call.value)));
    } else if (call.method === 'get' && call.key === DIR) {
      call.reply.resolve(dirReply(DIR, 9, node(OURS, 8, 8, '{}')));
    } else more(call);
  });
  return { keys, sentAt: () => createSentAt };
}

/** Blocks the event loop until `at` (`performance.now()`), as a starved or paused process would be. */
function starveUntil(at: number): void {
  while (performance.now() < at) {
    // no timer can run meanwhile
  }
}

/** A session whose keys are valid for 1 s from their create or refresh (TTL 2 s, margin 500 + 500 ms). */
const SHORT = { ttl: 2, maxClockSkewMs: 500, refreshIntervalMs: 200 } as const;

/** The next turn of the loop's timers, and its check phase (where a validity deadline is judged). */
const nextTimerTurn = (): Promise<void> =>
  new Promise((resolve) => setTimeout(() => setImmediate(resolve), 1));

describe('valid: the hold judged on the clock', () => {
  it('a lock held past its validity deadline is not valid, before its signal has aborted', async () => {
    const { keys, sentAt } = grantingKeys();
    // the key is valid for 1 s from its create; no refresh is ever answered
    await using lock = new Lock(keys.api, DIR, SHORT);
    const held = await lock.acquire();
    expect(held.valid).toBe(true);
    starveUntil(sentAt() + 1100);
    expect(held.signal.aborted).toBe(false); // the timer has not had its turn yet
    expect(held.valid).toBe(false);
    await nextTimerTurn();
    expect(held.signal.aborted).toBe(true);
    expect(held.signal.reason).toBeInstanceOf(SessionLostError);
    expect(held.valid).toBe(false);
  });

  it('a refresh that answers after the deadline does not make the lock valid again', async () => {
    // the mark-held write is answered; refreshes wait for the test
    const { keys, sentAt } = grantingKeys((call) => {
      if (call.method === 'set' && !call.options.refresh)
        call.reply.resolve(reply('compareAndSwap', node(OURS, 8, 10, call.value)));
    });
    await using lock = new Lock(keys.api, DIR, SHORT);
    const held = await lock.acquire();
    await vi.waitFor(() => expect(keys.of('set').some((call) => call.options.refresh)).toBe(true));
    const refresh = keys.of('set').find((call) => call.options.refresh)!;
    starveUntil(sentAt() + 1100);
    // the refresh's reply is handled before the deadline's timer has had its turn
    refresh.reply.resolve(reply('update', node(OURS, 8, 11, '{}')));
    for (let i = 0; i < 20; i++) await Promise.resolve();
    expect(held.valid).toBe(false);
    await nextTimerTurn();
    expect(held.signal.reason).toBeInstanceOf(SessionLostError);
    expect(held.valid).toBe(false);
  });

  it('a released lock is not valid', async () => {
    const { keys } = grantingKeys((call) => {
      if (call.method === 'delete') call.reply.resolve(reply('compareAndDelete', node(OURS, 8, 10)));
    });
    await using lock = new Lock(keys.api, DIR, { ttl: 5 });
    const held = await lock.acquire();
    expect(held.valid).toBe(true);
    await held.release();
    expect(held.valid).toBe(false);
  });

  it('a term past its validity deadline is not valid, before its signal has aborted', async () => {
    const { keys, sentAt } = grantingKeys();
    await using election = new Election(keys.api, DIR, SHORT);
    const term = await election.campaign('me');
    expect(term.valid).toBe(true);
    starveUntil(sentAt() + 1100);
    expect(term.signal.aborted).toBe(false);
    expect(term.valid).toBe(false);
    await nextTimerTurn();
    expect(term.signal.aborted).toBe(true);
    await settle();
  });
});
