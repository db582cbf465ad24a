import type { Dispatcher } from 'undici';
import { describe, expect, it } from 'vitest';
import { AbortHook } from '../../src/internal/abort-hook.js';
import { dispatchRequest, HeadersTimedOut } from '../../src/internal/dispatch.js';

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
