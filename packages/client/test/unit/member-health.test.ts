import { Agent } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { EndpointError, HeaderTimeoutError, RedirectError, ResponseTooLargeError } from '../../src/index.js';
import { parseEndpoint } from '../../src/internal/endpoints.js';
import { MemberHealth } from '../../src/internal/member-health.js';
import { hostileServer } from './hostile.js';

const [A, B, C] = ['http://127.0.0.1:1', 'http://127.0.0.1:2', 'http://127.0.0.1:3'].map(parseEndpoint) as [
  ReturnType<typeof parseEndpoint>,
  ReturnType<typeof parseEndpoint>,
  ReturnType<typeof parseEndpoint>,
];
const endpoints = [A, B, C];
const dispatcher = new Agent();
// Probes every minute: none runs during these tests (behaviour against real members is tested elsewhere).
let health = new MemberHealth(dispatcher, 60_000, 60_000);
afterEach(() => {
  health.close();
  health = new MemberHealth(dispatcher, 60_000, 60_000);
});

describe('the member health view (order only; no probe runs here)', () => {
  it("keeps Go's order, allocating nothing, while no member is suspect", () => {
    expect(health.order(endpoints, 1)).toBeUndefined();
    expect(health.next(endpoints, 2)).toBe(0);
  });

  it('tries suspects last and never advances the pin to one', () => {
    health.failed(B, new HeaderTimeoutError(B.text));
    expect(health.isSuspect(B)).toBe(true);
    expect(health.order(endpoints, 0)).toEqual([0, 2, 1]);
    expect(health.order(endpoints, 1)).toEqual([2, 0, 1]);
    expect(health.next(endpoints, 0)).toBe(2);
    health.failed(C, new EndpointError(C.text, 'connect ECONNREFUSED'));
    health.failed(A, new EndpointError(A.text, 'no leader'));
    expect(health.order(endpoints, 2)).toEqual([2, 0, 1]);
    expect(health.next(endpoints, 0)).toBe(1); // all suspect: Go's next
  });

  it('clears a suspect that answers', () => {
    health.failed(B, new HeaderTimeoutError(B.text));
    health.answered(B);
    expect(health.isSuspect(B)).toBe(false);
    expect(health.order(endpoints, 0)).toBeUndefined();
  });

  it('takes only member failures: not a reply too large, not a redirect error', () => {
    health.failed(A, new ResponseTooLargeError(A.text, 10));
    health.failed(A, new RedirectError('too many redirects'));
    expect(health.isSuspect(A)).toBe(false);
  });

  it('moves the watches waiting on a member that a request finds down', () => {
    const watch = health.watch(A)!;
    const other = health.watch(B)!;
    health.failed(A, new HeaderTimeoutError(A.text));
    expect(watch.hook.aborted).toBe(true);
    expect(watch.hook.reason).toBeInstanceOf(EndpointError);
    expect((watch.hook.reason as EndpointError).endpoint).toBe(A.text);
    expect(other.hook.aborted).toBe(false);
    watch.release();
    other.release();
    expect(new MemberHealth(dispatcher, 0, 1000).watch(A)).toBeUndefined();
  });

  it('gives the waits on a member one lease, and a fresh one after the member was found down', () => {
    const first = health.watch(A)!;
    const second = health.watch(A)!;
    expect(second).toBe(first);
    expect(first.holders).toBe(2);
    health.failed(A, new HeaderTimeoutError(A.text));
    expect(first.hook.aborted).toBe(true);
    const later = health.watch(A)!;
    expect(later).not.toBe(first);
    expect(later.hook.aborted).toBe(false);
    // the waits of the dead lease end after the new one began: they do not count against it
    first.release();
    second.release();
    expect(later.holders).toBe(1);
    later.release();
    expect(later.holders).toBe(0);
  });

  it('forgets members no longer among the endpoints', () => {
    health.failed(C, new HeaderTimeoutError(C.text));
    health.retain([A, B]);
    expect(health.isSuspect(C)).toBe(false);
    expect(health.order([A, B], 0)).toBeUndefined();
  });
});

describe('the member health view: probes (a small HTTP server stands in for a member)', () => {
  it('times each probe a member passes (a sample of the adaptive retrySafeTimeout), and gives each its timeout', async () => {
    await using member = await hostileServer((_request, response) => {
      setTimeout(() => response.end('{"health":"true"}'), 10);
    });
    const passed: number[] = [];
    const asked: number[] = [];
    const probing = new MemberHealth(
      dispatcher,
      400,
      400,
      () => {
        asked.push(1);
        return 2000; // the interval is shorter: each probe waits 400 ms at most
      },
      (ms) => passed.push(ms),
    );
    const watch = probing.watch(parseEndpoint(member.url))!;
    await expect.poll(() => passed.length, { timeout: 5000 }).toBeGreaterThanOrEqual(2);
    watch.release();
    probing.close();
    expect(member.seen[0]?.path).toBe('/health');
    expect(asked.length).toBeGreaterThanOrEqual(2);
    expect(Math.min(...passed)).toBeGreaterThanOrEqual(8);
    expect(watch.hook.aborted).toBe(false);
  });

  it('a proxy that answers /health with 404 keeps the member, and is no sample (no raft round)', async () => {
    await using proxy = await hostileServer((_request, response) => {
      response.writeHead(404);
      response.end('not found');
    });
    const passed: number[] = [];
    const probing = new MemberHealth(
      dispatcher,
      100,
      100,
      () => 2000,
      (ms) => passed.push(ms),
    );
    const watch = probing.watch(parseEndpoint(proxy.url))!;
    await expect.poll(() => proxy.seen.length, { timeout: 5000 }).toBeGreaterThanOrEqual(2);
    watch.release();
    probing.close();
    expect(watch.hook.aborted).toBe(false);
    expect(passed).toEqual([]);
  });

  it('a probe that outlasts its timeout fails the member, and is not timed', async () => {
    await using member = await hostileServer(() => {}); // never answers
    const passed: number[] = [];
    const probing = new MemberHealth(
      dispatcher,
      40,
      40,
      () => 60,
      (ms) => passed.push(ms),
    );
    const endpoint = parseEndpoint(member.url);
    const watch = probing.watch(endpoint)!;
    // the first probe (after 40 ms) times out after min(interval, timeout) = 40 ms: the watch is moved
    await expect.poll(() => watch.hook.aborted, { timeout: 5000 }).toBe(true);
    expect(probing.isSuspect(endpoint)).toBe(true);
    probing.close();
    expect(passed).toEqual([]);
  });
});
