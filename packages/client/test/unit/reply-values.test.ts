import { describe, expect, it } from 'vitest';
import {
  AuthRoleAPI,
  AuthUserAPI,
  Client,
  EtcdError,
  InvalidResponseError,
  InvalidValueError,
  KeysAPI,
  MembersAPI,
} from '../../src/index.js';
import { hostileServer, keysReplyWith } from './hostile.js';

const node = { key: '/k', value: 'v', createdIndex: 5, modifiedIndex: 6 };

/** What `get` on a server answering `body` (with `X-Etcd-Index: index`) rejects with. */
async function getFrom(body: object, index = '7'): Promise<unknown> {
  await using server = await hostileServer(keysReplyWith(body, index));
  await using client = new Client({ endpoints: [server.url] });
  return new KeysAPI(client).get('/k').catch((e: unknown) => e);
}

describe('impossible values in replies (Go: decoding into uint64, int64 or time.Time fails)', () => {
  it('refuses negative, fractional and inexact indexes, fractional TTLs and non-RFC 3339 expirations', async () => {
    const cases: [object, string][] = [
      [{ action: 'get', node: { ...node, createdIndex: -1 } }, 'node.createdIndex'],
      [{ action: 'get', node: { ...node, modifiedIndex: 1.5 } }, 'node.modifiedIndex'],
      [{ action: 'get', node: { ...node, modifiedIndex: 2 ** 53 } }, 'node.modifiedIndex'],
      [{ action: 'get', node: { ...node, ttl: 0.5 } }, 'node.ttl'],
      [{ action: 'get', node: { ...node, expiration: 'soon' } }, 'node.expiration'],
      [{ action: 'get', node: { ...node, expiration: '2026-02-30T00:00:00Z' } }, 'node.expiration'],
      [{ action: 'get', node, prevNode: { ...node, createdIndex: -3 } }, 'prevNode.createdIndex'],
      [
        { action: 'get', node: { key: '/d', dir: true, nodes: [node, { ...node, createdIndex: 1e300 }] } },
        'node.nodes[].createdIndex',
      ],
    ];
    for (const [body, field] of cases) {
      const error = await getFrom(body);
      expect(error, field).toBeInstanceOf(InvalidValueError);
      expect(error, field).toBeInstanceOf(InvalidResponseError);
      expect(error, field).toMatchObject({ name: 'InvalidValueError', code: 'ETCDKIT_INVALID_VALUE', field });
      expect((error as Error).message).toMatch(/^client: response is invalid json\./);
    }
  });

  it('refuses an X-Etcd-Index above 2^53 - 1, with Go’s message above 2^64 - 1', async () => {
    const inexact = await getFrom({ action: 'get', node }, '9007199254740993');
    expect(inexact).toMatchObject({ name: 'InvalidValueError', field: 'X-Etcd-Index' });
    const huge = await getFrom({ action: 'get', node }, '18446744073709551616');
    expect((huge as Error).message).toBe(
      'strconv.ParseUint: parsing "18446744073709551616": value out of range',
    );
    const largest = await getFrom({ action: 'get', node }, String(Number.MAX_SAFE_INTEGER));
    expect(largest).toMatchObject({ index: Number.MAX_SAFE_INTEGER, node: { modifiedIndex: 6 } });
  });

  it('accepts what etcd sends: RFC 3339 with nanoseconds or an offset, negative TTLs, null fields', async () => {
    const expiration = '2026-11-30T05:07:37.123456789Z';
    const ok = await getFrom({
      action: 'get',
      node: { ...node, expiration, ttl: -1, nodes: null },
      prevNode: { ...node, expiration: '2024-02-29T23:59:59+05:30' },
    });
    expect(ok).toMatchObject({ node: { expiration, ttl: -1 }, prevNode: { createdIndex: 5 } });
  });

  it('refuses an error reply whose index or code is not a whole number, or whose fields have other types', async () => {
    for (const [body, field] of [
      [{ errorCode: 100, message: 'Key not found', index: -1 }, 'error.index'],
      [{ errorCode: 100.5, message: 'Key not found', index: 1 }, 'error.errorCode'],
    ] as const) {
      await using server = await hostileServer((_request, response) => {
        response.writeHead(404, { 'content-type': 'application/json' });
        response.end(JSON.stringify(body));
      });
      await using client = new Client({ endpoints: [server.url] });
      const error = await new KeysAPI(client).get('/k').catch((e: unknown) => e);
      expect(error).toMatchObject({ name: 'InvalidValueError', field });
    }
    await using server = await hostileServer((_request, response) => {
      response.writeHead(404, { 'content-type': 'application/json' });
      response.end('{"errorCode":"100","message":"Key not found"}');
    });
    await using client = new Client({ endpoints: [server.url] });
    const error = await new KeysAPI(client).get('/k').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidResponseError);
    expect(error).not.toBeInstanceOf(EtcdError);
  });

  it('a watcher never asks for an impossible waitIndex: the bad event is an error and the index stays', async () => {
    let modifiedIndex = 2.5;
    await using server = await hostileServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json', 'x-etcd-index': '1' });
      response.end(JSON.stringify({ action: 'set', node: { ...node, modifiedIndex } }));
    });
    await using client = new Client({ endpoints: [server.url], watchLivenessInterval: 0 });
    const watcher = new KeysAPI(client).watcher('/k', { afterIndex: 1 });
    await expect(watcher.next()).rejects.toBeInstanceOf(InvalidValueError);
    expect(watcher.waitIndex).toBe(2);
    modifiedIndex = 3;
    await watcher.next();
    expect(server.seen.map((s) => new URL(s.path, server.url).searchParams.get('waitIndex'))).toEqual([
      '2',
      '2',
    ]);
    expect(watcher.waitIndex).toBe(4);
  });
});

/** What `call` rejects with (or resolves to) on a server answering 200 with `body` (a string as is). */
async function fromServer<T>(body: unknown, call: (client: Client) => Promise<T>): Promise<T | unknown> {
  await using server = await hostileServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(typeof body === 'string' ? body : JSON.stringify(body));
  });
  await using client = new Client({ endpoints: [server.url] });
  return call(client).catch((e: unknown) => e);
}

describe('members, auth and version replies of the wrong shape (Go: decoding into its structs fails)', () => {
  const list = (client: Client) => new MembersAPI(client).list();
  const leader = (client: Client) => new MembersAPI(client).leader();
  const version = (client: Client) => client.getVersion();
  const user = (client: Client) => new AuthUserAPI(client).getUser('u');
  const users = (client: Client) => new AuthUserAPI(client).listUsers();
  const role = (client: Client) => new AuthRoleAPI(client).getRole('r');
  const roles = (client: Client) => new AuthRoleAPI(client).listRoles();

  it('refuses a member list, leader or version whose fields have other types, with the field named', async () => {
    const cases: [unknown, (client: Client) => Promise<unknown>, string][] = [
      [{ members: [{ id: 5, name: 'm0' }] }, list, 'members[].id'],
      [{ members: [{ id: 'a', clientURLs: 'http://127.0.0.1:1' }] }, list, 'members[].clientURLs'],
      [{ members: [{ id: 'a', peerURLs: [1] }] }, list, 'members[].peerURLs[]'],
      [{ members: { id: 'a' } }, list, 'members'],
      [{ members: ['a'] }, list, 'members[]'],
      [[], list, 'body'],
      [{ id: 'a', name: {} }, leader, 'leader.name'],
      ['"leader"', leader, 'leader'],
      [{ etcdserver: 3.4, etcdcluster: '3.4.0' }, version, 'etcdserver'],
      ['[]', version, 'body'],
      [{ user: 7, roles: [] }, user, 'user'],
      [{ user: 'u', roles: [{ role: 1 }] }, user, 'roles[].role'],
      [{ users: 'u' }, users, 'users'],
      [{ users: [3] }, users, 'users[]'],
      [{ role: 'r', permissions: { kv: { read: '/a' } } }, role, 'permissions.kv.read'],
      [{ role: 'r', permissions: [] }, role, 'permissions'],
      [{ roles: [{ role: false }] }, roles, 'roles[].role'],
    ];
    for (const [body, call, field] of cases) {
      const error = await fromServer(body, call);
      expect(error, field).toBeInstanceOf(InvalidValueError);
      expect(error, field).toMatchObject({ field });
      expect((error as Error).message, field).toMatch(/^client: response is invalid json\./);
    }
  });

  it('a body that is not JSON is an InvalidResponseError (its cause the syntax error); null or absent fields are empty', async () => {
    const error = await fromServer('nope', list);
    expect(error).toBeInstanceOf(InvalidResponseError);
    expect((error as Error).cause).toBeInstanceOf(SyntaxError);
    expect(await fromServer({ members: null }, list)).toEqual([]);
    expect(await fromServer('null', list)).toEqual([]);
    expect(await fromServer({ id: 'a', peerURLs: null }, leader)).toEqual({
      id: 'a',
      name: '',
      peerURLs: [],
      clientURLs: [],
    });
    expect(await fromServer({ etcdserver: '3.4.23' }, version)).toEqual({ server: '3.4.23', cluster: '' });
    // auth lists name users and roles by objects (etcd 3.4) or by strings (older servers)
    expect(await fromServer({ users: [{ user: 'a', roles: [] }, 'b'] }, users)).toEqual(['a', 'b']);
    expect(await fromServer({ user: 'u', roles: ['r1', { role: 'r2' }] }, user)).toEqual({
      user: 'u',
      roles: ['r1', 'r2'],
    });
    expect(await fromServer({ role: 'r', permissions: null }, role)).toEqual({
      role: 'r',
      permissions: { kv: { read: [], write: [] } },
    });
  });
});
