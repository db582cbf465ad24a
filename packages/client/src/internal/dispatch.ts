import type { Dispatcher } from 'undici';

/** The reason a request is aborted with when its reply exceeds `maxBytes` (the caller names the endpoint). */
export class ReplyTooLarge extends Error {
  override name = 'ReplyTooLarge';
}

/**
 * The reason a request is aborted with when its response headers did not arrive in time (the caller names the
 * endpoint).
 */
export class HeadersTimedOut extends Error {
  override name = 'HeadersTimedOut';
}

/** A whole HTTP reply: status, headers and the body decoded as UTF-8. */
export interface WholeReply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
  /** Bytes of the body as received. */
  readonly bytes: number;
}

/** What bounds and observes one request of {@link dispatchRequest}. */
export interface DispatchControls {
  /** Aborts the request (the promise rejects with the abort reason). */
  readonly signal?: AbortSignal | undefined;
  /** A second signal that aborts it too (two signals cost less than `AbortSignal.any` of them). */
  readonly alsoSignal?: AbortSignal | undefined;
  /** Largest reply body, in bytes; 0 (default): no limit. */
  readonly maxBytes?: number;
  /** Time allowed for the response headers, in ms; 0 (default): none. */
  readonly headersTimeoutMs?: number;
  /** Called with the status when the response headers arrive. */
  readonly onHeaders?: ((status: number) => void) | undefined;
}

/**
 * Sends one request through `dispatcher.dispatch` and collects the whole reply. Compared with
 * `dispatcher.request`, it skips the body stream and its per-request machinery, which is most of the cost
 * of a small etcd reply. `signal` and `alsoSignal` abort the request (the promise rejects with the abort
 * reason). A reply whose body (announced by Content-Length, or as received) exceeds `maxBytes` is aborted at
 * once and rejects with a {@link ReplyTooLarge}.
 *
 * `headersTimeoutMs` is a timer of this function's own, armed at dispatch and cleared when the response
 * starts: when it fires the promise rejects at once with a {@link HeadersTimedOut} and the request is aborted.
 * undici's own `headersTimeout` runs on a coarse timer that fires up to about 500 ms late; pass 0 for it.
 */
export function dispatchRequest(
  dispatcher: Dispatcher,
  options: Dispatcher.DispatchOptions,
  controls: DispatchControls = {},
): Promise<WholeReply> {
  const { signal, alsoSignal, maxBytes = 0, headersTimeoutMs = 0, onHeaders } = controls;
  return new Promise((resolve, reject) => {
    let status = 0;
    let headers: Record<string, string | string[] | undefined> = {};
    let received = 0;
    const chunks: Buffer[] = [];
    let onAbort: (() => void) | undefined;
    let requestController: Dispatcher.DispatchController | undefined;
    let timedOut: HeadersTimedOut | undefined;
    let timer: NodeJS.Timeout | undefined;
    if (headersTimeoutMs > 0) {
      timer = setTimeout(() => {
        timer = undefined;
        timedOut = new HeadersTimedOut(`no response headers within ${headersTimeoutMs} ms`);
        requestController?.abort(timedOut);
        done();
        reject(timedOut);
      }, headersTimeoutMs);
    }
    const done = (): void => {
      if (timer !== undefined) clearTimeout(timer);
      if (onAbort) {
        signal?.removeEventListener('abort', onAbort);
        alsoSignal?.removeEventListener('abort', onAbort);
      }
    };
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(controller) {
        requestController = controller;
        if (timedOut) {
          controller.abort(timedOut);
          return;
        }
        if (!signal && !alsoSignal) return;
        const aborted = signal?.aborted ? signal : alsoSignal?.aborted ? alsoSignal : undefined;
        if (aborted) {
          controller.abort(aborted.reason);
          return;
        }
        onAbort = () => controller.abort(signal?.aborted ? signal.reason : alsoSignal?.reason);
        signal?.addEventListener('abort', onAbort, { once: true });
        alsoSignal?.addEventListener('abort', onAbort, { once: true });
      },
      onResponseStart(controller, statusCode, responseHeaders) {
        if (timer !== undefined) {
          clearTimeout(timer);
          timer = undefined;
        }
        status = statusCode;
        headers = responseHeaders as Record<string, string | string[] | undefined>;
        if (maxBytes > 0 && Number(headers['content-length']) > maxBytes) {
          controller.abort(new ReplyTooLarge(`reply larger than ${maxBytes} bytes`));
          return;
        }
        onHeaders?.(statusCode);
      },
      onResponseData(controller, chunk) {
        received += chunk.length;
        if (maxBytes > 0 && received > maxBytes) {
          chunks.length = 0;
          controller.abort(new ReplyTooLarge(`reply larger than ${maxBytes} bytes`));
          return;
        }
        chunks.push(chunk);
      },
      onResponseEnd() {
        done();
        resolve({
          status,
          headers,
          body: chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8'),
          bytes: received,
        });
      },
      onResponseError(_controller, error) {
        done();
        reject(error);
      },
    };
    try {
      dispatcher.dispatch(options, handler);
    } catch (error) {
      done();
      reject(error);
    }
  });
}
