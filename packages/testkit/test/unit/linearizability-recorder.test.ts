import { channel } from 'node:diagnostics_channel';
import { describe, expect, it } from 'vitest';
import {
  checkKvLinearizability,
  KvHistory,
  type RecordableKeys,
  type RecordableReply,
} from '../../src/index.js';

const node = (key: string, value: string, modifiedIndex: number) => ({ key, value, modifiedIndex });

/** An error as `@etcdkit/client` throws for a server reply. */
function etcdError(errorCode: number, index = 9): Error {
  return Object.assign(new Error(`error ${errorCode}`), { name: 'EtcdError', errorCode, index });
}

/** A ClusterError of one endpoint whose cause is `cause`. */
function clusterError(cause: Error): Error {
  const endpoint = Object.assign(new Error('endpoint failed', { cause }), { name: 'EndpointError' });
  return Object.assign(new Error('client: etcd cluster is unavailable'), {
    name: 'ClusterError',
    errors: [endpoint],
  });
}

const refused = () => Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });

/** Keys whose every call does `behave` (publishing `requests` request starts first, as the client does). */
function fakeKeys(behave: () => Promise<RecordableReply>, requests = 0): RecordableKeys {
  const start = channel('etcdkit:client:request:start');
  const call = async () => {
    for (let i = 0; i < requests; i++) start.publish({ attempt: i + 1 });
    return behave();
  };
  return { get: call, set: call, delete: call, createInOrder: call };
}

describe('KvRecorder', () => {
  it('records replies as outputs, with the prevNode of a write', async () => {
    const history = new KvHistory();
    const replies: RecordableReply[] = [
      { node: node('/x', 'a', 4) },
      { node: node('/x', 'b', 5), prevNode: node('/x', 'a', 4) },
      { node: node('/x', 'b', 5) },
      { node: node('/q/00000000000000000007', 'c', 7) },
    ];
    const keys = fakeKeys(async () => replies.shift()!);
    const recorder = history.recorder('p1', keys);
    expect((await recorder.set('/x', 'a')).output).toEqual({ status: 'ok', index: 4, prev: null });
    expect((await recorder.cas('/x', 'b', { prevIndex: 4 })).output).toEqual({
      status: 'ok',
      index: 5,
      prev: { value: 'a', index: 4 },
    });
    expect((await recorder.get('/x')).output).toEqual({ status: 'ok', value: 'b', index: 5 });
    const created = await recorder.createInOrder('q', 'c');
    expect(created.output).toEqual({ status: 'ok', index: 7, key: 'q/00000000000000000007' });
    expect(history.operations.map((op) => op.process)).toEqual(['p1', 'p1', 'p1', 'p1']);
    expect(history.operations.every((op) => op.start <= op.end)).toBe(true);
    expect(checkKvLinearizability(history)).toMatchObject({ ok: true });
  });

  it('records 100, 101 and 105 as definite outcomes when one request was sent', async () => {
    const history = new KvHistory();
    const failWith = (code: number) =>
      history.recorder(
        'p',
        fakeKeys(() => Promise.reject(etcdError(code)), 1),
      );
    expect((await failWith(101).cas('/x', 'b', { prevValue: 'a' })).output).toEqual({
      status: 'compare-failed',
    });
    expect((await failWith(105).create('/x', 'b')).output).toEqual({ status: 'exists' });
    expect((await failWith(100).delete('/x')).output).toEqual({ status: 'not-found' });
    expect((await failWith(100).get('/x')).output).toEqual({ status: 'not-found', storeIndex: 9 });
  });

  it('leaves a write pending when the client sent it more than once', async () => {
    const history = new KvHistory();
    const twice = history.recorder(
      'p',
      fakeKeys(() => Promise.reject(etcdError(101)), 2),
    );
    const lost = await twice.cas('/x', 'b', { prevValue: 'a' });
    expect(lost.output).toBeUndefined();
    expect(lost.attempts).toBe(2);
    const applied = history.recorder(
      'p',
      fakeKeys(async () => ({ node: node('/x', 'b', 3) }), 2),
    );
    expect((await applied.set('/x', 'b')).output).toBeUndefined();
  });

  it('records a refused connection as not applied, and other failures as pending', async () => {
    const history = new KvHistory();
    const refusing = history.recorder(
      'p',
      fakeKeys(() => Promise.reject(clusterError(refused()))),
    );
    expect(await refusing.set('/x', 'a')).toMatchObject({ failed: true });
    const cases: Error[] = [
      clusterError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })),
      Object.assign(new Error('client: endpoint exceeded header timeout'), { name: 'HeaderTimeoutError' }),
      new DOMException('This operation was aborted', 'AbortError'),
      etcdError(300),
    ];
    for (const error of cases) {
      const op = await history
        .recorder(
          'p',
          fakeKeys(() => Promise.reject(error)),
        )
        .set('/x', 'a');
      expect(op.output).toBeUndefined();
      expect(op.failed).toBeUndefined();
      expect(op.detail).toContain(error.name);
    }
    const read = await history
      .recorder(
        'p',
        fakeKeys(() => Promise.reject(cases[0])),
      )
      .get('/x');
    expect(read.failed).toBe(true);
  });

  it('passes on a bad argument thrown before any request, unrecorded', async () => {
    const history = new KvHistory();
    const recorder = history.recorder(
      'p',
      fakeKeys(() => Promise.reject(new RangeError('prevIndex'))),
    );
    await expect(recorder.cas('/x', 'a', { prevIndex: -1 })).rejects.toThrow(RangeError);
    expect(history.operations).toEqual([]);
  });
});
