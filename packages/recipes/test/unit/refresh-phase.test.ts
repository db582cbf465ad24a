import { describe, expect, it } from 'vitest';
import { firstRefresh, nextRefresh, REFRESH_SLOT_MS } from '../../src/core/refresh-phase.js';

describe("a kept key's refresh phase", () => {
  it('sends the first refresh in the second half of the interval, on a slot, spread by the random draw', () => {
    expect(REFRESH_SLOT_MS).toBe(20);
    // kept at 1000: due at 1000 + 300..600, sent on the slot at or before it (a multiple of 20 ms)
    expect(firstRefresh(600, 1000, () => 0)).toEqual({ dueAt: 1300, delayMs: 300 });
    expect(firstRefresh(600, 1000, () => 0.5)).toEqual({ dueAt: 1450, delayMs: 440 });
    expect(firstRefresh(600, 1000, () => 0.999).delayMs).toBe(580);
    expect(firstRefresh(600, 1005, () => 0).delayMs).toBe(295);
    // keys made together get first refreshes spread over half the interval, not one instant
    const delays = Array.from({ length: 200 }, () => firstRefresh(600, 1000).delayMs);
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(300);
    expect(Math.max(...delays)).toBeLessThan(600);
    expect(delays.every((delay) => delay % REFRESH_SLOT_MS === 0)).toBe(true);
    expect(new Set(delays).size).toBeGreaterThanOrEqual(8);
  });

  it('counts the next refresh from when the previous one was due, not from its reply, and never later than an interval', () => {
    // two keys due in slots 20 ms apart whose replies came together (one batch) stay in their slots
    expect(nextRefresh(1000, 1000, 600, 1050)).toEqual({ dueAt: 1600, delayMs: 550 });
    expect(nextRefresh(1020, 1020, 600, 1050)).toEqual({ dueAt: 1620, delayMs: 570 });
    // due just after a slot's start: sent on that slot, a little early; the next is due an interval after
    // the due time, not after the send
    expect(nextRefresh(1001, 1000, 600, 1050)).toEqual({ dueAt: 1601, delayMs: 550 });
    // a timer that fired early by more than a slot: counted from a slot after its send
    expect(nextRefresh(1100, 1000, 600, 1050)).toEqual({ dueAt: 1620, delayMs: 570 });
    // a reply slower than the interval: the next refresh goes out within a quarter interval, spread again
    const plenty = 1700 + 2000; // valid for long enough: the whole quarter interval
    expect(nextRefresh(1000, 1000, 600, 1700, plenty, () => 0)).toEqual({ dueAt: 1700, delayMs: 0 });
    expect(nextRefresh(1000, 1000, 600, 1700, plenty, () => 0.5).delayMs).toBe(60);
    expect(nextRefresh(1000, 1000, 600, 1700, plenty, () => 0.999).delayMs).toBe(140);
    const late = Array.from({ length: 100 }, () => nextRefresh(1000, 1000, 600, 1700, plenty).delayMs);
    expect(Math.max(...late)).toBeLessThan(150);
    expect(new Set(late).size).toBeGreaterThanOrEqual(4);
    // little validity left: the spread shrinks so that an interval of it stays, and with none, at once
    expect(nextRefresh(1000, 1000, 600, 1700, 1700 + 600 + 40, () => 0.999).delayMs).toBe(20);
    expect(nextRefresh(1000, 1000, 600, 1700, 1700 + 500, () => 0.999).delayMs).toBe(0);
  });

  it('keeps the interval on average: the rounding of sends to slots does not add up', () => {
    // TTL 2: an interval of 666.7 ms. A key refreshed 300 times, each reply 3 ms after its send, is sent 300
    // intervals after its first due time, give or take a slot (rounded due times would lose 6.7 ms each: 2 s)
    const refreshMs = 2000 / 3;
    let { dueAt, delayMs } = firstRefresh(refreshMs, 0, () => 0);
    let now = 0;
    const first = dueAt;
    let sentAt = 0;
    for (let i = 0; i < 300; i++) {
      sentAt = now + delayMs;
      now = sentAt + 3;
      ({ dueAt, delayMs } = nextRefresh(dueAt, sentAt, refreshMs, now));
    }
    expect(sentAt).toBeGreaterThan(first + 299 * refreshMs - REFRESH_SLOT_MS);
    expect(sentAt).toBeLessThanOrEqual(first + 299 * refreshMs);
  });
});
