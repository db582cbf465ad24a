import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { diag } from '@opentelemetry/api';

/** Subscriptions made by name, all undone by {@link Subscriptions.close}. */
export class Subscriptions {
  readonly #undo: (() => void)[] = [];

  /**
   * Calls `handler` with each message published on the channel `name`. A handler that throws is reported to
   * OpenTelemetry's `diag` logger and goes no further: an error thrown by a subscriber would otherwise become an
   * uncaught exception of the application.
   */
  on<T>(name: string, handler: (message: T) => void): void {
    const listener = (message: unknown) => {
      try {
        handler(message as T);
      } catch (error) {
        diag.error(`@etcdkit/otel: the handler of ${name} failed`, error);
      }
    };
    subscribe(name, listener);
    this.#undo.push(() => unsubscribe(name, listener));
  }

  close(): void {
    for (const undo of this.#undo.splice(0)) undo();
  }
}
