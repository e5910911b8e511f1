/**
 * The OpenTelemetry SDK wired the way an application wires it, with in-memory
 * exporters: registered globally once per test file (the API's globals are
 * per process), before any runtime opens (a meter is bound at `newRuntime`).
 */
import { context, metrics, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { AggregationTemporality, MeterProvider, MetricReader, type ResourceMetrics } from "@opentelemetry/sdk-metrics";
import { BasicTracerProvider, InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";

/** A reader collected on demand (no timer): `collect()` is the scrape. */
class OnDemandReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected async onShutdown(): Promise<void> {}
  protected async onForceFlush(): Promise<void> {}
}

export function installOtel() {
  const spans = new InMemorySpanExporter();
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }));
  const reader = new OnDemandReader();
  metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
  return {
    tracer: trace.getTracer("test"),
    /** The finished spans of one trace. */
    spansOf(traceId: string): ReadableSpan[] {
      return spans.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
    },
    finishedSpans: () => spans.getFinishedSpans(),
    async collect(): Promise<ResourceMetrics> {
      const { resourceMetrics, errors } = await reader.collect();
      if (errors.length) throw errors[0];
      return resourceMetrics;
    },
  };
}

/** A span's parent span id ("" for a root). */
export const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId ?? "";
