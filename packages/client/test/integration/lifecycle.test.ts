import diagnostics from 'node:diagnostics_channel';
import { sharedClusterEndpoints, uniqueKeyPrefix } from '@etcdkit/testkit/vitest';
import { afterAll, describe, expect, it } from 'vitest';
import {
  Client,
  ClientChannels,
  ClientClosedError,
  isClientClosed,
  isEtcdError,
  isKeyNotFound,
  isNodeExist,
  isTestFailed,
  KeysAPI,
  type RequestHeadersMessage,
} from '../../src/index.js';

const endpoints = sharedClusterEndpoints();
/** A client that stays open, to look at what the closed ones did. */
const observer = new Client({ endpoints });
const keys = new KeysAPI(observer);
afterAll(() => observer.close());

/** What a call rejects with (undefined if it resolves). */
function failure(call: Promise<unknown>): Promise<unknown> {
  return call.then(
    () => undefined,
    (e: unknown) => e,
  );
}

/** Resolves when a request of `operation` on `key` has its response headers (a watch: etcd has registered it). */
function headersOf(operation: string, key: string): Promise<RequestHeadersMessage> {
  return new Promise((resolve) => {
    const listener = (message: unknown): void => {
      const m = message as RequestHeadersMessage;
      if (m.call.operation !== operation || m.call.key !== key) return;
      diagnostics.unsubscribe(ClientChannels.requestHeaders, listener);
      resolve(m);
    };
    diagnostics.subscribe(ClientChannels.requestHeaders, listener);
  });
}

describe('a closed client, against a real cluster', () => {
  it('rejects a call after close() with ClientClosedError, and sends nothing', async () => {
    const k = `${uniqueKeyPrefix('closed')}/key`;
    const client = new Client({ endpoints });
    const closed = new KeysAPI(client);
    await closed.get('/'); // it worked before
    await client.close();
    for (const call of [
      closed.set(k, 'written after close'),
      closed.get(k),
      closed.watcher(k).next(),
      client.sync(),
      client.getVersion(),
    ]) {
      const error = await failure(call);
      expect(error).toBeInstanceOf(ClientClosedError);
      expect(isClientClosed(error)).toBe(true);
      expect(error).toMatchObject({ name: 'ClientClosedError', code: 'ETCDKIT_CLIENT_CLOSED' });
    }
    // the set was not sent: the key does not exist (a real error 100)
    const missing = await failure(keys.get(k, { quorum: true }));
    expect(isKeyNotFound(missing)).toBe(true);
    expect(client.close()).toBe(client.close());
  });

  it('a watcher waiting in next() while the client closes rejects with ClientClosedError at once', async () => {
    const k = `${uniqueKeyPrefix('closing')}/key`;
    const client = new Client({ endpoints });
    await using watcher = new KeysAPI(client).watcher(k);
    const registered = headersOf('watch', k);
    const wait = failure(watcher.next());
    await registered; // the wait is on the wire and etcd holds it
    const started = performance.now();
    await client.close();
    expect(await wait).toBeInstanceOf(ClientClosedError);
    // close() did not wait for the watch: it returned once the wait was aborted (no event ever comes)
    expect(performance.now() - started).toBeLessThan(5000);
    expect(await failure(watcher.next())).toBeInstanceOf(ClientClosedError);
    // the key was never written; a write now is not seen by the closed watcher
    await keys.set(k, 'after');
  });

  it('a write sent before close() is let finish, and its reply returned', async () => {
    const k = `${uniqueKeyPrefix('inflight')}/key`;
    const client = new Client({ endpoints });
    const write = new KeysAPI(client).set(k, 'v');
    const closing = client.close();
    await expect(write).resolves.toMatchObject({ action: 'set', node: { key: k, value: 'v' } });
    await closing;
    expect((await keys.get(k, { quorum: true })).node?.value).toBe('v');
  });
});

describe('predicates on real server errors', () => {
  it('isKeyNotFound on a real 100 keeps its index; isNodeExist and isTestFailed on 105 and 101', async () => {
    const k = `${uniqueKeyPrefix('predicates')}/key`;
    const missing = await failure(keys.get(k));
    expect(isKeyNotFound(missing)).toBe(true);
    if (!isKeyNotFound(missing)) return;
    expect(missing.index).toBeGreaterThan(0);
    expect(k.startsWith(missing.etcdCause)).toBe(true); // the first missing directory on the way
    await keys.create(k, 'one');
    const exists = await failure(keys.create(k, 'two'));
    expect([isNodeExist(exists), isKeyNotFound(exists), isEtcdError(exists)]).toEqual([true, false, true]);
    const lost = await failure(keys.set(k, 'three', { prevValue: 'not one' }));
    expect([isTestFailed(lost), isNodeExist(lost)]).toEqual([true, false]);
  });
});
