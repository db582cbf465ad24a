import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sharedClusterEndpoints, uniqueKeyPrefix } from '@etcdkit/testkit/vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, KeysAPI } from '../../src/index.js';

const target = new URL(sharedClusterEndpoints()[0]!);
let proxy: Server;
let proxyURL = '';
let healthAnswer: { status: number; body: string } = { status: 404, body: '404 page not found' };
let healthProbes = 0;

/** A reverse proxy that exposes only `/v2/` of a real member, as some gateways do: `/health` gets `healthAnswer`. */
beforeAll(async () => {
  proxy = createServer((req, res) => {
    if (!req.url?.startsWith('/v2/')) {
      healthProbes++;
      res.writeHead(healthAnswer.status, { 'content-type': 'text/plain' }).end(healthAnswer.body);
      return;
    }
    const upstream = request(
      { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers },
      (reply) => {
        res.writeHead(reply.statusCode ?? 502, reply.headers);
        reply.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  proxyURL = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
});
afterAll(async () => {
  proxy.closeAllConnections();
  await new Promise((resolve) => proxy.close(resolve));
});

describe('watch liveness behind a proxy that exposes only /v2/', () => {
  const LIVENESS_MS = 200;
  // Enough probes that the old verdict (two failures in a row) would have given up on the member several times.
  const QUIET_MS = LIVENESS_MS * 8;

  for (const answer of [
    { status: 404, body: '404 page not found' },
    { status: 200, body: '<html>ok</html>' },
  ]) {
    it(`keeps waiting when /health answers ${answer.status} ${answer.body}, and gets its event`, async () => {
      healthAnswer = answer;
      healthProbes = 0;
      const client = new Client({ endpoints: [proxyURL], watchLivenessInterval: LIVENESS_MS });
      const keys = new KeysAPI(client);
      const key = `${uniqueKeyPrefix('liveness')}/k`;
      const watcher = keys.watcher(key);
      const next = watcher.next();
      await new Promise((resolve) => setTimeout(resolve, QUIET_MS));
      expect(healthProbes).toBeGreaterThanOrEqual(2);
      const set = await new KeysAPI(new Client({ endpoints: [target.origin] })).set(key, 'v');
      const event = await next;
      expect(event.node?.value).toBe('v');
      expect(event.node?.modifiedIndex).toBe(set.node?.modifiedIndex);
      await client.close();
    });
  }

  it('probes a member once per interval, however many watches wait on it', async () => {
    healthAnswer = { status: 200, body: '{"health":"true"}' };
    const WATCHES = 5;
    const client = new Client({ endpoints: [proxyURL], watchLivenessInterval: LIVENESS_MS });
    const keys = new KeysAPI(client);
    const prefix = uniqueKeyPrefix('liveness-shared');
    const pending = Array.from({ length: WATCHES }, (_, i) => keys.watcher(`${prefix}/${i}`).next());
    await new Promise((resolve) => setTimeout(resolve, 100));
    healthProbes = 0;
    await new Promise((resolve) => setTimeout(resolve, QUIET_MS));
    // One loop: about QUIET_MS / LIVENESS_MS probes (one per watch would be WATCHES times that).
    expect(healthProbes).toBeGreaterThanOrEqual(2);
    expect(healthProbes).toBeLessThanOrEqual(QUIET_MS / LIVENESS_MS + 1);
    const writer = new Client({ endpoints: [target.origin] });
    for (let i = 0; i < WATCHES; i++) await new KeysAPI(writer).set(`${prefix}/${i}`, 'v');
    expect((await Promise.all(pending)).map((event) => event.node?.value)).toEqual(Array(WATCHES).fill('v'));
    await writer.close();
    await client.close();
  });
});
