/**
 * The made-up history both report tests draw (the pure renderer's and the one rendered in Chromium): a stale
 * read, two lock holds that overlap, and a fault band. Each test adds operations of its own.
 */
import type { KvOperation } from '../src/index.js';

/** The history's time origin (wall-clock ms). */
export const T = 1_780_000_000_000;

/** p3 reads "a" of `key` after p2 wrote "b" there: a stale read, not linearizable. */
export function staleRead(key: string): KvOperation[] {
  return [
    {
      process: 'p1',
      start: T,
      end: T + 10,
      input: { type: 'set', key, value: 'a' },
      output: { status: 'ok', index: 5 },
    },
    {
      process: 'p2',
      start: T + 20,
      end: T + 30,
      input: { type: 'set', key, value: 'b' },
      output: { status: 'ok', index: 6 },
    },
    {
      process: 'p3',
      start: T + 40,
      end: T + 50,
      input: { type: 'get', key },
      output: { status: 'ok', value: 'a', index: 5 },
    },
  ];
}

/** Two lock holds that overlap from T + 50 to T + 60. */
export const holds = [
  { process: 'p1', kind: 'hold', start: T, end: T + 60, ok: true, token: 1 },
  { process: 'p2', kind: 'hold', start: T + 50, end: T + 100, ok: true, token: 2 },
];

/** A leader kill as a fault band. */
export const faults = [{ name: 'kill', target: 'etcd-1', start: T + 25, end: T + 45 }];
