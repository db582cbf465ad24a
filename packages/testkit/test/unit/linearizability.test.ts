import { describe, expect, it } from 'vitest';
import {
  checkKvLinearizability,
  type KvCheckResult,
  type KvInput,
  type KvOperation,
  type KvOutput,
} from '../../src/index.js';

/** A definite operation of `process` from `start` to `end`. */
function op(process: string, start: number, end: number, input: KvInput, output: KvOutput): KvOperation {
  return { process, start, end, input, output };
}

/** A pending operation (outcome unknown) invoked at `start`; the caller gave up at `start + 1`. */
function pending(process: string, start: number, input: KvInput): KvOperation {
  return { process, start, end: start + 1, input, detail: 'timeout' };
}

const get = (key: string): KvInput => ({ type: 'get', key });
const set = (key: string, value: string): KvInput => ({ type: 'set', key, value });
const create = (key: string, value: string): KvInput => ({ type: 'create', key, value });
const cas = (key: string, value: string, compare: { prevValue?: string; prevIndex?: number }): KvInput => ({
  type: 'cas',
  key,
  value,
  ...compare,
});
const del = (key: string, compare: { prevValue?: string; prevIndex?: number } = {}): KvInput => ({
  type: 'delete',
  key,
  ...compare,
});
const inOrder = (dir: string, value: string): KvInput => ({ type: 'createInOrder', dir, value });

const ok = (index?: number, value?: string): KvOutput => ({
  status: 'ok',
  ...(index === undefined ? {} : { index }),
  ...(value === undefined ? {} : { value }),
});
const notFound: KvOutput = { status: 'not-found' };
const compareFailed: KvOutput = { status: 'compare-failed' };
const exists: KvOutput = { status: 'exists' };

/** An in-order key name: `dir/<index, 20 digits>`. */
const child = (dir: string, index: number): string => `${dir}/${String(index).padStart(20, '0')}`;

/** Reads of other keys and a late read, around every history: none belongs in a counterexample. */
function withNoise(ops: KvOperation[]): KvOperation[] {
  return [
    ...ops,
    op('noise', 0, 100, set('/other', 'n1'), ok(1000)),
    op('noise', 101, 102, get('/other'), ok(1000, 'n1')),
    op('reader', 0.5, 200, get('/elsewhere'), notFound),
  ];
}

function failure(result: KvCheckResult) {
  if (result.ok !== false) throw new Error(`expected a violation, got ${JSON.stringify(result)}`);
  return result;
}

describe('checkKvLinearizability: linearizable histories', () => {
  const cases: [string, KvOperation[]][] = [
    [
      'concurrent overlapping writes, applied in either order',
      [
        op('p1', 0, 10, set('/x', 'a'), ok(5)),
        op('p2', 2, 8, set('/x', 'b'), ok(4)),
        op('p3', 3, 4, get('/x'), ok(4, 'b')),
        op('p3', 11, 12, get('/x'), ok(5, 'a')),
      ],
    ],
    [
      'a pending write seen later',
      [
        op('p1', 0, 1, set('/x', 'a'), ok(1)),
        pending('p2', 2, set('/x', 'b')),
        op('p3', 10, 11, get('/x'), ok(7, 'b')),
        op('p1', 12, 13, set('/x', 'c'), ok(9)),
        op('p3', 14, 15, get('/x'), ok(9, 'c')),
      ],
    ],
    [
      'a pending write never seen',
      [
        op('p1', 0, 1, set('/x', 'a'), ok(1)),
        pending('p2', 2, set('/x', 'b')),
        op('p3', 5, 6, get('/x'), ok(1, 'a')),
        op('p3', 50, 60, get('/x'), ok(1, 'a')),
      ],
    ],
    [
      'a chain of compare-and-swaps, by value and by index, with a loser',
      [
        op('p1', 0, 1, create('/x', '0'), ok(1)),
        op('p1', 2, 3, cas('/x', '1', { prevValue: '0' }), ok(2)),
        op('p2', 2.5, 6, cas('/x', '3', { prevValue: '0' }), compareFailed),
        op('p1', 4, 5, cas('/x', '2', { prevIndex: 2 }), ok(3)),
        op('p3', 7, 8, get('/x'), ok(3, '2')),
        op('p3', 9, 10, del('/x', { prevIndex: 3 }), ok(4)),
        op('p3', 11, 12, get('/x'), { status: 'not-found', storeIndex: 4 }),
        op('p1', 13, 14, create('/x', 'again'), ok(6)),
        op('p2', 13, 14, create('/x', 'lost'), exists),
      ],
    ],
    [
      'createInOrder: rising indexes, keys read back, a pending creation seen later',
      [
        op('p1', 0, 1, inOrder('/q', 'a'), { status: 'ok', key: child('/q', 5), index: 5 }),
        op('p2', 0.5, 3, inOrder('/q', 'b'), { status: 'ok', key: child('/q', 4), index: 4 }),
        op('p1', 4, 5, inOrder('/q', 'c'), { status: 'ok', key: child('/q', 7), index: 7 }),
        pending('p3', 4, inOrder('/q', 'd')),
        op('p1', 6, 7, get(child('/q', 5)), ok(5, 'a')),
        op('p2', 20, 21, get(child('/q', 9)), ok(9, 'd')),
      ],
    ],
    [
      'a pending compare-and-swap whose compare failed, and a pending delete that took effect',
      [
        op('p1', 0, 1, create('/x', 'a'), ok(1)),
        pending('p2', 2, cas('/x', 'z', { prevValue: 'nope' })),
        pending('p3', 2, del('/x')),
        op('p1', 10, 11, get('/x'), notFound),
      ],
    ],
  ];
  for (const [name, ops] of cases) {
    it(name, () => {
      expect(checkKvLinearizability(withNoise(ops))).toMatchObject({ ok: true });
    });
  }
});

describe('checkKvLinearizability: violations and minimal counterexamples', () => {
  const cases: [string, KvOperation[], number[]][] = [
    [
      'a stale read after a completed write',
      [
        op('p1', 0, 1, set('/x', 'a'), ok(1)),
        op('p1', 2, 3, set('/x', 'b'), ok(2)),
        op('p2', 2.5, 3.5, get('/x'), ok(2, 'b')),
        op('p2', 4, 5, get('/x'), ok(1, 'a')),
      ],
      [2, 3],
    ],
    [
      'a stale read after a completed write, without indexes',
      [
        op('p1', 0, 1, set('/x', 'a'), ok()),
        op('p1', 2, 3, set('/x', 'b'), ok()),
        op('p2', 2.5, 3.5, get('/x'), ok(undefined, 'b')),
        op('p2', 4, 5, get('/x'), ok(undefined, 'a')),
      ],
      [0, 2, 3],
    ],
    [
      'a lost compare-and-swap: two swaps from the same value both succeed',
      [
        op('p1', 0, 1, create('/x', '0'), ok(1)),
        op('p2', 2, 3, cas('/x', '1', { prevValue: '0' }), ok(2)),
        op('p3', 4, 5, cas('/x', '2', { prevValue: '0' }), ok(3)),
        op('p1', 6, 7, get('/x'), ok(3, '2')),
      ],
      [1, 2],
    ],
    [
      'two successful creates of one key',
      [
        op('p1', 0, 1, create('/x', 'a'), ok(1)),
        op('p3', 0, 9, get('/x'), notFound),
        op('p2', 2, 3, create('/x', 'b'), ok(2)),
      ],
      [0, 2],
    ],
    [
      'a read of a value never written',
      [op('p1', 0, 1, set('/x', 'a'), ok(1)), op('p2', 2, 3, get('/x'), ok(1, 'ghost'))],
      [1],
    ],
    [
      'an index going backwards',
      [
        op('p1', 0, 1, set('/x', 'a'), ok(5)),
        op('p2', 2, 3, get('/x'), ok(5, 'a')),
        op('p1', 4, 5, set('/x', 'b'), ok(4)),
      ],
      [1, 2],
    ],
    [
      'a read whose index differs from the write it saw',
      [op('p1', 0, 1, set('/x', 'a'), ok(5)), op('p2', 2, 3, get('/x'), ok(6, 'a'))],
      [0, 1],
    ],
    [
      'not found after a completed create',
      [op('p1', 0, 1, create('/x', 'a'), ok(1)), op('p2', 2, 3, get('/x'), notFound)],
      [0, 1],
    ],
    [
      'a compare that held reported as failed',
      [
        op('p1', 0, 1, create('/x', '0'), ok(1)),
        op('p2', 2, 3, cas('/x', '1', { prevIndex: 1 }), compareFailed),
      ],
      [0, 1],
    ],
    [
      'a pending write cannot explain a read before its invocation',
      [
        op('p1', 0, 1, set('/x', 'a'), ok(1)),
        op('p2', 2, 3, get('/x'), ok(2, 'b')),
        pending('p3', 4, set('/x', 'b')),
      ],
      [1],
    ],
  ];
  for (const [name, ops, culprits] of cases) {
    it(name, () => {
      const result = failure(checkKvLinearizability(withNoise(ops)));
      expect(result.key).toBe('/x');
      expect(result.counterexample.minimal).toBe(true);
      expect(result.counterexample.ops).toEqual(culprits.map((i) => ops[i]));
      for (const culprit of result.counterexample.ops) {
        expect(result.counterexample.text).toContain(culprit.process);
      }
    });
  }

  it('createInOrder keys whose indexes fall in real time', () => {
    const ops = [
      op('p1', 0, 1, inOrder('/q', 'a'), { status: 'ok', key: child('/q', 7), index: 7 }),
      op('p2', 2, 3, inOrder('/q', 'b'), { status: 'ok', key: child('/q', 5), index: 5 }),
    ];
    const result = failure(checkKvLinearizability(withNoise(ops)));
    expect(result.key).toBe('/q');
    expect(result.counterexample.ops).toEqual(ops);
    expect(result.counterexample.text).toMatch(/^creations in order under \/q/);
  });

  it('prints each operation with its process, times, input and output', () => {
    const ops = [
      op('p1', 1000, 1001, set('/x', 'a'), ok(1)),
      op('p1', 1002, 1003, set('/x', 'b'), ok(2)),
      op('p2', 1004, 1005, get('/x'), ok(1, 'a')),
      pending('p3', 1006, cas('/x', 'c', { prevValue: 'q' })),
    ];
    const { counterexample } = failure(checkKvLinearizability(ops));
    expect(counterexample.text.split('\n')).toEqual([
      'key /x: not linearizable; 2 of 4 operations (minimal):',
      'p1      [     0.0 ->      1.0   ] set /x := "b"  =>  ok @2',
      'p2      [     2.0 ->      3.0   ] get /x  =>  ok "a" @1',
    ]);
  });
});

describe('checkKvLinearizability: budget', () => {
  it('answers unknown when the search budget runs out', () => {
    const ops: KvOperation[] = [];
    for (let i = 0; i < 12; i++) ops.push(op(`w${i}`, 0, 100, set('/x', `v${i}`), ok()));
    ops.push(op('r', 101, 102, get('/x'), ok(undefined, 'never')));
    const result = checkKvLinearizability(ops, { maxSteps: 50 });
    expect(result).toMatchObject({ ok: 'unknown', key: '/x' });
  });

  it('refuses a budget that is not positive', () => {
    expect(() => checkKvLinearizability([], { timeoutMs: 0 })).toThrow(RangeError);
  });
});
