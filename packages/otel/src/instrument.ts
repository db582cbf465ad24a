import { type MeterProvider, metrics, type TracerProvider, trace } from '@opentelemetry/api';
import { recordMetrics } from './internal/metrics.js';
import { traceCalls } from './internal/spans.js';
import { Subscriptions } from './internal/subscriptions.js';

/** The instrumentation scope's name: the tracer's and the meter's. */
const SCOPE = '@etcdkit/otel';
/** This package's version (a test keeps it equal to package.json's). */
export const VERSION = '0.1.0';

/** Options of {@link instrument}; every field is optional. */
export interface InstrumentOptions {
  /**
   * Where spans go. Default: the global tracer provider of `@opentelemetry/api` (a provider registered after
   * `instrument()` is still used: the global tracer delegates to it).
   */
  readonly tracerProvider?: TracerProvider;
  /**
   * Where metrics go. Default: the global meter provider of `@opentelemetry/api`, as registered when
   * `instrument()` is called (register the SDK first: the API's global meter does not follow a later one).
   */
  readonly meterProvider?: MeterProvider;
  /** One CLIENT span a client call. Default `true`. */
  readonly spans?: boolean;
  /** The metrics named in {@link MetricNames}. Default `true`. */
  readonly metrics?: boolean;
  /**
   * Spans for watch waits too (operation `watch`). Default `false`: a wait is a long poll that lasts until the
   * next event, which would make for spans as long as the quiet times of the watched key.
   */
  readonly watchSpans?: boolean;
}

/** What {@link instrument} returns: stops the instrumentation. */
export interface Instrumentation extends Disposable {
  /**
   * Unsubscribes from every channel and ends the spans of calls still in flight (without a status: their
   * outcome is not known). Idempotent.
   */
  close(): void;
  /** {@link Instrumentation.close}, for `using`. */
  [Symbol.dispose](): void;
}

function flag(options: InstrumentOptions, name: 'spans' | 'metrics' | 'watchSpans', fallback: boolean) {
  const value = options[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new TypeError(`options.${name} must be a boolean`);
  return value;
}

/**
 * Subscribes to the `node:diagnostics_channel` events of `@etcdkit/client` and `@etcdkit/recipes` and turns
 * them into OpenTelemetry spans and metrics:
 *
 * - one CLIENT span a client call, named `etcd <operation>` (`etcd get`, `etcd set`, ...), a child of the span
 *   active where the call was made, with attributes `db.system.name` (`etcd`), `db.operation.name`,
 *   `etcd.key`, `server.address` and `server.port` of the member that answered, `http.response.status_code`,
 *   `etcd.index` (the reply's `X-Etcd-Index`), `http.request.resend_count` (when the call was repeated on
 *   another member), and `error.type` with status ERROR when it failed. Each failed attempt is an event
 *   `etcdkit.request.error`, each failover an event `etcdkit.failover`. Watch waits have no span unless
 *   {@link InstrumentOptions.watchSpans};
 * - the metrics of {@link MetricNames}.
 *
 * No attribute carries credentials: endpoints are reduced to host and port (or origin), errors to their `name`
 * (`error.type`) and message (the span status message only); no header, body or `cause` is read. The recipes
 * need not be installed: their channels are subscribed to by name.
 *
 * @param options - see {@link InstrumentOptions}.
 * @returns what unsubscribes again.
 * @throws TypeError when an option has the wrong type.
 */
export function instrument(options: InstrumentOptions = {}): Instrumentation {
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
  const spans = flag(options, 'spans', true);
  const withMetrics = flag(options, 'metrics', true);
  const watchSpans = flag(options, 'watchSpans', false);

  const subscriptions = new Subscriptions();
  let endOpenSpans = () => {};
  if (spans) {
    const tracer = (options.tracerProvider ?? trace.getTracerProvider()).getTracer(SCOPE, VERSION);
    endOpenSpans = traceCalls(subscriptions, tracer, watchSpans);
  }
  if (withMetrics) {
    const meter = (options.meterProvider ?? metrics.getMeterProvider()).getMeter(SCOPE, VERSION);
    recordMetrics(subscriptions, meter);
  }

  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    subscriptions.close();
    endOpenSpans();
  };
  return { close, [Symbol.dispose]: close };
}
