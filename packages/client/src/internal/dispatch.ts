import type { Dispatcher } from 'undici';

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
 */
export function dispatchRequest(
  dispatcher: Dispatcher,
  options: Dispatcher.DispatchOptions,
  signal: AbortSignal | undefined,
): Promise<WholeReply> {
  return new Promise((resolve, reject) => {
    let status = 0;
    let headers: Record<string, string | string[] | undefined> = {};
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
      onResponseStart(_controller, statusCode, responseHeaders) {
        status = statusCode;
        headers = responseHeaders as Record<string, string | string[] | undefined>;
      },
      onResponseData(_controller, chunk) {
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
