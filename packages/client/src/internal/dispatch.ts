import type { Dispatcher } from 'undici';
import { type AbortHook, hookOf } from './abort-hook.js';
import { type Deadline, deadline } from './deadlines.js';

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

/**
 * The headers a reply is read for (lower-case): the store index and cluster id of etcd's replies, a redirect's
 * target, and the announced length (for the size limit). No other header is read by the client. Their lengths
 * differ, so a name's length tells which one it can be.
 */
const KEPT_HEADERS = ['x-etcd-index', 'x-etcd-cluster-id', 'location', 'content-length'];
const KEPT_BY_LENGTH: (string | undefined)[] = [];
for (const name of KEPT_HEADERS) {
  // a kept name of a length already taken would hide the other one: pick by more than the length then
  if (KEPT_BY_LENGTH[name.length] !== undefined) throw new Error(`kept headers of one length: ${name}`);
  KEPT_BY_LENGTH[name.length] = name;
}

/**
 * The kept header `name` is (lower-case), or `undefined`. A name as bytes is compared in place, without making
 * a string of it: a byte with bit 0x20 set equals a kept name's lower-case letter or '-' only when it is that
 * character in either case (the other bytes that would match are control characters, which no header name
 * has).
 */
function keptName(name: Buffer | string): string | undefined {
  const kept = KEPT_BY_LENGTH[name.length];
  if (kept === undefined) return undefined;
  if (typeof name === 'string') return name.toLowerCase() === kept ? kept : undefined;
  for (let i = 0; i < kept.length; i++) if ((name[i]! | 0x20) !== kept.charCodeAt(i)) return undefined;
  return kept;
}

/**
 * The {@link KEPT_HEADERS} of a reply's raw headers (name, value, name, value, ...), names lower-cased; a
 * repeated header keeps its first value, as Go's `Header.Get` reads it.
 */
export function pickHeaders(raw: readonly (Buffer | string)[] | null): Record<string, string> {
  const headers: Record<string, string> = {};
  if (!raw) return headers;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = keptName(raw[i]!);
    if (name === undefined || headers[name] !== undefined) continue;
    const value = raw[i + 1]!;
    headers[name] = typeof value === 'string' ? value : value.toString('latin1');
  }
  return headers;
}

/** A whole HTTP reply: status, the headers the client reads, and the body decoded as UTF-8. */
export interface WholeReply {
  readonly status: number;
  /** The {@link KEPT_HEADERS} only, names lower-case. */
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
  /** Bytes of the body as received. */
  readonly bytes: number;
}

/** What bounds and observes one request of {@link dispatchRequest}. */
export interface DispatchControls {
  /** Aborts the request (the promise rejects with the abort reason). */
  readonly signal?: AbortSignal | undefined;
  /** Aborts it too: a watcher's close. */
  readonly closer?: AbortHook | undefined;
  /** Aborts it too: the client's close (for a watch's wait, which a close does not let finish). */
  readonly closing?: AbortHook | undefined;
  /** Aborts it too: the liveness lease of a watch's member. */
  readonly liveness?: AbortHook | undefined;
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
 * of a small etcd reply. `signal`, `closer`, `closing` and `liveness` abort the request (the promise rejects with the
 * abort reason). A reply whose body (announced by Content-Length, or as received) exceeds `maxBytes` is
 * aborted at once and rejects with a {@link ReplyTooLarge}.
 *
 * `headersTimeoutMs` is a precise deadline of this function's own (see `deadlines.ts`), set at dispatch and
 * cancelled when the response starts: when it passes, the promise rejects at once with a
 * {@link HeadersTimedOut} and the request is aborted. undici's own `headersTimeout` runs on a coarse timer
 * that fires up to about 500 ms late; pass 0 for it.
 */
export function dispatchRequest(
  dispatcher: Dispatcher,
  options: Dispatcher.DispatchOptions,
  controls: DispatchControls = {},
): Promise<WholeReply> {
  const { signal, closer, closing, liveness, maxBytes = 0, headersTimeoutMs = 0, onHeaders } = controls;
  return new Promise((resolve, reject) => {
    let status = 0;
    let headers: Record<string, string | string[] | undefined> = {};
    let received = 0;
    const chunks: Buffer[] = [];
    const signalHook = signal ? hookOf(signal) : undefined;
    let onAbort: ((reason: unknown) => void) | undefined;
    let onHookAbort: ((reason: unknown) => void) | undefined;
    let abortRequest: ((reason: Error) => void) | undefined;
    /** Why the request was given up before undici connected it (then it is aborted as soon as it is). */
    let stopped: { readonly reason: unknown } | undefined;
    let timer: Deadline | undefined;
    /** Gives the request up with `reason`: at once, also while it still waits for a connection. */
    const stop = (reason: unknown): void => {
      if (abortRequest) abortRequest(reason as Error);
      else stopped ??= { reason };
      done();
      reject(reason);
    };
    if (headersTimeoutMs > 0) {
      timer = deadline(headersTimeoutMs, () => {
        timer = undefined;
        stop(new HeadersTimedOut(`no response headers within ${headersTimeoutMs} ms`));
      });
    }
    const done = (): void => {
      timer?.cancel();
      if (onAbort) signalHook?.unlisten(onAbort);
      if (onHookAbort) {
        closer?.unlisten(onHookAbort);
        closing?.unlisten(onHookAbort);
        liveness?.unlisten(onHookAbort);
      }
    };
    // undici's own handler interface (the one its dispatchers call): a handler with `onRequestStart` would be
    // wrapped in an adapter that parses every header into an object and makes a controller per request.
    const handler: Dispatcher.DispatchHandler = {
      onConnect(abort) {
        abortRequest = abort;
        if (stopped) abort(stopped.reason as Error);
      },
      onHeaders(statusCode, rawHeaders) {
        if (statusCode < 200) return true; // 1xx: the reply is still to come
        timer?.cancel();
        timer = undefined;
        status = statusCode;
        headers = pickHeaders(rawHeaders);
        if (maxBytes > 0 && Number(headers['content-length']) > maxBytes) {
          abortRequest?.(new ReplyTooLarge(`reply larger than ${maxBytes} bytes`));
          return true;
        }
        onHeaders?.(statusCode);
        return true;
      },
      onData(chunk) {
        received += chunk.length;
        if (maxBytes > 0 && received > maxBytes) {
          chunks.length = 0;
          abortRequest?.(new ReplyTooLarge(`reply larger than ${maxBytes} bytes`));
          return true;
        }
        chunks.push(chunk);
        return true;
      },
      onComplete() {
        done();
        resolve({
          status,
          headers,
          body: chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8'),
          bytes: received,
        });
      },
      onError(error) {
        done();
        reject(error);
      },
    };
    // Aborts are heard from now on, not only once undici has a connection for the request: a close or an
    // abort during a connect to a member that does not answer takes effect at once.
    const aborted = signal?.aborted
      ? signal
      : closer?.aborted
        ? closer
        : closing?.aborted
          ? closing
          : liveness;
    if (aborted?.aborted) {
      reject(aborted.reason);
      done();
      return;
    }
    if (signalHook) {
      onAbort = stop;
      signalHook.listen(onAbort);
    }
    if (closer || closing || liveness) {
      onHookAbort = stop;
      closer?.listen(onHookAbort);
      closing?.listen(onHookAbort);
      liveness?.listen(onHookAbort);
    }
    try {
      dispatcher.dispatch(options, handler);
    } catch (error) {
      done();
      reject(error);
    }
  });
}
