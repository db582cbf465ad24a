import type { Dispatcher } from 'undici';

/** The reason a request is aborted with when its reply exceeds `maxBytes` (the caller names the endpoint). */
export class ReplyTooLarge extends Error {
  override name = 'ReplyTooLarge';
}

/** A whole HTTP reply: status, headers and the body decoded as UTF-8. */
export interface WholeReply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/**
 * Sends one request through `dispatcher.dispatch` and collects the whole reply. Compared with
 * `dispatcher.request`, it skips the body stream and its per-request machinery, which is most of the cost
 * of a small etcd reply. `signal` aborts the request (the promise rejects with the abort reason).
 * A reply whose body (announced by Content-Length, or as received) exceeds `maxBytes` is aborted at once and
 * rejects with a {@link ReplyTooLarge}; `maxBytes` 0 means no limit.
 */
export function dispatchRequest(
  dispatcher: Dispatcher,
  options: Dispatcher.DispatchOptions,
  signal: AbortSignal | undefined,
  maxBytes = 0,
): Promise<WholeReply> {
  return new Promise((resolve, reject) => {
    let status = 0;
    let headers: Record<string, string | string[] | undefined> = {};
    let received = 0;
    const chunks: Buffer[] = [];
    let onAbort: (() => void) | undefined;
    const done = (): void => {
      if (onAbort) signal?.removeEventListener('abort', onAbort);
    };
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(controller) {
        if (!signal) return;
        if (signal.aborted) {
          controller.abort(signal.reason);
          return;
        }
        onAbort = () => controller.abort(signal.reason);
        signal.addEventListener('abort', onAbort, { once: true });
      },
      onResponseStart(controller, statusCode, responseHeaders) {
        status = statusCode;
        headers = responseHeaders as Record<string, string | string[] | undefined>;
        if (maxBytes > 0 && Number(headers['content-length']) > maxBytes)
          controller.abort(new ReplyTooLarge(`reply larger than ${maxBytes} bytes`));
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
