import type { Attributes } from '@opentelemetry/api';
import {
  type DataPoint,
  type Histogram,
  MeterProvider,
  type MetricData,
  MetricReader,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';

/** A reader that collects when asked. */
class CollectingReader extends MetricReader {
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

/** An OpenTelemetry SDK that keeps spans and metrics in memory, for assertions. */
export class TestSDK {
  readonly exporter = new InMemorySpanExporter();
  readonly tracerProvider = new BasicTracerProvider({
    spanProcessors: [new SimpleSpanProcessor(this.exporter)],
  });
  readonly reader = new CollectingReader();
  readonly meterProvider = new MeterProvider({ readers: [this.reader] });

  /** The spans ended so far. */
  spans(): ReadableSpan[] {
    return this.exporter.getFinishedSpans();
  }

  /** The spans named `name`. */
  spansNamed(name: string): ReadableSpan[] {
    return this.spans().filter((span) => span.name === name);
  }

  /** Every metric collected now, by name. */
  async metrics(): Promise<Map<string, MetricData>> {
    const { resourceMetrics, errors } = await this.reader.collect();
    if (errors.length > 0) throw errors[0];
    const byName = new Map<string, MetricData>();
    for (const scope of resourceMetrics.scopeMetrics)
      for (const metric of scope.metrics) byName.set(metric.descriptor.name, metric);
    return byName;
  }

  /** The data points of the metric `name` (none when it was never recorded). */
  async points(name: string): Promise<DataPoint<number | Histogram>[]> {
    const metric = (await this.metrics()).get(name);
    return (metric?.dataPoints ?? []) as DataPoint<number | Histogram>[];
  }

  /** The sum of a counter's points whose attributes include `attributes`. */
  async count(name: string, attributes: Attributes = {}): Promise<number> {
    let sum = 0;
    for (const point of await this.points(name))
      if (matches(point.attributes, attributes)) sum += point.value as number;
    return sum;
  }

  /** The histogram points of `name` whose attributes include `attributes`. */
  async histogram(name: string, attributes: Attributes = {}): Promise<Histogram[]> {
    return (await this.points(name))
      .filter((point) => matches(point.attributes, attributes))
      .map((point) => point.value as Histogram);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.tracerProvider.shutdown();
    await this.meterProvider.shutdown();
  }
}

function matches(actual: Attributes, expected: Attributes): boolean {
  return Object.entries(expected).every(([key, value]) => actual[key] === value);
}

/** Every string in the spans' names, attributes, events and status, and in the metrics' attributes. */
export async function everyString(sdk: TestSDK): Promise<string[]> {
  const strings: string[] = [];
  const add = (attributes: Attributes | undefined) => {
    for (const [key, value] of Object.entries(attributes ?? {})) strings.push(key, JSON.stringify(value));
  };
  for (const span of sdk.spans()) {
    strings.push(span.name, span.status.message ?? '');
    add(span.attributes);
    for (const event of span.events) {
      strings.push(event.name);
      add(event.attributes);
    }
  }
  for (const metric of (await sdk.metrics()).values()) {
    strings.push(metric.descriptor.name, metric.descriptor.description);
    for (const point of metric.dataPoints) add(point.attributes);
  }
  return strings;
}
