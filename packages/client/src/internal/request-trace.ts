import { AsyncResource } from 'node:async_hooks';
import type { CallTrace } from './channels.js';
import { channels } from './channels.js';

/**
 * The diagnostics of one HTTP request of a traced call: publishes request:start when made, then
 * request:headers, request:end or request:error. Messages are plain objects built field by field (an object
 * spread per event cost more than the rest of the event).
 */
export class RequestTrace {
  readonly #trace: CallTrace;
  readonly #attempt: number;
  readonly #started = performance.now();

  constructor(
    trace: CallTrace,
    readonly endpoint: string,
    readonly hop: number,
    readonly method: 'GET' | 'PUT' | 'POST' | 'DELETE',
    readonly origin: string,
    readonly path: string,
  ) {
    this.#trace = trace;
    this.#attempt = trace.attempt;
    if (channels.requestStart.hasSubscribers) {
      channels.requestStart.publish({
        call: trace.call,
        endpoint,
        attempt: this.#attempt,
        hop,
        method,
        origin,
        path,
      });
    }
  }

  /**
   * What to call when the headers arrive, or `undefined` when nobody listens. undici calls it from its socket's
   * callback, in the async context of whichever call opened the connection: it is bound to this call's.
   */
  get onHeaders(): ((status: number) => void) | undefined {
    if (!channels.requestHeaders.hasSubscribers) return undefined;
    return AsyncResource.bind((status: number) => this.#headers(status));
  }

  end(status: number, bytes: number): void {
    if (!channels.requestEnd.hasSubscribers) return;
    channels.requestEnd.publish({
      call: this.#trace.call,
      endpoint: this.endpoint,
      attempt: this.#attempt,
      hop: this.hop,
      method: this.method,
      origin: this.origin,
      path: this.path,
      status,
      durationMs: performance.now() - this.#started,
      bytes,
    });
  }

  error(error: unknown): void {
    if (!channels.requestError.hasSubscribers) return;
    channels.requestError.publish({
      call: this.#trace.call,
      endpoint: this.endpoint,
      attempt: this.#attempt,
      hop: this.hop,
      method: this.method,
      origin: this.origin,
      path: this.path,
      error,
      durationMs: performance.now() - this.#started,
    });
  }

  #headers(status: number): void {
    channels.requestHeaders.publish({
      call: this.#trace.call,
      endpoint: this.endpoint,
      attempt: this.#attempt,
      hop: this.hop,
      method: this.method,
      origin: this.origin,
      path: this.path,
      status,
      durationMs: performance.now() - this.#started,
    });
  }
}
