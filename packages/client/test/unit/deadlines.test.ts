import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { deadline } from '../../src/internal/deadlines.js';

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('deadlines (one timer per timeout value)', () => {
  it('each fires at its own deadline, in order, unless cancelled', () => {
    const fired: [string, number][] = [];
    const t0 = performance.now();
    const at = (name: string) => () => fired.push([name, performance.now() - t0]);
    deadline(1000, at('a'));
    vi.advanceTimersByTime(100);
    const b = deadline(1000, at('b'));
    vi.advanceTimersByTime(150);
    deadline(1000, at('c'));
    b.cancel();
    vi.advanceTimersByTime(5000);
    expect(fired).toEqual([
      ['a', 1000],
      ['c', 1250],
    ]);
  });

  it('after the entries ahead ended, the next fires exactly at its deadline', () => {
    const fired: number[] = [];
    const t0 = performance.now();
    const first = deadline(700, () => fired.push(-1));
    vi.advanceTimersByTime(300);
    deadline(700, () => fired.push(performance.now() - t0));
    first.cancel();
    vi.advanceTimersByTime(699);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(fired).toEqual([1000]);
  });

  it('keeps timeouts of different lengths apart', () => {
    const fired: string[] = [];
    deadline(500, () => fired.push('long'));
    deadline(200, () => fired.push('short'));
    vi.advanceTimersByTime(200);
    expect(fired).toEqual(['short']);
    vi.advanceTimersByTime(300);
    expect(fired).toEqual(['short', 'long']);
  });

  it('arms a timer again for deadlines added after the queue ran empty', () => {
    const fired: string[] = [];
    deadline(100, () => fired.push('a')).cancel();
    vi.advanceTimersByTime(100);
    deadline(100, () => fired.push('b'));
    vi.advanceTimersByTime(100);
    expect(fired).toEqual(['b']);
  });
});
