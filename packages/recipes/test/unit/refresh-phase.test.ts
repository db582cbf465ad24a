import { describe, expect, it } from 'vitest';
import { firstRefreshDelay, nextRefreshDelay, REFRESH_SLOT_MS } from '../../src/core/refresh-phase.js';

describe("a kept key's refresh phase", () => {
  it('sends the first refresh in the second half of the interval, on a slot, spread by the random draw', () => {
    expect(REFRESH_SLOT_MS).toBe(20);
    // kept at 1000: the drawn instant 1000 + 300..600 rounded down to a slot (a multiple of 20 ms)
    expect(firstRefreshDelay(600, 1000, () => 0)).toBe(300);
    expect(firstRefreshDelay(600, 1000, () => 0.5)).toBe(440);
    expect(firstRefreshDelay(600, 1000, () => 0.999)).toBe(580);
    expect(firstRefreshDelay(600, 1005, () => 0)).toBe(295);
    // keys made together get first refreshes spread over half the interval, not one instant
    const delays = Array.from({ length: 200 }, () => firstRefreshDelay(600, 1000));
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(300);
    expect(Math.max(...delays)).toBeLessThan(600);
    expect(delays.every((delay) => delay % REFRESH_SLOT_MS === 0)).toBe(true);
    expect(new Set(delays).size).toBeGreaterThanOrEqual(8);
  });

  it('counts the next refresh from when the previous one was due, not from its reply, and never later than an interval', () => {
    // two keys due in slots 20 ms apart whose replies came together (one batch) stay in their slots
    expect(nextRefreshDelay(1000, 600, 1050)).toBe(550);
    expect(nextRefreshDelay(1020, 600, 1050)).toBe(570);
    // due just after a slot's start: the next one goes out on that slot, a little early
    expect(nextRefreshDelay(1001, 600, 1050)).toBe(550);
    // a reply slower than the interval: the next refresh goes out within a quarter interval, spread again
    const plenty = 1700 + 2000; // valid for long enough: the whole quarter interval
    expect(nextRefreshDelay(1000, 600, 1700, plenty, () => 0)).toBe(0);
    expect(nextRefreshDelay(1000, 600, 1700, plenty, () => 0.5)).toBe(60);
    expect(nextRefreshDelay(1000, 600, 1700, plenty, () => 0.999)).toBe(140);
    const late = Array.from({ length: 100 }, () => nextRefreshDelay(1000, 600, 1700, plenty));
    expect(Math.max(...late)).toBeLessThan(150);
    expect(new Set(late).size).toBeGreaterThanOrEqual(4);
    // little validity left: the spread shrinks so that an interval of it stays, and with none, at once
    expect(nextRefreshDelay(1000, 600, 1700, 1700 + 600 + 40, () => 0.999)).toBe(20);
    expect(nextRefreshDelay(1000, 600, 1700, 1700 + 500, () => 0.999)).toBe(0);
  });
});
