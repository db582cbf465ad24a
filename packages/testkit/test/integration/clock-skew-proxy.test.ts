import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, startClockSkewProxy, startCluster } from '../../src/index.js';

// Bounds from the mechanism: the leader deletes expired keys at its SYNC tick (every 500 ms), so a key goes
// between its expiration and one tick later; a loaded 2-core machine may delay a tick or a notification.
const SYNC_TICK_MS = 500;
const HEADROOM_MS = 2000;

interface Reply {
  status: number;
  headers: Headers;
  body: {
    action?: string;
    errorCode?: number;
    node?: { key: string; ttl?: number; modifiedIndex: number; expiration?: string };
  };
  text: string;
}

async function send(
  url: string,
  options: { method?: string; form?: string; headers?: Record<string, string>; signal?: AbortSignal } = {},
): Promise<Reply> {
  const { method = options.form === undefined ? 'GET' : 'PUT', form, headers = {}, signal } = options;
  const response = await fetch(url, {
    method,
    headers:
      form === undefined ? headers : { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    ...(form === undefined ? {} : { body: form }),
    ...(signal ? { signal } : {}),
  });
  const text = await response.text();
  let body: Reply['body'] = {};
  try {
    body = JSON.parse(text) as Reply['body'];
  } catch {
    // the proxy's own refusals are text
  }
  return { status: response.status, headers: response.headers, body, text };
}

/** Watches `dir` (recursively) from `fromIndex` until `count` keys expired; resolves with when each did. */
async function expiries(
  baseURL: string,
  dir: string,
  fromIndex: number,
  count: number,
): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  let index = fromIndex;
  const signal = AbortSignal.timeout(15_000);
  while (seen.size < count) {
    const { body } = await send(`${baseURL}/v2/keys${dir}?wait=true&recursive=true&waitIndex=${index}`, {
      signal,
    });
    if (body.action === 'expire') seen.set(body.node!.key, performance.now());
    index = body.node!.modifiedIndex + 1;
  }
  return seen;
}

let cluster: Cluster;
beforeAll(async () => {
  cluster = await startCluster({ size: 1 });
});
afterAll(() => cluster?.close());

const keyURL = (base: string, key: string): string => `${base}/v2/keys/skew-test${key}`;

describe('ClockSkewProxy', () => {
  it('a key set with ttl=5 through a member 2 s behind expires about 2 s before one set directly', async () => {
    await using skewed = await startClockSkewProxy(cluster.members[0]!, { behindMs: 2000 });
    const direct = cluster.clientURLs[0]!;
    const t0 = performance.now();
    const [plain, shifted] = await Promise.all([
      send(keyURL(direct, '/expiry/direct'), { form: 'value=d&ttl=5' }),
      send(keyURL(skewed.url, '/expiry/skewed'), { form: 'value=s&ttl=5' }),
    ]);
    expect([plain.status, shifted.status]).toEqual([201, 201]);
    expect(plain.body.node?.ttl).toBe(5);
    expect(shifted.body.node?.ttl).toBe(3);
    expect(skewed.rewrittenTtls).toBe(1);
    const from = Math.min(plain.body.node!.modifiedIndex, shifted.body.node!.modifiedIndex) + 1;
    // the watch goes through the proxy too
    const expired = await expiries(skewed.url, '/skew-test/expiry', from, 2);
    const skewedAt = expired.get('/skew-test/expiry/skewed')! - t0;
    const directAt = expired.get('/skew-test/expiry/direct')! - t0;
    // wall clock (etcd) against performance.now (here): allow a few ms between them
    expect(skewedAt).toBeGreaterThan(3000 - 50);
    expect(skewedAt).toBeLessThan(3000 + SYNC_TICK_MS + HEADROOM_MS);
    expect(directAt).toBeGreaterThan(5000 - 50);
    expect(directAt).toBeLessThan(5000 + SYNC_TICK_MS + HEADROOM_MS);
    // etcd stamped them 2 s apart (the two writes were sent together; on a loaded machine they may reach etcd
    // a moment apart)
    const stamped = (reply: typeof plain): number => Date.parse(reply.body.node!.expiration!);
    expect(Math.abs(stamped(plain) - stamped(shifted) - 2000)).toBeLessThan(HEADROOM_MS / 2);
    // and each went at the first tick after its expiration: about 2 s apart, one tick either way, and a tick
    // that comes late on a loaded machine
    expect(directAt - skewedAt).toBeGreaterThan(2000 - SYNC_TICK_MS - HEADROOM_MS / 2);
    expect(directAt - skewedAt).toBeLessThan(2000 + SYNC_TICK_MS + HEADROOM_MS);
  });

  it('shifts the ttl of the query string, of createInOrder and of refreshes; ahead lengthens it', async () => {
    await using behind = await startClockSkewProxy(cluster.clientURLs[0]!, { behindMs: 2000 });
    await using ahead = await startClockSkewProxy(cluster.clientURLs[0]!, { aheadMs: 1000 });
    const inQuery = await send(`${keyURL(behind.url, '/q')}?ttl=5`, { form: 'value=v' });
    expect(inQuery.body.node?.ttl).toBe(3);
    const inOrder = await send(keyURL(behind.url, '/dir'), { method: 'POST', form: 'value=v&ttl=6' });
    expect([inOrder.status, inOrder.body.node?.ttl]).toEqual([201, 4]);
    const refreshed = await send(keyURL(behind.url, '/q'), { form: 'ttl=9&refresh=true&prevExist=true' });
    expect([refreshed.status, refreshed.body.node?.ttl]).toEqual([200, 7]);
    const later = await send(keyURL(ahead.url, '/a'), { form: 'value=v&ttl=2' });
    expect(later.body.node?.ttl).toBe(3);
    const noTtl = await send(keyURL(behind.url, '/q'), { form: 'value=w&ttl=' }); // removes the TTL
    expect([noTtl.status, noTtl.body.node?.ttl]).toEqual([200, undefined]);
    expect(behind.rewrittenTtls).toBe(3);
  });

  it('jump(): the member clock jumps; writes from then on get the new expiration, earlier keys keep theirs', async () => {
    await using proxy = await startClockSkewProxy(cluster.clientURLs[0]!, { behindMs: 0 });
    const before = await send(keyURL(proxy.url, '/jump-before'), { form: 'value=v&ttl=10' });
    expect(before.body.node?.ttl).toBe(10);
    proxy.jump({ behindMs: 3000 });
    expect(proxy.ttlShiftSeconds).toBe(-3);
    const after = await send(keyURL(proxy.url, '/jump-after'), { form: 'value=v&ttl=10' });
    expect(after.body.node?.ttl).toBe(7);
    const kept = await send(keyURL(cluster.clientURLs[0]!, '/jump-before'), { method: 'GET' });
    expect(kept.body.node?.ttl).toBeGreaterThan(7); // its expiration was stamped before the jump
    proxy.jump({ aheadMs: 2000 });
    expect((await send(keyURL(proxy.url, '/jump-ahead'), { form: 'value=v&ttl=10' })).body.node?.ttl).toBe(
      12,
    );
    expect(() => proxy.jump({ behindMs: 1500 })).toThrow(RangeError);
    expect(proxy.ttlShiftSeconds).toBe(2);
  });

  it('refuses a write whose ttl would fall below 1 s, and forwards nothing of it', async () => {
    await using skewed = await startClockSkewProxy(cluster.clientURLs[0]!, { behindMs: 5000 });
    const refused = await send(keyURL(skewed.url, '/short'), { form: 'value=v&ttl=3' });
    expect(refused.status).toBe(400);
    expect(refused.text).toMatch(/clock-skew proxy: .*at least 6/);
    expect((await send(keyURL(cluster.clientURLs[0]!, '/short'))).status).toBe(404);
    const shortest = await send(keyURL(skewed.url, '/short'), { form: 'value=v&ttl=6' });
    expect(shortest.body.node?.ttl).toBe(1);
  });

  it('holds a watch long-poll open and streams its event, with the headers etcd sent', async () => {
    await using skewed = await startClockSkewProxy(cluster.clientURLs[0]!, { behindMs: 1000 });
    const set = await send(keyURL(cluster.clientURLs[0]!, '/watched'), { form: 'value=1' });
    const index = set.body.node!.modifiedIndex + 1;
    const watching = send(`${keyURL(skewed.url, '/watched')}?wait=true&waitIndex=${index}`);
    const early = await Promise.race([watching, new Promise((r) => setTimeout(() => r('waiting'), 500))]);
    expect(early).toBe('waiting');
    await send(keyURL(cluster.clientURLs[0]!, '/watched'), { form: 'value=2' });
    const event = await watching;
    expect(event.body).toMatchObject({
      action: 'set',
      node: { key: '/skew-test/watched', modifiedIndex: index },
    });
    expect(event.headers.get('x-etcd-cluster-id')).toMatch(/^[0-9a-f]+$/);
  });

  it('cut() holds every request unanswered until heal()', async () => {
    await using skewed = await startClockSkewProxy(cluster.clientURLs[0]!, { behindMs: 1000 });
    expect((await send(keyURL(skewed.url, '/cut'), { form: 'value=1&ttl=5' })).status).toBe(201);
    skewed.cut();
    await expect(send(keyURL(skewed.url, '/cut'), { signal: AbortSignal.timeout(700) })).rejects.toThrow(
      /abort|timeout/i,
    );
    skewed.heal();
    // heal() closes the held connections; let the client's pool see that before it picks one
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await send(keyURL(skewed.url, '/cut'))).body.node?.ttl).toBeLessThanOrEqual(4);
  });

  it('checks its options at once', () => {
    const url = cluster.clientURLs[0]!;
    expect(() => startClockSkewProxy(url, { behindMs: 1500 })).toThrow(RangeError);
    expect(() => startClockSkewProxy(url, { aheadMs: -1000 })).toThrow(RangeError);
    expect(() => startClockSkewProxy(url, {})).toThrow(TypeError);
    expect(() => startClockSkewProxy(url, { behindMs: 1000, aheadMs: 1000 })).toThrow(TypeError);
    expect(() => startClockSkewProxy('https://127.0.0.1:1', { behindMs: 1000 })).toThrow(TypeError);
  });
});

describe('ClockSkewProxy with auth on', () => {
  it('passes credentials through: a write with them succeeds (ttl shifted), one without is refused by etcd', async () => {
    await using secured = await startCluster({ size: 1 });
    await using skewed = await startClockSkewProxy(secured.members[0]!, { behindMs: 2000 });
    const root = { authorization: `Basic ${Buffer.from('root:pw').toString('base64')}` };
    const json = { 'content-type': 'application/json' };
    const admin = async (path: string, body?: object): Promise<number> => {
      const response = await fetch(`${skewed.url}/v2/auth${path}`, {
        method: 'PUT',
        headers: { ...json, ...root },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      await response.arrayBuffer();
      return response.status;
    };
    expect(await admin('/users/root', { user: 'root', password: 'pw' })).toBe(201);
    expect(await admin('/enable')).toBe(200);
    expect(
      await admin('/roles/guest', { role: 'guest', revoke: { kv: { read: ['/*'], write: ['/*'] } } }),
    ).toBe(200);
    const anonymous = await send(`${skewed.url}/v2/keys/secret`, { form: 'value=v&ttl=5' });
    expect([anonymous.status, anonymous.body.errorCode]).toEqual([401, 110]);
    const authorized = await send(`${skewed.url}/v2/keys/secret`, { form: 'value=v&ttl=5', headers: root });
    expect([authorized.status, authorized.body.node?.ttl]).toEqual([201, 3]);
  });
});
