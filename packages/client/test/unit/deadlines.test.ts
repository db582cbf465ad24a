import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { deadline } from '../../src/internal/deadlines.js';

/**
 * Deadlines expire in an immediate after their timer; the fake clock runs an immediate set while it ticks 1 ms
 * later.
 */
const PHASE = 1;

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'performance'] });
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
      ['a', 1000 + PHASE],
      ['c', 1250 + PHASE],
    ]);
  });

  it('after the entries ahead ended, the next fires at its deadline (and a loop phase)', () => {
    const fired: number[] = [];
    const t0 = performance.now();
    const first = deadline(700, () => fired.push(-1));
    vi.advanceTimersByTime(300);
    deadline(700, () => fired.push(performance.now() - t0));
    first.cancel();
    vi.advanceTimersByTime(699 + PHASE);
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(fired).toEqual([1000 + PHASE]);
  });

  it('keeps timeouts of different lengths apart', () => {
    const fired: string[] = [];
    deadline(500, () => fired.push('long'));
    deadline(200, () => fired.push('short'));
    vi.advanceTimersByTime(200 + PHASE);
    expect(fired).toEqual(['short']);
    vi.advanceTimersByTime(300);
    expect(fired).toEqual(['short', 'long']);
  });

  it('arms a timer again for deadlines added after the queue ran empty', () => {
    const fired: string[] = [];
    deadline(100, () => fired.push('a')).cancel();
    vi.advanceTimersByTime(100 + PHASE);
    deadline(100, () => fired.push('b'));
    vi.advanceTimersByTime(100 + PHASE);
    expect(fired).toEqual(['b']);
  });

  it('after the loop was blocked past a deadline, a reply that arrived in time is read before it expires', async () => {
    vi.useRealTimers();
    let serverSide: Socket | undefined;
    const server = createServer((socket) => {
      serverSide = socket;
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as { port: number };
    const client = connect(port, '127.0.0.1');
    await once(client, 'connect');
    while (!serverSide) await new Promise((resolve) => setImmediate(resolve));
    try {
      let expired = false;
      const pending = deadline(50, () => {
        expired = true;
      });
      const replied = once(client, 'data').then(() => pending.cancel());
      // the reply is sent at once, but the loop is blocked past the deadline before it can be read
      serverSide.write('reply');
      const blockedUntil = performance.now() + 200;
      while (performance.now() < blockedUntil) {
        // a long synchronous task
      }
      await replied;
      await new Promise((resolve) => setTimeout(resolve, 10));
      expect(expired).toBe(false);
    } finally {
      client.destroy();
      serverSide.destroy();
      server.close();
    }
  });
});
