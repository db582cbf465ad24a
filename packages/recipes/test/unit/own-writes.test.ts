import { afterEach, describe, expect, it, vi } from 'vitest';
import { OwnWrites } from '../../src/core/own-writes.js';
import { ValidityDeadline } from '../../src/core/validity.js';

describe('OwnWrites: telling our writes of a kept key from everyone else', () => {
  it('knows the indexes its writes made, and never moves the newest back for a late reply', () => {
    const own = new OwnWrites({ createdIndex: 10, modifiedIndex: 10, value: 'a' });
    own.wrote(14);
    own.wrote(12); // a late reply of an older attempt
    expect(own.modifiedIndex).toBe(14);
    expect(own.made(12)).toBe(true);
    expect(own.made(13)).toBe(false);
  });

  it('forgets the oldest of its indexes past 16', () => {
    const own = new OwnWrites({ createdIndex: 1, modifiedIndex: 1 });
    for (let index = 2; index <= 17; index++) own.wrote(index);
    expect(own.made(1)).toBe(false);
    expect(own.made(2)).toBe(true);
    expect(own.made(17)).toBe(true);
  });

  it('may hold the value of a write in flight besides the confirmed one, until a reply confirms one', () => {
    const own = new OwnWrites({ createdIndex: 10, modifiedIndex: 10, value: 'waiting' });
    own.expect('held');
    expect(own.mayHold('waiting')).toBe(true);
    expect(own.mayHold('held')).toBe(true);
    expect(own.value).toBe('held');
    own.confirm('held');
    expect(own.mayHold('waiting')).toBe(false);
    expect(own.values).toEqual(['held']);
  });

  it('an empty value is a value (a refresh keeps it), not an unknown one', () => {
    const own = new OwnWrites({ createdIndex: 10, modifiedIndex: 10, value: '' });
    expect(own.mayHold('')).toBe(true);
    expect(own.judge({ createdIndex: 10, value: '' })).toBe('ours');
  });

  it('with its values unknown, no value can be told to be ours', () => {
    const own = new OwnWrites({ createdIndex: 10, modifiedIndex: 10 });
    expect(own.judge({ createdIndex: 10, value: 'x' })).toBe('changed');
    const told = new OwnWrites({ createdIndex: 10, modifiedIndex: 10, value: 'x' });
    told.expect(undefined); // a write whose value is not told
    expect(told.value).toBeUndefined();
    expect(told.judge({ createdIndex: 10, value: 'x' })).toBe('changed');
  });

  it('judges a node by its createdIndex first, then by the values our writes may have given it', () => {
    const own = new OwnWrites({ createdIndex: 10, modifiedIndex: 11, value: 'mine' });
    expect(own.judge({ createdIndex: 12, value: 'mine' })).toBe('recreated');
    expect(own.judge({ createdIndex: 10, value: 'theirs' })).toBe('changed');
    expect(own.judge({ createdIndex: 10, value: 'mine' })).toBe('ours');
  });

  it('adopting a node takes its index as ours and its value as the one confirmed', () => {
    const own = new OwnWrites({ createdIndex: 10, modifiedIndex: 10, value: 'a' });
    own.expect('b');
    own.adopt({ modifiedIndex: 15, value: 'b' });
    expect(own.modifiedIndex).toBe(15);
    expect(own.made(15)).toBe(true);
    expect(own.values).toEqual(['b']);
  });
});

/** The check runs in an immediate after the timer; the fake clock runs an immediate set while it ticks 1 ms later. */
const PHASE = 1;

describe('ValidityDeadline: a kept key is trusted until its last refresh was sent plus its lifetime', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('runs onPassed when the lifetime passes without a push, not before', () => {
    vi.useFakeTimers({
      toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate', 'performance'],
    });
    const passed = vi.fn();
    const deadline = new ValidityDeadline(1000, performance.now(), passed);
    vi.advanceTimersByTime(999);
    expect(passed).not.toHaveBeenCalled();
    expect(deadline.passed).toBe(false);
    vi.advanceTimersByTime(1 + PHASE);
    expect(passed).toHaveBeenCalledOnce();
    expect(deadline.passed).toBe(true);
  });

  it('a push counts the lifetime from the send of the refresh, not from its reply', () => {
    vi.useFakeTimers({
      toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate', 'performance'],
    });
    const passed = vi.fn();
    const start = performance.now();
    const deadline = new ValidityDeadline(1000, start, passed);
    vi.advanceTimersByTime(800); // a refresh sent at 500 ms is answered at 800 ms
    deadline.push(start + 500);
    expect(deadline.until).toBe(start + 1500);
    vi.advanceTimersByTime(699 + PHASE);
    expect(passed).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(passed).toHaveBeenCalledOnce();
  });

  it('a refresh reply read right after the deadline timer (a blocked loop: timers first) still counts', () => {
    vi.useFakeTimers({
      toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate', 'performance'],
    });
    const passed = vi.fn();
    const start = performance.now();
    const deadline = new ValidityDeadline(1000, start, passed);
    // the reply of a refresh sent at 600 ms, read after the timers of the loop's turn at 1000 ms (its I/O)
    setTimeout(() => deadline.push(start + 600), 1000);
    vi.advanceTimersByTime(1000 + PHASE);
    expect(passed).not.toHaveBeenCalled();
    expect(deadline.until).toBe(start + 1600);
    vi.advanceTimersByTime(600);
    expect(passed).toHaveBeenCalledOnce();
  });

  it('a deadline counted from the past fires at once; a cleared one never', () => {
    vi.useFakeTimers({
      toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate', 'performance'],
    });
    const late = vi.fn();
    new ValidityDeadline(100, performance.now() - 500, late);
    vi.advanceTimersByTime(PHASE);
    expect(late).toHaveBeenCalledOnce();
    const cleared = vi.fn();
    new ValidityDeadline(100, performance.now(), cleared).clear();
    vi.advanceTimersByTime(1000);
    expect(cleared).not.toHaveBeenCalled();
  });
});
