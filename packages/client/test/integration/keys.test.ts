import { sharedClusterEndpoints, uniqueKeyPrefix } from '@etcdkit/testkit/vitest';
import { afterAll, describe, expect, it } from 'vitest';
import {
  Client,
  ClusterError,
  ErrorCode,
  EtcdError,
  isKeyNotFound,
  KeysAPI,
  type Response,
} from '../../src/index.js';

const client = new Client({ endpoints: sharedClusterEndpoints() });
const keys = new KeysAPI(client);
afterAll(() => client.close());

/** The EtcdError a call rejects with. */
async function etcdError(call: Promise<unknown>): Promise<EtcdError> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(EtcdError);
  return error as EtcdError;
}

describe('keys against a real cluster', () => {
  it('sets, gets, updates, compares and deletes', async () => {
    const k = `${uniqueKeyPrefix('crud')}/key`;
    const created = await keys.create(k, 'one');
    expect(created).toMatchObject({ action: 'create', node: { key: k, value: 'one' } });
    expect(created.index).toBeGreaterThan(0);
    expect(created.clusterId).toMatch(/^[0-9a-f]+$/);
    const got = await keys.get(k, { quorum: true });
    expect(got.node?.value).toBe('one');
    const updated = await keys.update(k, 'two');
    expect(updated).toMatchObject({ action: 'update', prevNode: { value: 'one' }, node: { value: 'two' } });
    const swapped = await keys.set(k, 'three', { prevValue: 'two', prevIndex: updated.node!.modifiedIndex });
    expect(swapped.action).toBe('compareAndSwap');
    const deleted = await keys.delete(k, { prevValue: 'three' });
    expect(deleted).toMatchObject({ action: 'compareAndDelete', prevNode: { value: 'three' } });
    expect(isKeyNotFound(await etcdError(keys.get(k)))).toBe(true);
  });

  it('answers every error code a keys request can get, with the server’s cause and index', async () => {
    const base = uniqueKeyPrefix('errors');
    await keys.set(`${base}/file`, 'x');
    await keys.set(`${base}/dir/child`, 'x');
    const cases: [() => Promise<unknown>, number][] = [
      [() => keys.get(`${base}/missing`), ErrorCode.KeyNotFound],
      [() => keys.set(`${base}/file`, 'y', { prevValue: 'nope' }), ErrorCode.TestFailed],
      [() => keys.set(`${base}/dir`, 'y'), ErrorCode.NotFile],
      [() => keys.set(`${base}/file/under`, 'y'), ErrorCode.NotDir],
      [() => keys.create(`${base}/file`, 'y'), ErrorCode.NodeExist],
      [() => keys.delete('/', { recursive: true }), ErrorCode.RootROnly],
      [() => keys.delete(`${base}/dir`, { dir: true }), ErrorCode.DirNotEmpty],
      [() => keys.set(`${base}/file`, '', { refresh: true }), 212],
      [() => keys.update(`${base}/nope`, 'y'), ErrorCode.KeyNotFound],
      [() => keys.delete(`${base}/file`, { prevIndex: 1 }), ErrorCode.TestFailed],
    ];
    for (const [call, code] of cases) {
      const error = await etcdError(call());
      expect(error.errorCode).toBe(code);
      expect(error.message.length).toBeGreaterThan(0);
    }
    const missing = await etcdError(keys.get(`${base}/missing`));
    expect(missing.etcdCause).toBe(`${base}/missing`);
    expect(missing.index).toBeGreaterThan(0);
  });

  it('round-trips odd keys and a 1 MiB value', async () => {
    const base = uniqueKeyPrefix('odd');
    for (const name of [
      'a b',
      '100%',
      'what?',
      'hash#tag',
      'plus+sign',
      '日本語',
      'ü',
      'q\'"<>',
      'semi;colon=eq&amp',
    ]) {
      const key = `${base}/${name}`;
      const set = await keys.set(key, `value of ${name}`);
      expect(set.node?.key).toBe(key);
      expect((await keys.get(key)).node?.value).toBe(`value of ${name}`);
    }
    const listing = await keys.get(base, { sort: true });
    expect(listing.node?.nodes).toHaveLength(9);
    const huge = `${'x'.repeat(1024 * 1024 - 7)}ü€\n&=+%`;
    await keys.set(`${base}/huge`, huge);
    expect((await keys.get(`${base}/huge`)).node?.value).toBe(huge);
  });

  it('makes directories, lists them sorted and recursive, and deletes them', async () => {
    const base = uniqueKeyPrefix('dirs');
    await keys.set(`${base}/d`, '', { dir: true });
    for (const name of ['c', 'a', 'b']) await keys.set(`${base}/d/${name}`, name);
    await keys.set(`${base}/d/sub/x`, 'deep');
    const flat = await keys.get(`${base}/d`, { sort: true });
    expect(flat.node?.dir).toBe(true);
    expect(flat.node?.nodes?.map((n) => n.key.split('/').pop())).toEqual(['a', 'b', 'c', 'sub']);
    expect(flat.node?.nodes?.[3]?.nodes).toBeUndefined();
    const deep = await keys.get(`${base}/d`, { recursive: true, sort: true });
    expect(deep.node?.nodes?.[3]?.nodes?.[0]?.value).toBe('deep');
    await keys.delete(`${base}/d`, { recursive: true });
    expect(isKeyNotFound(await etcdError(keys.get(`${base}/d`)))).toBe(true);
  });

  it('applies TTLs in seconds and refreshes them without a new value', async () => {
    const k = `${uniqueKeyPrefix('ttl')}/k`;
    const set = await keys.set(k, 'v', { ttl: 30 });
    expect(set.node?.ttl).toBeGreaterThan(25);
    expect(set.node?.expiration).toMatch(/^\d{4}-\d\d-\d\dT/);
    const refreshed = await keys.set(k, '', { ttl: 60, refresh: true, prevExist: true });
    expect(refreshed.node?.value).toBe('v');
    expect(refreshed.node?.ttl).toBeGreaterThan(55);
    const quiet = await keys.set(k, 'w', { noValueOnSuccess: true });
    expect(quiet.node).toBeUndefined();
    expect(quiet.action).toBe('set');
  });

  it('creates in order, with keys named by index', async () => {
    const dir = `${uniqueKeyPrefix('queue')}/q`;
    const made: Response[] = [];
    for (const value of ['first', 'second', 'third'])
      made.push(await keys.createInOrder(dir, value, { ttl: 60 }));
    const names = made.map((r) => r.node!.key.split('/').pop()!);
    expect(names.every((n) => /^\d{20}$/.test(n))).toBe(true);
    expect([...names].sort()).toEqual(names);
    const listed = await keys.get(dir, { sort: true });
    expect(listed.node?.nodes?.map((n) => n.value)).toEqual(['first', 'second', 'third']);
  });

  it('reports the server version', async () => {
    const version = await client.getVersion();
    expect(version.server).toMatch(/^3\.[45]\./);
    expect(version.cluster).toMatch(/^3\.[45]\./);
  });
});

describe('watchers against a real cluster', () => {
  it('delivers each change once, in order, from afterIndex, recursively', async () => {
    const base = uniqueKeyPrefix('watch');
    const first = await keys.set(`${base}/a`, '1');
    await keys.set(`${base}/b`, '2');
    await keys.delete(`${base}/a`);
    const watcher = keys.watcher(base, { afterIndex: first.node!.modifiedIndex - 1, recursive: true });
    const events: string[] = [];
    for await (const event of watcher) {
      events.push(`${event.action} ${event.node!.key.slice(base.length)}`);
      if (events.length === 3) break;
    }
    expect(events).toEqual(['set /a', 'set /b', 'delete /a']);
  });

  it('waits for a live change, and a watch is aborted by its signal', async () => {
    const k = `${uniqueKeyPrefix('live')}/k`;
    const watcher = keys.watcher(k);
    const next = watcher.next();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const set = await keys.set(k, 'now');
    const event = await next;
    expect(event.node).toMatchObject({ key: k, value: 'now', modifiedIndex: set.node!.modifiedIndex });
    const controller = new AbortController();
    const waiting = watcher.next({ signal: controller.signal });
    const reason = new Error('stop watching');
    controller.abort(reason);
    await expect(waiting).rejects.toBe(reason);
  });

  it('surfaces error 401 when the index was cleared, and resync() resumes with nothing lost', async () => {
    const base = uniqueKeyPrefix('cleared');
    const start = await keys.set(`${base}/k`, 'start');
    // The server keeps 1000 events: push the start index out of its history.
    for (let i = 0; i < 1010; i += 10) {
      await Promise.all(Array.from({ length: 10 }, (_, j) => keys.set(`${base}/filler`, String(i + j))));
    }
    await keys.set(`${base}/k`, 'last');
    const watcher = keys.watcher(base, { afterIndex: start.index, recursive: true });
    const error = await etcdError(watcher.next());
    expect(error.errorCode).toBe(ErrorCode.EventIndexCleared);
    expect(await etcdError(watcher.next())).toMatchObject({ errorCode: 401 });
    const snapshot = await watcher.resync();
    expect(snapshot.node?.nodes?.find((n) => n.key === `${base}/k`)?.value).toBe('last');
    expect(watcher.waitIndex).toBe(snapshot.index + 1);
    const after = await keys.set(`${base}/k`, 'after');
    const event = await watcher.next();
    expect(event.node).toMatchObject({ value: 'after', modifiedIndex: after.node!.modifiedIndex });
  });

  it('a reply above maxResponseSize fails each endpoint with ResponseTooLargeError; smaller ones pass', async () => {
    const base = uniqueKeyPrefix('max-size');
    await keys.set(`${base}/big`, 'x'.repeat(100_000));
    await keys.set(`${base}/small`, 'y');
    await using limited = new Client({ endpoints: sharedClusterEndpoints(), maxResponseSize: 50_000 });
    const limitedKeys = new KeysAPI(limited);
    // quorum reads: the other members may not have applied the writes yet
    expect((await limitedKeys.get(`${base}/small`, { quorum: true })).node?.value).toBe('y');
    const error = await limitedKeys.get(`${base}/big`, { quorum: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ClusterError);
    const errors = (error as ClusterError).errors;
    expect(errors).toHaveLength(sharedClusterEndpoints().length);
    for (const e of errors) expect(e).toMatchObject({ name: 'ResponseTooLargeError', limit: 50_000 });
    expect((await keys.get(`${base}/big`, { quorum: true })).node?.value).toHaveLength(100_000);
  });
});
