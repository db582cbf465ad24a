import { describe, expect, it } from 'vitest';
import { ResponseTime } from '../../src/internal/response-time.js';

describe('ResponseTime (the adaptive retrySafeTimeout)', () => {
  it('is the ceiling until the first answer', () => {
    expect(new ResponseTime(150, 1000).timeout()).toBe(1000);
  });

  it('keeps to the floor while a healthy member answers in a few ms', () => {
    const time = new ResponseTime(150, 1000);
    for (let i = 0; i < 50; i++) time.sample(1 + (i % 3));
    expect(time.timeout()).toBe(150);
  });

  it('follows a slow cluster above the floor: smoothed time plus four deviations (RFC 6298)', () => {
    const time = new ResponseTime(150, 1000);
    time.sample(200);
    // first sample: smoothed 200, deviation 100 -> 600
    expect(time.timeout()).toBe(600);
    for (let i = 0; i < 100; i++) time.sample(200);
    // steady 200 ms answers: the deviation decays towards 0
    expect(time.timeout()).toBeGreaterThanOrEqual(200);
    expect(time.timeout()).toBeLessThan(210);
  });

  it('never exceeds the ceiling, however slow the answers', () => {
    const time = new ResponseTime(150, 1000);
    for (let i = 0; i < 10; i++) time.sample(5000);
    expect(time.timeout()).toBe(1000);
  });

  it('rises with jitter: a member that answers in 5 ms or 120 ms is waited for longer than one at 60 ms', () => {
    const steady = new ResponseTime(0, 1000);
    const jittery = new ResponseTime(0, 1000);
    for (let i = 0; i < 40; i++) {
      steady.sample(60);
      jittery.sample(i % 2 === 0 ? 5 : 120);
    }
    expect(jittery.timeout()).toBeGreaterThan(steady.timeout() + 100);
  });

  it('ignores impossible samples', () => {
    const time = new ResponseTime(150, 1000);
    time.sample(Number.NaN);
    time.sample(-5);
    time.sample(Number.POSITIVE_INFINITY);
    expect(time.timeout()).toBe(1000);
  });

  it('a floor above the ceiling is the ceiling', () => {
    const time = new ResponseTime(500, 300);
    time.sample(1);
    expect(time.timeout()).toBe(300);
  });
});
