import type { Dispatcher } from 'undici';
import { describe, expect, it } from 'vitest';
import {
  AuthAPI,
  AuthRoleAPI,
  AuthUserAPI,
  Client,
  ClientClosedError,
  isClientClosed,
  KeysAPI,
  MembersAPI,
  Watcher,
} from '../../src/index.js';
import { kDo } from '../../src/internal/symbols.js';
import { mockClient } from './mock.js';

const A = 'http://127.0.0.1:1';

/** A dispatcher whose requests never connect (a member that does not answer); counts what was dispatched. */
function silent() {
  const dispatched: string[] = [];
  const dispatcher = {
    dispatch(options: Dispatcher.DispatchOptions) {
      dispatched.push(`${options.method} ${options.path}`);
      return true;
    },
  } as unknown as Dispatcher;
  return { dispatcher, dispatched };
}

describe('the sealed surface', () => {
  it('Client has no `do` and Watcher no `create`; the package reaches them by its own symbols', () => {
    const client = new Client({ endpoints: [A], dispatcher: silent().dispatcher });
    expect('do' in client).toBe(false);
    expect(Object.getOwnPropertyNames(Client.prototype)).not.toContain('do');
    expect(Object.getOwnPropertyNames(Watcher)).not.toContain('create');
    expect(typeof client[kDo]).toBe('function');
    expect(Symbol.keyFor(kDo)).toBeUndefined(); // not in the global registry: another module cannot make it
  });
});

describe('a closed client', () => {
  it('rejects every call with ClientClosedError without sending anything', async () => {
    const { dispatcher, dispatched } = silent();
    const client = new Client({ endpoints: [A], dispatcher });
    await client.close();
    const keys = new KeysAPI(client);
    const calls: [string, () => Promise<unknown>][] = [
      ['get', () => keys.get('/a')],
      ['set', () => keys.set('/a', 'v')],
      ['create', () => keys.create('/a', 'v')],
      ['update', () => keys.update('/a', 'v')],
      ['delete', () => keys.delete('/a')],
      ['createInOrder', () => keys.createInOrder('/q', 'v')],
      ['watcher.next', () => keys.watcher('/a').next()],
      ['watcher.resync', () => keys.watcher('/a').resync()],
      ['sync', () => client.sync()],
      ['autoSync', () => client.autoSync(1000)],
      ['getVersion', () => client.getVersion()],
      ['members.list', () => new MembersAPI(client).list()],
      ['auth.enable', () => new AuthAPI(client).enable()],
      ['users.list', () => new AuthUserAPI(client).listUsers()],
      ['roles.list', () => new AuthRoleAPI(client).listRoles()],
    ];
    for (const [name, call] of calls) {
      const error = await call().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error, name).toBeInstanceOf(ClientClosedError);
      expect(isClientClosed(error), name).toBe(true);
    }
    expect(dispatched).toEqual([]);
  });

  it('the caller signal, aborted already, still wins', async () => {
    const client = new Client({ endpoints: [A], dispatcher: silent().dispatcher });
    await client.close();
    const reason = new Error('mine');
    await expect(new KeysAPI(client).get('/a', { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
  });

  it('close() is idempotent: the same promise each time, and asyncDispose is close()', async () => {
    const client = new Client({ endpoints: [A] });
    const first = client.close();
    expect(client.close()).toBe(first);
    expect(client[Symbol.asyncDispose]()).toBe(first);
    await first;
  });
});

/** A dispatcher that holds each request until the test answers or fails it. */
function held() {
  const requests: { path: string; handler: Dispatcher.DispatchHandler }[] = [];
  const dispatcher = {
    dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler) {
      requests.push({ path: `${options.origin} ${options.path}`, handler });
      handler.onConnect?.(() => {});
      return true;
    },
  } as unknown as Dispatcher;
  const answer = (index: number, status: number, body: string): void => {
    const { handler } = requests[index]!;
    handler.onHeaders?.(status, [Buffer.from('X-Etcd-Index'), Buffer.from('9')], () => {}, '');
    handler.onData?.(Buffer.from(body));
    handler.onComplete?.([]);
  };
  const fail = (index: number, error: Error): void => requests[index]!.handler.onError?.(error);
  return { dispatcher, requests, answer, fail };
}

describe('closing with calls in flight', () => {
  it('a watch waiting rejects with ClientClosedError at once; a request sent is let finish', async () => {
    const member = held();
    const client = new Client({ endpoints: [A], dispatcher: member.dispatcher, headerTimeoutPerRequest: 0 });
    const keys = new KeysAPI(client);
    const read = keys.get('/a');
    const watcher = keys.watcher('/a');
    const wait = watcher.next();
    expect(member.requests).toHaveLength(2);
    const closing = client.close();
    await expect(wait).rejects.toBeInstanceOf(ClientClosedError);
    member.answer(0, 200, JSON.stringify({ action: 'get', node: { key: '/a', value: 'v' } }));
    await expect(read).resolves.toMatchObject({ node: { value: 'v' }, index: 9 });
    await closing;
    await expect(watcher.next()).rejects.toBeInstanceOf(ClientClosedError);
    expect(member.requests).toHaveLength(2);
  });

  it('a wait ended by the client and then by its watcher, in one tick, rejects with the first: the close', async () => {
    const member = held();
    const client = new Client({ endpoints: [A], dispatcher: member.dispatcher, headerTimeoutPerRequest: 0 });
    const watcher = new KeysAPI(client).watcher('/a', { afterIndex: 5 });
    const wait = watcher.next();
    const closing = client.close();
    watcher.close();
    await expect(wait).rejects.toBeInstanceOf(ClientClosedError);
    await closing;
  });

  it('a wait ended by its watcher and then by the client, in one tick, rejects with the first: an AbortError', async () => {
    const member = held();
    const client = new Client({ endpoints: [A], dispatcher: member.dispatcher, headerTimeoutPerRequest: 0 });
    const watcher = new KeysAPI(client).watcher('/a', { afterIndex: 5 });
    const wait = watcher.next();
    watcher.close();
    const closing = client.close();
    await expect(wait).rejects.toMatchObject({ name: 'AbortError' });
    await closing;
  });

  it('a request sent before the close that fails is not tried elsewhere: ClientClosedError with the cause', async () => {
    const member = held();
    const client = new Client({ endpoints: [A, 'http://127.0.0.1:2'], dispatcher: member.dispatcher });
    const read = new KeysAPI(client).get('/a');
    expect(member.requests).toHaveLength(1);
    await client.close();
    member.fail(0, new Error('connection reset'));
    const error = await read.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ClientClosedError);
    expect((error as Error).cause).toMatchObject({ name: 'EndpointError' });
    expect(member.requests).toHaveLength(1);
  });

  it('a watcher closed on its own rejects with its AbortError, and the client goes on', async () => {
    const member = held();
    const client = new Client({ endpoints: [A], dispatcher: member.dispatcher });
    const keys = new KeysAPI(client);
    const watcher = keys.watcher('/a');
    const wait = watcher.next();
    watcher.close();
    await expect(wait).rejects.toMatchObject({ name: 'AbortError' });
    const read = keys.get('/a');
    member.answer(1, 200, JSON.stringify({ action: 'get', node: { key: '/a', value: 'v' } }));
    await expect(read).resolves.toMatchObject({ node: { value: 'v' } });
    await client.close();
  });

  it('autoSync waiting for its next round rejects with ClientClosedError', async () => {
    const B = 'http://127.0.0.1:2';
    const members = {
      members: [{ id: '1', name: 'a', peerURLs: ['http://127.0.0.1:2380'], clientURLs: [B] }],
    };
    const { client, agent } = mockClient([A], () => ({ status: 200, body: members }));
    const running = client.autoSync(60_000);
    // the first round has read the members once the endpoints are B's; it then waits a minute
    while (client.endpoints()[0] !== B) await new Promise((resolve) => setImmediate(resolve));
    await client.close();
    await expect(running).rejects.toBeInstanceOf(ClientClosedError);
    await agent.close();
  });
});
