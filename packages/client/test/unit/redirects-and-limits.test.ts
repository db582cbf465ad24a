import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import {
  AuthUserAPI,
  Client,
  ClusterError,
  DEFAULT_MAX_RESPONSE_SIZE,
  KeysAPI,
  RedirectError,
  ResponseTooLargeError,
} from '../../src/index.js';
import { pinOrder } from '../order.js';
import { hostileServer, keysReplyWith, reachableText } from './hostile.js';

const node = { key: '/k', value: 'v', createdIndex: 5, modifiedIndex: 6 };
const credentials = { username: 'root', password: 's3cret' };
const basic = `Basic ${Buffer.from('root:s3cret').toString('base64')}`;

/** A handler that redirects every request to `target` + its path. */
const redirectTo = (target: () => string) => (request: IncomingMessage, response: ServerResponse) => {
  response.writeHead(307, { location: `${target()}${request.url ?? '/'}` }).end();
};

describe('credentials on redirects', () => {
  it('go to a redirect target that is one of the endpoints, not to any other origin', async () => {
    await using elsewhere = await hostileServer(keysReplyWith({ action: 'get', node }));
    await using member = await hostileServer(keysReplyWith({ action: 'get', node }));
    await using first = await hostileServer((request, response) => {
      const target = request.url?.includes('/out') ? elsewhere.url : member.url;
      redirectTo(() => target)(request, response);
    });
    await using client = new Client({ endpoints: [first.url, member.url], ...credentials });
    pinOrder(client, [first.url, member.url]);
    const keys = new KeysAPI(client);
    await keys.get('/in');
    await keys.get('/out');
    expect(first.seen.map((s) => s.headers.authorization)).toEqual([basic, basic]);
    expect(member.seen.map((s) => s.headers.authorization)).toEqual([basic]);
    expect(elsewhere.seen).toHaveLength(1);
    expect(elsewhere.seen[0]!.headers.authorization).toBeUndefined();
  });

  it('a password in the body never goes to a redirect target outside the endpoints', async () => {
    const created = (_request: IncomingMessage, response: ServerResponse): void => {
      response.writeHead(201, { 'content-type': 'application/json' }).end('{"user":"alice"}');
    };
    await using elsewhere = await hostileServer(created);
    await using first = await hostileServer(redirectTo(() => elsewhere.url));
    await using client = new Client({ endpoints: [first.url], ...credentials });
    const error = await new AuthUserAPI(client).addUser('alice', 'alicepw').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ClusterError);
    expect((error as ClusterError).errors[0]).toBeInstanceOf(RedirectError);
    expect((error as ClusterError).errors[0]!.message).toContain('carries a password');
    expect(reachableText(error)).not.toContain('alicepw');
    expect(elsewhere.seen).toHaveLength(0);
    // a request without a password still follows it (without the credentials)
    await using member = await hostileServer(keysReplyWith({ action: 'get', node }));
    await using toMember = await hostileServer(redirectTo(() => member.url));
    await using reads = new Client({ endpoints: [toMember.url], ...credentials });
    await new KeysAPI(reads).get('/k');
    expect(member.seen[0]!.headers.authorization).toBeUndefined();
    // with 'any', as in Go, it goes
    await using anywhere = new Client({ endpoints: [first.url], redirectCredentials: 'any', ...credentials });
    await new AuthUserAPI(anywhere).addUser('alice', 'alicepw');
    expect(elsewhere.seen).toHaveLength(1);
  });

  it("go anywhere with redirectCredentials: 'any' (Go's behaviour)", async () => {
    await using elsewhere = await hostileServer(keysReplyWith({ action: 'get', node }));
    await using first = await hostileServer(redirectTo(() => elsewhere.url));
    await using client = new Client({ endpoints: [first.url], redirectCredentials: 'any', ...credentials });
    await new KeysAPI(client).get('/k');
    expect(elsewhere.seen[0]!.headers.authorization).toBe(basic);
    expect(() => new Client({ endpoints: [first.url], redirectCredentials: 'all' as 'any' })).toThrow(
      RangeError,
    );
  });
});

/** A handler that sends a 200 with no end, as fast as the client reads; `sent` counts the bytes written. */
function endless(stats: { sent: number; closed: boolean }) {
  return (_request: unknown, response: ServerResponse): void => {
    response.writeHead(200, { 'content-type': 'application/json', 'x-etcd-index': '7' });
    const chunk = Buffer.alloc(64 * 1024, ' ');
    response.write('{"action":"get","node":');
    const pump = (): void => {
      while (!response.destroyed && response.write(chunk)) stats.sent += chunk.length;
    };
    response.on('drain', pump);
    response.on('close', () => {
      stats.closed = true;
    });
    pump();
  };
}

describe('maxResponseSize', () => {
  it('an endless reply fails its endpoint with ResponseTooLargeError, and the next endpoint answers', async () => {
    const stats = { sent: 0, closed: false };
    await using hostile = await hostileServer(endless(stats));
    await using good = await hostileServer(keysReplyWith({ action: 'get', node }));
    const limit = 1024 * 1024;
    await using client = new Client({ endpoints: [hostile.url, good.url], maxResponseSize: limit });
    pinOrder(client, [hostile.url, good.url]);
    const keys = new KeysAPI(client);
    expect((await keys.get('/k')).node).toMatchObject(node);
    await expect.poll(() => stats.closed).toBe(true);
    // The client stopped reading: what was written is the limit plus what socket buffers held.
    expect(stats.sent).toBeLessThan(limit + 32 * 1024 * 1024);

    await using again = new Client({ endpoints: [hostile.url, good.url], maxResponseSize: limit });
    pinOrder(again, [hostile.url, good.url]);
    const error = await new KeysAPI(again).delete('/k').catch((e: unknown) => e); // one-shot: thrown as is
    expect(error).toBeInstanceOf(ResponseTooLargeError);
    expect(error).toMatchObject({
      name: 'ResponseTooLargeError',
      code: 'ETCDKIT_RESPONSE_TOO_LARGE',
      endpoint: hostile.url,
      limit,
      message: `client: endpoint ${hostile.url} sent a reply larger than ${limit} bytes (maxResponseSize)`,
    });
  });

  it('a Content-Length above the limit fails at once, before any body arrives', async () => {
    await using hostile = await hostileServer((_request, response) => {
      response.writeHead(200, { 'content-length': String(10 * 1024 ** 3), 'x-etcd-index': '7' });
      response.write('{'); // and never more: without the limit this would wait forever (no body timeout)
    });
    await using client = new Client({ endpoints: [hostile.url], ...credentials });
    const error = (await new KeysAPI(client).get('/k').catch((e: unknown) => e)) as ClusterError;
    expect(error).toBeInstanceOf(ClusterError);
    expect(error.errors[0]).toBeInstanceOf(ResponseTooLargeError);
    expect((error.errors[0] as ResponseTooLargeError).limit).toBe(DEFAULT_MAX_RESPONSE_SIZE);
    expect(reachableText(error)).not.toContain('s3cret');
  });

  it('refuses a limit that is not a whole number of bytes; 0 disables it', async () => {
    for (const bad of [-1, 1.5, Number.NaN, '1' as unknown as number]) {
      expect(() => new Client({ endpoints: ['http://127.0.0.1:1'], maxResponseSize: bad })).toThrow(
        RangeError,
      );
    }
    await using big = await hostileServer(
      keysReplyWith({ action: 'get', node: { ...node, value: 'x'.repeat(100_000) } }),
    );
    await using unlimited = new Client({ endpoints: [big.url], maxResponseSize: 0 });
    expect((await new KeysAPI(unlimited).get('/k')).node?.value).toHaveLength(100_000);
  });

  it('a /health probe reads at most 64 KiB: an endless body neither grows memory nor fails the watch', async () => {
    const health = { sent: 0, closed: false };
    let probes = 0;
    await using member = await hostileServer((request, response) => {
      if (request.url === '/health') {
        probes++;
        endless(health)(request, response);
      } // a watch: no answer, as a quiet etcd
    });
    const interval = 100;
    await using client = new Client({ endpoints: [member.url], watchLivenessInterval: interval });
    // Long enough for several probes; two failed probes in a row would move the watch (a ClusterError here).
    const waiting = new KeysAPI(client).watcher('/k').next({ signal: AbortSignal.timeout(8 * interval) });
    await expect(waiting).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(probes).toBeGreaterThanOrEqual(3);
    expect(health.closed).toBe(true);
  });
});
