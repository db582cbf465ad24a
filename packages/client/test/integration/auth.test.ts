import { type Cluster, startCluster } from '@etcdkit/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AuthAPI,
  AuthError,
  AuthRoleAPI,
  AuthUserAPI,
  Client,
  ErrorCode,
  EtcdError,
  isRoleNotFound,
  isUserNotFound,
  KeysAPI,
  PermissionType,
  UnexpectedStatusError,
} from '../../src/index.js';

let cluster: Cluster;
const clients: Client[] = [];
function connect(username?: string, password?: string): Client {
  const client = new Client({
    endpoints: cluster.clientURLs,
    ...(username === undefined ? {} : { username }),
    ...(password === undefined ? {} : { password }),
  });
  clients.push(client);
  return client;
}

beforeAll(async () => {
  cluster = await startCluster({ size: 1 });
});
afterAll(async () => {
  for (const client of clients) await client.close();
  await cluster?.close();
});

/** What a call rejects with. */
const failure = (call: Promise<unknown>): Promise<unknown> =>
  call.then(
    () => undefined,
    (e: unknown) => e,
  );

describe('v2 auth against a real server', () => {
  it('runs the whole life cycle: root, enable, roles, users, permissions, disable', async () => {
    const anonymous = connect();
    const enableTooEarly = await failure(new AuthAPI(anonymous).enable());
    expect(enableTooEarly).toBeInstanceOf(AuthError);
    expect((enableTooEarly as AuthError).message).toBe('auth: No root user available, please create one');

    await new AuthUserAPI(anonymous).addUser('root', 'root-secret');
    await new AuthAPI(anonymous).enable();

    const root = connect('root', 'root-secret');
    const roles = new AuthRoleAPI(root);
    const users = new AuthUserAPI(root);

    await roles.addRole('reader');
    const duplicate = await failure(roles.addRole('reader'));
    expect(duplicate).toMatchObject({
      name: 'AuthError',
      status: 409,
      message: 'auth: Role reader already exists.',
    });
    const granted = await roles.grantRoleKV('reader', ['/app/*'], PermissionType.Read);
    expect(granted).toEqual({ role: 'reader', permissions: { kv: { read: ['/app/*'], write: [] } } });
    expect((await roles.getRole('reader')).permissions.kv.read).toEqual(['/app/*']);
    expect((await roles.listRoles()).sort()).toEqual(['guest', 'reader', 'root']);

    await users.addUser('alice', 'alice-secret');
    expect(await users.grantUser('alice', ['reader'])).toEqual({ user: 'alice', roles: ['reader'] });
    expect(await users.getUser('alice')).toEqual({ user: 'alice', roles: ['reader'] });
    expect((await users.listUsers()).sort()).toEqual(['alice', 'root']);

    // Take the guest's rights away so that permissions really apply.
    await roles.revokeRoleKV('guest', ['/*'], PermissionType.ReadWrite);
    await new KeysAPI(root).set('/app/config', 'v1');
    const alice = new KeysAPI(connect('alice', 'alice-secret'));
    expect((await alice.get('/app/config')).node?.value).toBe('v1');
    const denied = await failure(alice.set('/app/config', 'v2'));
    expect(denied).toBeInstanceOf(EtcdError);
    expect((denied as EtcdError).errorCode).toBe(ErrorCode.Unauthorized);

    const wrong = await failure(new KeysAPI(connect('alice', 'not-her-password')).get('/app/config'));
    expect((wrong as EtcdError).errorCode).toBe(ErrorCode.Unauthorized);
    expect(`${String(wrong)} ${(wrong as Error).stack} ${JSON.stringify(wrong)}`).not.toContain(
      'not-her-password',
    );

    const anonymousList = await failure(new AuthRoleAPI(anonymous).listRoles());
    expect(anonymousList).toBeInstanceOf(UnexpectedStatusError);
    expect((anonymousList as Error).message).toBe('unexpected status code 401');
    expect(await failure(new AuthUserAPI(anonymous).listUsers())).toBeInstanceOf(AuthError);

    expect(await users.changePassword('alice', 'new-secret')).toEqual({ user: 'alice', roles: ['reader'] });
    expect((await new KeysAPI(connect('alice', 'new-secret')).get('/app/config')).node?.value).toBe('v1');
    expect(await users.revokeUser('alice', ['reader'])).toEqual({ user: 'alice', roles: [] });
    await users.removeUser('alice');
    await roles.removeRole('reader');

    await roles.grantRoleKV('guest', ['/*'], PermissionType.ReadWrite);
    await new AuthAPI(root).disable();
    expect((await new KeysAPI(anonymous).get('/app/config')).node?.value).toBe('v1');
  });

  it('recognises "not found" in both the GET and the DELETE wording of the server', async () => {
    const client = connect();
    const users = new AuthUserAPI(client);
    const roles = new AuthRoleAPI(client);
    const getUser = await failure(users.getUser('nobody'));
    const removeUser = await failure(users.removeUser('nobody'));
    const getRole = await failure(roles.getRole('nope'));
    const removeRole = await failure(roles.removeRole('nope'));
    expect((getUser as Error).message).toBe('auth: User nobody does not exist.');
    expect((removeUser as Error).message).toBe('auth: User nobody does not exist');
    expect((removeRole as Error).message).toBe("auth: Role nope doesn't exist.");
    expect([getUser, removeUser].map(isUserNotFound)).toEqual([true, true]);
    expect([getRole, removeRole].map(isRoleNotFound)).toEqual([true, true]);
    expect(isUserNotFound(getRole)).toBe(false);
    expect(isRoleNotFound(new Error('auth: Role x does not exist.'))).toBe(false);
  });

  it('refuses names that would reach another URL', async () => {
    const users = new AuthUserAPI(connect());
    await expect(users.getUser('../roles/root')).rejects.toBeInstanceOf(RangeError);
    await expect(users.addUser('..', 'x')).rejects.toBeInstanceOf(RangeError);
  });
});
