import { describe, expect, it } from 'vitest';
import {
  EmptyBodyError,
  EtcdError,
  InvalidResponseError,
  isKeyNotFound,
  KeyOutsidePrefixError,
  KeysAPI,
} from '../../src/index.js';
import { keysReply, mockClient, type Seen } from './mock.js';

const EP = 'http://127.0.0.1:1';
const node = { key: '/foo', value: 'bar', createdIndex: 5, modifiedIndex: 6 };

function keysWith(reply = keysReply('get', node), prefix?: string, endpoint = EP) {
  const { client, seen } = mockClient([endpoint], () => reply);
  return { keys: new KeysAPI(client, prefix === undefined ? {} : { prefix }), seen, client };
}

const line = (s: Seen): string =>
  `${s.method} ${s.path}${s.body === undefined ? '' : ` body=${JSON.stringify(s.body)}`}`;

describe('KeysAPI request shapes (as the Go client builds them)', () => {
  it('tells the client it sends through (the same one for every KeysAPI of that client)', () => {
    const { keys, client } = keysWith();
    expect(keys.client).toBe(client);
    expect(new KeysAPI(client, { prefix: '/other' }).client).toBe(client);
  });

  it('get always sends quorum, recursive and sorted, sorted by name, with no body', async () => {
    const { keys, seen } = keysWith();
    const response = await keys.get('foo');
    await keys.get('/foo/', { recursive: true, sort: true, quorum: true });
    expect(seen.map(line)).toEqual([
      'GET /v2/keys/foo?quorum=false&recursive=false&sorted=false',
      'GET /v2/keys/foo/?quorum=true&recursive=true&sorted=true',
    ]);
    expect(seen[0]!.headers['content-type']).toBeUndefined();
    expect(response).toEqual({ action: 'get', node: { ...node, dir: false }, index: 7, clusterId: 'c1' });
  });

  it('cleans keys as Go does, keeps a trailing slash, and refuses keys that leave the prefix', async () => {
    const { keys, seen } = keysWith();
    await keys.get('//foo//bar');
    await keys.get('/a/./b');
    await keys.get('/foo/../bar');
    await keys.get('');
    await keys.get('/');
    expect(seen.map((s) => s.path.split('?')[0])).toEqual([
      '/v2/keys/foo/bar',
      '/v2/keys/a/b',
      '/v2/keys/bar',
      '/v2/keys',
      '/v2/keys/',
    ]);
    await expect(keys.get('/../auth/enable')).rejects.toBeInstanceOf(KeyOutsidePrefixError);
    await expect(keys.get('/..')).rejects.toThrow(/leaves the keys prefix/);
    await expect(keys.set('/a/../../x', 'v')).rejects.toBeInstanceOf(KeyOutsidePrefixError);
  });

  it('escapes odd keys with Go path escaping', async () => {
    const { keys, seen } = keysWith();
    await keys.get('/gp/a b?c#d%e+f/日本');
    expect(seen[0]!.path).toBe(
      '/v2/keys/gp/a%20b%3Fc%23d%25e+f/%E6%97%A5%E6%9C%AC?quorum=false&recursive=false&sorted=false',
    );
  });

  it('honours a custom prefix, the endpoint path and the endpoint query', async () => {
    const a = keysWith(undefined, 'pfx/');
    await a.keys.get('/bar');
    const b = keysWith(undefined, undefined, 'http://127.0.0.1:1');
    await b.keys.get('/foo');
    const { client, seen } = mockClient(['http://127.0.0.1:1'], () => keysReply('get', node));
    client.setEndpoints(['http://127.0.0.1:1/base/?x=1']);
    await new KeysAPI(client).get('/foo');
    expect([a.seen[0]!.path, seen[0]!.path]).toEqual([
      '/pfx/bar?quorum=false&recursive=false&sorted=false',
      '/base/v2/keys/foo?quorum=false&recursive=false&sorted=false&x=1',
    ]);
  });

  it('set sends a sorted form; value always; prevValue only when non-empty; ttl in whole seconds', async () => {
    const { keys, seen } = keysWith(keysReply('set', node));
    await keys.set('/foo', 'bar "q"\n', { ttl: 5 });
    await keys.set('/foo', '', { prevValue: '', prevIndex: 0 });
    await keys.set('/foo', 'v', { prevValue: 'old', prevIndex: 12, prevExist: true, refresh: true, ttl: 3 });
    await keys.set('/d', 'ignored', { dir: true, prevValue: 'ignored' });
    await keys.set('/foo', 'v', { noValueOnSuccess: true });
    expect(seen.map(line)).toEqual([
      'PUT /v2/keys/foo body="ttl=5&value=bar+%22q%22%0A"',
      'PUT /v2/keys/foo body="value="',
      'PUT /v2/keys/foo?prevExist=true&prevIndex=12&prevValue=old body="refresh=true&ttl=3&value=v"',
      'PUT /v2/keys/d?dir=true body=""',
      'PUT /v2/keys/foo?noValueOnSuccess=true body="value=v"',
    ]);
    expect(seen.every((s) => s.headers['content-type'] === 'application/x-www-form-urlencoded')).toBe(true);
  });

  it('refuses TTLs Go would truncate, and negative indexes', async () => {
    const { keys, seen } = keysWith();
    await expect(keys.set('/k', 'v', { ttl: 0.5 })).rejects.toBeInstanceOf(RangeError);
    await expect(keys.set('/k', 'v', { ttl: -1 })).rejects.toThrow(
      /ttl must be a whole number >= 0 \(seconds\)/,
    );
    await expect(keys.createInOrder('/q', 'v', { ttl: 1.5 })).rejects.toBeInstanceOf(RangeError);
    await expect(keys.delete('/k', { prevIndex: -3 })).rejects.toBeInstanceOf(RangeError);
    expect(seen).toEqual([]);
  });

  it('create and update are set with prevExist; delete has no body but the form content type', async () => {
    const { keys, seen } = keysWith(keysReply('create', node));
    await keys.create('/foo', 'bar');
    await keys.update('/foo', 'baz');
    await keys.delete('/foo', { prevValue: 'x', prevIndex: 3, recursive: true, dir: true });
    await keys.delete('/foo');
    expect(seen.map(line)).toEqual([
      'PUT /v2/keys/foo?prevExist=false body="value=bar"',
      'PUT /v2/keys/foo?prevExist=true body="value=baz"',
      'DELETE /v2/keys/foo?dir=true&prevIndex=3&prevValue=x&recursive=true',
      'DELETE /v2/keys/foo',
    ]);
    expect(seen[2]!.headers['content-type']).toBe('application/x-www-form-urlencoded');
  });

  it('createInOrder POSTs to the directory with ttl and value, no query', async () => {
    const { keys, seen } = keysWith(keysReply('create', node));
    await keys.createInOrder('/q', 'job', { ttl: 7 });
    expect(seen.map(line)).toEqual(['POST /v2/keys/q body="ttl=7&value=job"']);
  });
});

describe('KeysAPI response decoding', () => {
  it('maps a server error to EtcdError, case-insensitively, with Go’s string form', async () => {
    const { keys } = keysWith({
      status: 404,
      body: { ErrorCode: 100, Message: 'Key not found', Cause: '/foo', Index: 18 },
    });
    const error = await keys.get('/foo').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EtcdError);
    expect(error).toMatchObject({ errorCode: 100, message: 'Key not found', etcdCause: '/foo', index: 18 });
    expect(String(error)).toBe('100: Key not found (/foo) [18]');
    expect(isKeyNotFound(error)).toBe(true);
    expect(isKeyNotFound(new Error('100'))).toBe(false);
  });

  it('decodes success case-sensitively and refuses wrong types', async () => {
    const upper = keysWith({ status: 200, body: { Action: 'get', Node: node } });
    expect(await upper.keys.get('/foo')).toEqual({ action: '', index: 0, clusterId: '' });
    const wrong = keysWith({ status: 200, body: { action: 'get', node: { ...node, ttl: '5' } } });
    await expect(wrong.keys.get('/foo')).rejects.toBeInstanceOf(InvalidResponseError);
  });

  it('says clearly when the endpoint is not etcd', async () => {
    const html = keysWith({ status: 200, body: '<html>hello</html>' });
    await expect(html.keys.get('/foo')).rejects.toThrow(/probably not valid etcd cluster endpoint/);
    const empty = keysWith({ status: 200, body: '' });
    await expect(empty.keys.get('/foo')).rejects.toBeInstanceOf(EmptyBodyError);
    const notFound = keysWith({ status: 404, body: 'not found' });
    await expect(notFound.keys.get('/foo')).rejects.toBeInstanceOf(InvalidResponseError);
    const noContent = keysWith({ status: 204, body: '' });
    await expect(noContent.keys.get('/foo')).rejects.toBeInstanceOf(InvalidResponseError);
    const badIndex = keysWith({
      status: 200,
      body: { action: 'get', node },
      headers: { 'x-etcd-index': 'poo' },
    });
    await expect(badIndex.keys.get('/foo')).rejects.toThrow(
      'strconv.ParseUint: parsing "poo": invalid syntax',
    );
  });
});

describe('Watcher request shapes', () => {
  it('asks for afterIndex+1, then the event’s modifiedIndex+1, always sending waitIndex', async () => {
    let modified = 21;
    const { keys, seen } = keysWith();
    const { client } = mockClient([EP], (s) => {
      seen.push(s);
      return keysReply('set', { ...node, modifiedIndex: modified++ });
    });
    const fresh = new KeysAPI(client).watcher('/foo');
    await fresh.next();
    const after = new KeysAPI(client).watcher('/foo', { afterIndex: 10, recursive: true });
    await after.next();
    await after.next();
    expect(seen.map((s) => s.path)).toEqual([
      '/v2/keys/foo?recursive=false&wait=true&waitIndex=0',
      '/v2/keys/foo?recursive=true&wait=true&waitIndex=11',
      '/v2/keys/foo?recursive=true&wait=true&waitIndex=23',
    ]);
    expect(after.waitIndex).toBe(24);
    void keys;
  });

  it('re-polls empty replies with the same index, and refuses a reply without a node', async () => {
    let calls = 0;
    const { client, seen } = mockClient([EP], () =>
      ++calls < 3 ? { status: 200, body: '' } : keysReply('set', node),
    );
    const watcher = new KeysAPI(client).watcher('/foo', { afterIndex: 4 });
    const t0 = performance.now();
    await watcher.next();
    // backs off 25 ms, then 50 ms: no tight loop
    expect(performance.now() - t0).toBeGreaterThanOrEqual(70);
    expect(seen.map((s) => s.path.split('waitIndex=')[1])).toEqual(['5', '5', '5']);
    const forever = mockClient([EP], () => ({ status: 200, body: '' }));
    const waiting = new KeysAPI(forever.client).watcher('/foo').next({ signal: AbortSignal.timeout(150) });
    await expect(waiting).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(forever.seen.length).toBeLessThan(10);
    const bare = mockClient([EP], () => ({ status: 200, body: { action: 'set' } }));
    await expect(new KeysAPI(bare.client).watcher('/foo').next()).rejects.toThrow(
      /watch reply without a node/,
    );
  });

  it('keeps the index on error, so the next call retries the same wait', async () => {
    const { client, seen } = mockClient([EP], () => ({
      status: 400,
      body: { errorCode: 401, message: 'The event in requested index is outdated and cleared', index: 2000 },
    }));
    const watcher = new KeysAPI(client).watcher('/foo', { afterIndex: 1 });
    await expect(watcher.next()).rejects.toMatchObject({ errorCode: 401 });
    await expect(watcher.next()).rejects.toMatchObject({ errorCode: 401 });
    expect(seen.map((s) => s.path.split('waitIndex=')[1])).toEqual(['2', '2']);
  });
});
