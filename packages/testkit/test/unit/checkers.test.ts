import { describe, expect, it } from 'vitest';
import {
  checkFencedWrites,
  checkNoOverlap,
  checkRisingTokens,
  formatFaultLog,
  History,
  median,
  type Operation,
  seededRandom,
} from '../../src/index.js';

const hold = (process: string, token: number, start: number, end: number): Operation => ({
  process,
  kind: 'hold',
  token,
  start,
  end,
  ok: true,
});

describe('checkers', () => {
  it('accept a valid lock history', () => {
    const holds = [hold('a', 10, 0, 5), hold('b', 12, 6, 9), hold('a', 15, 9.5, 12)];
    expect(checkNoOverlap(holds)).toEqual([]);
    expect(checkRisingTokens(holds)).toEqual([]);
  });

  it('find overlapping holds, falling or repeated tokens', () => {
    const holds = [hold('a', 10, 0, 5), hold('b', 9, 4, 9), hold('c', 9, 10, 11)];
    const overlaps = checkNoOverlap(holds);
    expect(overlaps).toHaveLength(1);
    expect(overlaps[0]!.message).toMatch(/a \(token 10\) and b \(token 9\) held at once for 1\.0 ms/);
    expect(checkNoOverlap(holds, { graceMs: 2 })).toEqual([]);
    // a hold's detail (how it ended) is in the message
    const [told] = checkNoOverlap([{ ...hold('a', 10, 0, 5), detail: 'lost' }, hold('b', 11, 4, 9)]);
    expect(told!.message).toMatch(/^a \(token 10; lost\) and b \(token 11\) held at once/);
    expect(checkRisingTokens(holds).map((v) => v.ops.map((op) => op.token))).toEqual([
      [10, 9],
      [9, 9],
    ]);
    // failed operations do not count
    expect(checkNoOverlap([hold('a', 1, 0, 5), { ...hold('b', 2, 1, 2), ok: false }])).toEqual([]);
  });

  it('find a stale fenced write accepted after a newer one', () => {
    const write = (token: number, end: number, ok = true): Operation => ({
      process: `p${token}`,
      kind: 'write',
      token,
      start: end - 1,
      end,
      ok,
    });
    expect(checkFencedWrites([write(1, 1), write(2, 2), write(2, 3), write(1, 4, false)])).toEqual([]);
    const violations = checkFencedWrites([write(1, 1), write(3, 2), write(2, 3)]);
    expect(violations.map((v) => v.message)).toEqual(['p2 wrote with token 2 after token 3 was written']);
  });

  it('History.run records timing, outcome and fencing tokens', async () => {
    const history = new History();
    await history.run('w1', 'acquire', async () => ({ fencingToken: 7 }));
    await expect(
      history.run('w2', 'acquire', async () => {
        throw new Error('lost');
      }),
    ).rejects.toThrow('lost');
    const [ok, failed] = history.operations;
    expect(ok).toMatchObject({ process: 'w1', kind: 'acquire', ok: true, token: 7 });
    expect(ok!.end).toBeGreaterThanOrEqual(ok!.start);
    expect(failed).toMatchObject({ process: 'w2', ok: false, detail: 'lost' });
    const other = new History();
    other.merge(history);
    expect(other.ofKind('acquire')).toHaveLength(1);
  });
});

describe('helpers', () => {
  it('seededRandom repeats its sequence for a seed and differs across seeds', () => {
    const draw = (seed: number): number[] => {
      const random = seededRandom(seed);
      return Array.from({ length: 5 }, random);
    };
    expect(draw(42)).toEqual(draw(42));
    expect(draw(42)).not.toEqual(draw(43));
    expect(draw(1).every((x) => x >= 0 && x < 1)).toBe(true);
  });

  it('median and the fault log table', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
    expect(median([])).toBeNaN();
    const table = formatFaultLog([{ at: 10, fault: 'kill', members: ['m1'], healedAt: 900 }]);
    expect(table).toContain('| 10 | kill | m1 | 900 |  |');
  });
});
