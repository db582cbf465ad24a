import type { Dispatcher } from 'undici';
import { describe, expect, it } from 'vitest';
import { AbortHook } from '../../src/internal/abort-hook.js';
import { dispatchRequest, HeadersTimedOut, pickHeaders } from '../../src/internal/dispatch.js';

/** A dispatcher that never connects the request (a member whose address does not answer), until `connect()`. */
function neverConnecting() {
  let handler: Dispatcher.DispatchHandler | undefined;
  const aborts: unknown[] = [];
  const dispatcher = {
    dispatch(_options: Dispatcher.DispatchOptions, h: Dispatcher.DispatchHandler) {
      handler = h;
      return true;
    },
  } as unknown as Dispatcher;
  return {
    dispatcher,
    aborts,
    /** undici gets a connection at last: the handler is told, and may abort at once. */
    connect() {
      handler?.onConnect?.((reason) => {
        aborts.push(reason);
        handler?.onError?.(reason ?? new Error('aborted'));
      });
    },
  };
}

const options: Dispatcher.DispatchOptions = {
  origin: 'http://127.0.0.1:9',
  path: '/v2/keys/a',
  method: 'GET',
};

describe('dispatchRequest gives up at once, also before undici has a connection', () => {
  it('on the caller abort', async () => {
    const member = neverConnecting();
    const controller = new AbortController();
    const pending = dispatchRequest(member.dispatcher, options, { signal: controller.signal });
    const reason = new Error('caller gave up');
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
    member.connect(); // the request is aborted as soon as it gets a connection
    expect(member.aborts).toEqual([reason]);
  });

  it("on a watcher's close or a liveness lease", async () => {
    for (const which of ['closer', 'liveness'] as const) {
      const member = neverConnecting();
      const hook = new AbortHook();
      const pending = dispatchRequest(member.dispatcher, options, { [which]: hook });
      const reason = new Error(`${which} aborted`);
      hook.abort(reason);
      await expect(pending).rejects.toBe(reason);
    }
  });

  it('on the header timeout', async () => {
    const member = neverConnecting();
    const t0 = performance.now();
    await expect(
      dispatchRequest(member.dispatcher, options, { headersTimeoutMs: 50 }),
    ).rejects.toBeInstanceOf(HeadersTimedOut);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(49);
  });

  it('without dispatching when already aborted', async () => {
    let dispatched = false;
    const dispatcher = {
      dispatch() {
        dispatched = true;
        return true;
      },
    } as unknown as Dispatcher;
    const hook = new AbortHook();
    const reason = new Error('closed before');
    hook.abort(reason);
    await expect(dispatchRequest(dispatcher, options, { closer: hook })).rejects.toBe(reason);
    expect(dispatched).toBe(false);
  });
});

describe('pickHeaders', () => {
  const raw = (...pairs: string[]): Buffer[] => pairs.map((text) => Buffer.from(text, 'latin1'));

  it("keeps etcd's headers in any case, names lower-cased, and nothing else", () => {
    const reply = raw(
      'Content-Type',
      'application/json',
      'X-ETCD-Cluster-Id',
      'cdf818194e3a8c32',
      'x-Etcd-Index',
      '42',
      'X-Raft-Index',
      '7',
      'X-Raft-Term',
      '2',
      'Date',
      'Tue, 01 Dec 2026 23:40:00 GMT',
      'LOCATION',
      'http://127.0.0.1:2379/v2/keys/a',
      'Content-Length',
      '17',
    );
    expect(pickHeaders(reply)).toEqual({
      'x-etcd-cluster-id': 'cdf818194e3a8c32',
      'x-etcd-index': '42',
      location: 'http://127.0.0.1:2379/v2/keys/a',
      'content-length': '17',
    });
  });

  it('keeps the first of a repeated header, and takes names given as strings too', () => {
    expect(pickHeaders(['X-Etcd-Index', '1', 'x-etcd-index', '2'])).toEqual({ 'x-etcd-index': '1' });
    expect(pickHeaders(raw('X-Etcd-Index', '1', 'X-Etcd-Index', '2'))).toEqual({ 'x-etcd-index': '1' });
  });

  it('refuses names of the same length that differ, in any byte', () => {
    const kept = 'x-etcd-cluster-id';
    for (let i = 0; i < kept.length; i++) {
      const name = Buffer.from(kept, 'latin1');
      name[i] = name[i] === 0x5f ? 0x60 : 0x5f; // '_' (or '`' where '_' was)
      expect(pickHeaders([name, 'v'])).toEqual({});
    }
    expect(
      pickHeaders(raw('X-Etcd_Index', '1', 'Content-Lengtx', '2', 'Locatio ', '3', 'X-Etcd-Indexx', '4')),
    ).toEqual({});
    expect(pickHeaders(null)).toEqual({});
  });
});
