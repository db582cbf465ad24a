import { createServer } from 'node:http';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  AuthAPI,
  AuthRoleAPI,
  AuthUserAPI,
  Client,
  ClusterError,
  disableCurlDebug,
  enableCurlDebug,
  InvalidResponseError,
  KeysAPI,
  MembersAPI,
  PermissionType,
} from '../../src/index.js';
import { mockClient, type Reply, type Seen } from './mock.js';

const EP = 'http://127.0.0.1:1/pants';
const line = (s: Seen): string =>
  `${s.method} ${s.path} ${s.headers['content-type'] ?? '-'}${s.body === undefined ? '' : ` ${s.body}`}`;

function apis(reply: Reply) {
  const { client, seen } = mockClient([EP], () => reply);
  return {
    seen,
    members: new MembersAPI(client),
    auth: new AuthAPI(client),
    users: new AuthUserAPI(client),
    roles: new AuthRoleAPI(client),
    client,
  };
}

afterEach(() => {
  disableCurlDebug();
  vi.restoreAllMocks();
});

describe('members API request shapes', () => {
  it('keeps the endpoint path, sends sorted JSON peer URLs, and maps statuses as Go does', async () => {
    const created = apis({
      status: 201,
      body: { id: 'abc', name: '', peerURLs: ['http://10.0.0.1:2380'], clientURLs: [] },
    });
    expect(await created.members.add(' http://10.0.0.1:2380 ')).toEqual({
      id: 'abc',
      name: '',
      peerURLs: ['http://10.0.0.1:2380'],
      clientURLs: [],
    });
    const listed = apis({
      status: 200,
      body: { Members: [{ ID: '1', Name: 'a', PeerURLs: [], ClientURLs: ['http://x:1'] }] },
    });
    expect(await listed.members.list()).toEqual([
      { id: '1', name: 'a', peerURLs: [], clientURLs: ['http://x:1'] },
    ]);
    const none = apis({ status: 200, body: {} });
    expect(await none.members.list()).toEqual([]);
    const gone = apis({ status: 410, body: '' });
    await gone.members.remove('abc');
    const updated = apis({ status: 204, body: '' });
    await updated.members.update('abc', ['http://b:2', 'http://a:1']);
    expect([...created.seen, ...listed.seen, ...gone.seen, ...updated.seen].map(line)).toEqual([
      'POST /pants/v2/members application/json {"peerURLs":["http://10.0.0.1:2380"]}',
      'GET /pants/v2/members -',
      'DELETE /pants/v2/members/abc -',
      'PUT /pants/v2/members/abc application/json {"peerURLs":["http://a:1","http://b:2"]}',
    ]);
    await expect(apis({ status: 500, body: '' }).members.leader()).rejects.toBeInstanceOf(ClusterError);
    await expect(apis({ status: 404, body: '' }).members.remove('abc')).rejects.toThrow(
      'unexpected status code 404',
    );
    await expect(apis({ status: 200, body: 'nope' }).members.list()).rejects.toBeInstanceOf(
      InvalidResponseError,
    );
  });
});

describe('auth API request shapes', () => {
  it('sends Go’s bodies: roles null, password omitted when absent, grant/revoke lists', async () => {
    const ok = apis({ status: 200, body: { user: 'u', roles: [{ role: 'r1', permissions: {} }] } });
    await ok.auth.enable();
    await ok.auth.disable();
    await ok.users.addUser('u', 'p');
    await ok.users.grantUser('u', ['r1']);
    await ok.users.revokeUser('u', ['r1']);
    expect(await ok.users.getUser('u')).toEqual({ user: 'u', roles: ['r1'] });
    await ok.users.removeUser('u');
    await ok.roles.addRole('r');
    await ok.roles.grantRoleKV('r', ['/a/*'], PermissionType.ReadWrite);
    await ok.roles.revokeRoleKV('r', ['/b'], PermissionType.Write);
    expect(ok.seen.map(line)).toEqual([
      'PUT /pants/v2/auth/enable -',
      'DELETE /pants/v2/auth/enable -',
      'PUT /pants/v2/auth/users/u application/json {"user":"u","password":"p","roles":null}',
      'PUT /pants/v2/auth/users/u application/json {"user":"u","roles":null,"grant":["r1"]}',
      'PUT /pants/v2/auth/users/u application/json {"user":"u","roles":null,"revoke":["r1"]}',
      'GET /pants/v2/auth/users/u -',
      'DELETE /pants/v2/auth/users/u -',
      'PUT /pants/v2/auth/roles/r application/json {"role":"r","permissions":{"kv":{"read":null,"write":null}}}',
      'PUT /pants/v2/auth/roles/r application/json {"role":"r","permissions":{"kv":{"read":null,"write":null}},"grant":{"kv":{"read":["/a/*"],"write":["/a/*"]}}}',
      'PUT /pants/v2/auth/roles/r application/json {"role":"r","permissions":{"kv":{"read":null,"write":null}},"revoke":{"kv":{"read":null,"write":["/b"]}}}',
    ]);
  });

  it('lists with a JSON content type on GET; null lists are empty', async () => {
    const users = apis({ status: 200, body: { users: null } });
    expect(await users.users.listUsers()).toEqual([]);
    const roles = apis({ status: 200, body: { roles: [{ role: 'a' }, { role: 'b' }] } });
    expect(await roles.roles.listRoles()).toEqual(['a', 'b']);
    expect([...users.seen, ...roles.seen].map(line)).toEqual([
      'GET /pants/v2/auth/users application/json',
      'GET /pants/v2/auth/roles application/json',
    ]);
  });

  it('changePassword accepts only 200: a 201 (user created) is an empty AuthError, as in Go', async () => {
    const created = apis({ status: 201, body: { user: 'new' } });
    await expect(created.users.changePassword('new', 'p')).rejects.toMatchObject({
      name: 'AuthError',
      message: '',
    });
    const broken = apis({ status: 409, body: 'not json' });
    await expect(broken.auth.enable()).rejects.toBeInstanceOf(InvalidResponseError);
  });
});

describe('version and cURL lines', () => {
  it('asks /version with the keys query, and prints Go-quoted bodies, -d "" for an empty one', async () => {
    const lines: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      lines.push(String(chunk));
      return true;
    });
    const { client, seen } = mockClient([EP], (s) =>
      s.path.startsWith('/pants/version')
        ? { status: 200, body: { etcdserver: '3.4.23', etcdcluster: '3.4.0' } }
        : { status: 201, body: { action: 'set', node: { key: '/d', dir: true } } },
    );
    enableCurlDebug();
    expect(await client.getVersion()).toEqual({ server: '3.4.23', cluster: '3.4.0' });
    await new KeysAPI(client).set('/d', '', { dir: true });
    disableCurlDebug();
    expect(seen[0]!.path).toBe('/pants/version?quorum=false&recursive=false&sorted=false');
    expect(lines).toEqual([
      'cURL Command: curl -X GET http://127.0.0.1:1/pants/version?quorum=false&recursive=false&sorted=false\n',
      'cURL Command: curl -X PUT http://127.0.0.1:1/pants/v2/keys/d?dir=true -d ""\n',
    ]);
  });

  it('a live HTTP server that is not etcd gives a clear InvalidResponseError', async () => {
    const server = createServer((_req, res) => res.end('<html>not etcd</html>')).listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    await using client = new Client({
      endpoints: [`http://127.0.0.1:${(server.address() as { port: number }).port}`],
    });
    await expect(new KeysAPI(client).get('/k')).rejects.toThrow(/probably not valid etcd cluster endpoint/);
    await expect(client.getVersion()).rejects.toBeInstanceOf(InvalidResponseError);
    server.close();
  });
});
