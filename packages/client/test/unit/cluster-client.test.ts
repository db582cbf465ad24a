import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  AuthUserAPI,
  Client,
  ClusterError,
  disableCurlDebug,
  EndpointError,
  enableCurlDebug,
  HeaderTimeoutError,
  KeysAPI,
  NoEndpointsError,
  NoLeaderEndpointError,
  RedirectError,
} from '../../src/index.js';
import { reachableText } from './hostile.js';
import { keysReply, mockClient, type Reply } from './mock.js';

const A = 'http://127.0.0.1:1';
const B = 'http://127.0.0.1:2';
const C = 'http://127.0.0.1:3';
const ok = keysReply('get', { key: '/k', value: 'v', modifiedIndex: 1, createdIndex: 1 });

/** A 3-endpoint mock where each endpoint answers with its own reply. */
function cluster(replies: Record<string, Reply>, config = {}) {
  return mockClient([A, B, C], (seen) => replies[seen.origin] ?? ok, config);
}

afterEach(() => {
  disableCurlDebug();
  vi.restoreAllMocks();
});

describe('endpoints', () => {
  it('refuses an empty list and anything that is not an absolute http(s) URL', () => {
    expect(() => new Client({ endpoints: [] })).toThrow(NoEndpointsError);
    expect(() => new Client({ endpoints: [] })).toThrow('client: no endpoints available');
    for (const bad of ['localhost:2379', 'foo', '', '127.0.0.1:2379', 'ftp://h:1']) {
      expect(() => new Client({ endpoints: [bad] })).toThrow(TypeError);
    }
  });

  it('keeps the previous endpoints when setEndpoints fails, and keeps strings as given', () => {
    const client = new Client({ endpoints: ['http://a:1/'] });
    expect(() => client.setEndpoints(['nope'])).toThrow(TypeError);
    expect(client.endpoints()).toEqual(['http://a:1/']);
    client.setEndpoints(['http://user:secret@b:2']);
    expect(client.endpoints()).toEqual(['http://b:2']);
  });

  it('shuffles the endpoints', () => {
    const client = new Client({ endpoints: [A, B, C] });
    const orders = new Set<string>();
    for (let i = 0; i < 50; i++) {
      client.setEndpoints([A, B, C]);
      orders.add(client.endpoints().join());
    }
    expect(orders.size).toBeGreaterThan(1);
  });
});

describe('failover (Go httpClusterClient.Do)', () => {
  it('moves on after a transport error or a 5xx and pins the endpoint that answered', async () => {
    const { client, seen } = cluster({ [A]: 'error', [B]: { status: 502, body: 'bad' } });
    const keys = new KeysAPI(client);
    await keys.get('/k');
    await keys.get('/k');
    expect(seen.map((s) => s.origin)).toEqual([A, B, C, C]);
  });

  it('does not move on after a 4xx', async () => {
    const { client, seen } = cluster({
      [A]: { status: 404, body: { errorCode: 100, message: 'Key not found' } },
    });
    await expect(new KeysAPI(client).get('/k')).rejects.toMatchObject({ errorCode: 100 });
    expect(seen.map((s) => s.origin)).toEqual([A]);
  });

  it('reports every endpoint in a ClusterError, with Go’s messages for 5xx', async () => {
    const { client } = cluster({
      [A]: { status: 500, body: '' },
      [B]: { status: 503, body: '' },
      [C]: { status: 502, body: '' },
    });
    const error = (await new KeysAPI(client).get('/k').catch((e: unknown) => e)) as ClusterError;
    expect(error).toBeInstanceOf(ClusterError);
    expect(error.errors.map((e) => e.message)).toEqual([
      `client: etcd member ${A} has no leader`,
      `client: etcd member ${B} has no leader`,
      `client: etcd member ${C} returns server error [Bad Gateway]`,
    ]);
    expect(error.message).toBe(
      `client: etcd cluster is unavailable or misconfigured; error #0: ${error.errors[0]!.message}\n; error #1: ${error.errors[1]!.message}\n; error #2: ${error.errors[2]!.message}\n`,
    );
    expect(error.detail()).toBe(error.errors.map((e, i) => `error #${i}: ${e.message}\n`).join(''));
    expect(new ClusterError([]).message).toBe('client: etcd cluster is unavailable or misconfigured');
  });

  it('one-shot calls (create, delete) never fail over: the raw error, and the pin moves on', async () => {
    const { client, seen } = cluster({ [A]: { status: 500, body: '' } });
    const keys = new KeysAPI(client);
    const error = await keys.create('/k', 'v').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EndpointError);
    expect((error as Error).message).toBe(`client: etcd member ${A} has no leader`);
    await keys.delete('/k');
    expect(seen.map((s) => `${s.method} ${s.origin}`)).toEqual([`PUT ${A}`, `DELETE ${B}`]);
    const inOrder = cluster({ [A]: 'error' });
    await new KeysAPI(inOrder.client).createInOrder('/q', 'v');
    expect(inOrder.seen.map((s) => s.origin)).toEqual([A, B]);
  });

  it('an abort rejects with signal.reason, unchanged, before and during a call', async () => {
    const { client, seen } = cluster({ [A]: 'error' });
    const reason = new Error('mine');
    await expect(new KeysAPI(client).get('/k', { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(seen).toEqual([]);
    const controller = new AbortController();
    const { client: slow } = mockClient([A], () => {
      controller.abort(reason);
      return ok;
    });
    await expect(new KeysAPI(slow).get('/k', { signal: controller.signal })).rejects.toBe(reason);
  });
});

describe('redirects (Go redirectFollowingHTTPClient)', () => {
  it('follows any 3xx to its Location, rebuilding the request, at most 10 times', async () => {
    let hops = 0;
    const { client, seen } = mockClient([A, B], (s) =>
      s.origin === A ? { status: 307, headers: { location: `${B}/elsewhere?x=1` } } : ok,
    );
    await new KeysAPI(client).set('/k', 'v');
    expect(seen.map((s) => `${s.method} ${s.origin}${s.path} ${s.body}`)).toEqual([
      `PUT ${A}/v2/keys/k value=v`,
      `PUT ${B}/elsewhere?x=1 value=v`,
    ]);
    const loop = mockClient([A], () => {
      hops++;
      return { status: 300, headers: { location: `${A}/again` } };
    });
    const error = (await new KeysAPI(loop.client).get('/k').catch((e: unknown) => e)) as ClusterError;
    expect(hops).toBe(11);
    expect(error.errors[0]).toBeInstanceOf(RedirectError);
    expect(error.errors[0]!.message).toBe('client: too many redirects');
  });

  it('says when the Location is missing or invalid, and lets checkRedirect stop it', async () => {
    const missing = mockClient([A], () => ({ status: 302 }));
    await expect(new KeysAPI(missing.client).get('/k')).rejects.toThrow('location header not set');
    const invalid = mockClient([A], () => ({ status: 302, headers: { location: '::nope' } }));
    await expect(new KeysAPI(invalid.client).get('/k')).rejects.toThrow(
      'location header not valid URL: ::nope',
    );
    const stopped = mockClient([A], () => ({ status: 302, headers: { location: `${A}/x` } }), {
      checkRedirect: () => {
        throw new Error('no redirects please');
      },
    });
    await expect(new KeysAPI(stopped.client).get('/k')).rejects.toThrow('no redirects please');
  });
});

describe('credentials', () => {
  it('sends basic auth on every request, redirects included, only with a username', async () => {
    const { client, seen } = mockClient(
      [A, B],
      (s) => (s.origin === A ? { status: 307, headers: { location: `${B}/v2/keys/k` } } : ok),
      { username: 'root', password: 's3cr3t' },
    );
    await new KeysAPI(client).get('/k');
    const expected = `Basic ${Buffer.from('root:s3cr3t').toString('base64')}`;
    expect(seen.map((s) => s.headers.authorization)).toEqual([expected, expected]);
    const anonymous = mockClient([A], () => ok, { password: 'only-a-password' });
    await new KeysAPI(anonymous.client).get('/k');
    expect(anonymous.seen[0]!.headers.authorization).toBeUndefined();
  });

  it('never prints credentials in cURL debug lines nor puts them in errors', async () => {
    const lines: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      lines.push(String(chunk));
      return true;
    });
    enableCurlDebug();
    const { client } = mockClient(
      [A],
      (s) => (s.method === 'PUT' && s.path.includes('auth') ? { status: 201, body: '{}' } : 'error'),
      {
        username: 'root',
        password: 'rootpw',
      },
    );
    await new AuthUserAPI(client).addUser('alice', 'alicepw');
    const error = await new KeysAPI(client).set('/k', 'v\n"x"', { ttl: 5 }).catch((e: unknown) => e);
    disableCurlDebug();
    expect(lines).toEqual([
      `cURL Command: curl -X PUT ${A}/v2/auth/users/alice -d "{\\"user\\":\\"alice\\",\\"password\\":\\"***\\",\\"roles\\":null}"\n`,
      `cURL Command: curl -X PUT ${A}/v2/keys/k -d "ttl=5&value=v%0A%22x%22"\n`,
    ]);
    const text = `${String(error)} ${reachableText(error)} ${(error as Error).stack}`;
    for (const secret of ['rootpw', 'alicepw', Buffer.from('root:rootpw').toString('base64')]) {
      expect(lines.join('')).not.toContain(secret);
      expect(text).not.toContain(secret);
    }
  });
});

describe('credentials in malformed endpoints', () => {
  it('never reach the error: message, cause or any other property', () => {
    for (const bad of [
      'htp://root:s3cret@h:1',
      'http://root:s3cret@h:99999',
      'http://root:s3cret@[::1:1',
      'http://root:s3/cret@h:1',
      'http://root:s3#cret@h:1',
      'root:s3cret@h:1',
      'http://root:s3cret@h:1/%zz',
      // a numeric password with a '/', '?' or '#' would parse as a port, the rest as a path, query or fragment
      'http://root:1234/s3cret@h:2379',
      'http://root:1234?s3cret@h:2379',
      'http://root:1234#s3cret@h:2379',
    ]) {
      let error: unknown;
      try {
        new Client({ endpoints: [bad] });
      } catch (e) {
        error = e;
      }
      expect(error, bad).toBeInstanceOf(TypeError);
      expect(reachableText(error), bad).not.toContain('s3');
      expect(reachableText(error), bad).not.toContain('1234');
      expect((error as Error).message, bad).toContain('***@');
    }
    expect(() => new Client({ endpoints: ['htp://root:s3cret@h:1'] })).toThrow(
      'parse "htp://***@h:1": endpoint must be an absolute http:// or https:// URL',
    );
  });

  it('are dropped from a valid endpoint: neither shown nor sent', async () => {
    const { client, seen } = mockClient([A], () => 'error');
    client.setEndpoints([`http://root:s3cret@127.0.0.1:1`]);
    expect(client.endpoints()).toEqual([A]);
    const error = await new KeysAPI(client).get('/k').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ClusterError);
    expect(reachableText(error)).not.toContain('s3cret');
    expect(seen[0]!.headers.authorization).toBeUndefined();
  });

  it('an invalid Location is shown without its userinfo', async () => {
    const { client } = mockClient([A], () => ({ status: 302, headers: { location: 'http://u:s3cret@[x' } }));
    const error = await new KeysAPI(client).get('/k').catch((e: unknown) => e);
    expect((error as ClusterError).errors[0]!.message).toBe('location header not valid URL: http://***@[x');
    expect(reachableText(error)).not.toContain('s3cret');
  });
});

describe('header timeout', () => {
  it('moves on when an endpoint does not send headers in time, but never times out a watch', async () => {
    vi.useRealTimers();
    const { createServer } = await import('node:net');
    const silent = createServer(() => {}).listen(0, '127.0.0.1');
    await new Promise((resolve) => silent.once('listening', resolve));
    const port = (silent.address() as { port: number }).port;
    const client = new Client({
      endpoints: [`http://127.0.0.1:${port}`],
      headerTimeoutPerRequest: 100,
      watchLivenessInterval: 0,
    });
    const t0 = performance.now();
    const error = (await new KeysAPI(client).get('/k').catch((e: unknown) => e)) as ClusterError;
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(error.errors[0]).toBeInstanceOf(HeaderTimeoutError);
    expect(error.errors[0]!.message).toBe(
      `client: endpoint http://127.0.0.1:${port} exceeded header timeout`,
    );
    const watch = new KeysAPI(client).watcher('/k').next({ signal: AbortSignal.timeout(400) });
    await expect(watch).rejects.toMatchObject({ name: 'TimeoutError' });
    await client.close();
    silent.close();
  });
});

describe('sync in prioritize-leader mode', () => {
  it('gives NoLeaderEndpointError when the member list is read but no leader is found', async () => {
    const members = { members: [{ id: 'a', name: 'm0', peerURLs: [], clientURLs: [A] }] };
    const { client } = mockClient(
      [A],
      (s) => (s.path === '/v2/members' ? { status: 200, body: members } : { status: 503, body: '' }),
      {
        selectionMode: 1,
      },
    );
    const error = await client.sync().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NoLeaderEndpointError);
    expect((error as Error).message).toBe('client: no leader endpoint available');
    expect((error as Error).cause).toBeInstanceOf(ClusterError);
  });
});
