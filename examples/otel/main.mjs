// trellis with OpenTelemetry, exporting to the console: the span tree of a run
// and the metric set, and trellis's log lines through a logger.
//
//   npm run example:otel          (builds, then runs this file)
//
// An application wires the SDK once, before it opens a runtime (here by hand
// with the SDK's building blocks; `@opentelemetry/sdk-node` does the same in
// one call). trellis itself depends on `@opentelemetry/api` only.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { context, metrics, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { ConsoleMetricExporter, MeterProvider, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics";
import { BasicTracerProvider, ConsoleSpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { newExecutor, newPackage, newRuntime, requireSteps, sqliteStore, WorkflowError } from "../../dist/index.js";

// 1. The SDK: the context manager (so the caller's span reaches startRun), spans and metrics to the console.
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(new ConsoleSpanExporter())] });
trace.setGlobalTracerProvider(tracerProvider);
const meterProvider = new MeterProvider({
  readers: [new PeriodicExportingMetricReader({ exporter: new ConsoleMetricExporter(), exportIntervalMillis: 60_000 })],
});
metrics.setGlobalMeterProvider(meterProvider);

// 2. A runtime with a logger: console works as one (pino works the same way).
const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
const rt = await newRuntime({ store: sqliteStore(path.join(repoRoot, "var", "otel.db")), logger: console, statsInterval: 100 });

rt.registerExecutor(newExecutor("orders/reserve", async (step) => step.result({ reserved: true })));
rt.registerExecutor(
  newExecutor("orders/charge", async (step) => {
    // A first attempt that fails shows a retry in the trace: an ERROR span with a retry_scheduled event.
    if (step.attempt === 1) throw new WorkflowError("payment_timeout", "the payment provider timed out", { retryable: true });
    // The executor's own spans nest under its attempt's span.
    await trace.getTracer("example").startActiveSpan("POST https://payments.example/charge", async (span) => {
      step.logger.info({ amount: 42 }, "charging");
      span.end();
    });
    step.result({ charged: 42 });
  }),
);
rt.registerExecutor(newExecutor("orders/ship", async (step) => step.result({ shipped: true })));
rt.registerPackage(
  newPackage("orders")
    .entrypoint((run) => {
      const reserve = run.step("reserve", null, { kind: "orders/reserve" });
      const charge = run.step("charge", null, { kind: "orders/charge", dependsOn: requireSteps(reserve), retry: { maxAttempts: 3, initialBackoff: 10 } });
      run.step("ship", null, { kind: "orders/ship", dependsOn: requireSteps(charge) });
    })
    .build(),
);

// 3. A "request" span that starts the run: the run's steps join its trace.
const runId = `order-${Date.now()}`;
await trace.getTracer("example").startActiveSpan("POST /orders", async (span) => {
  await rt.startRun("orders", null, { runId });
  span.end();
});

const ac = new AbortController();
const workers = rt.startWorkers({ signal: ac.signal, pollInterval: 50 });
const run = await rt.waitForRun(runId, { timeout: 30_000 });
console.log(`\nrun ${run.id}: ${run.status}; trace context stored with it: ${run.metadata["trellis.traceparent"]}`);
console.log("rt.stats():", JSON.stringify(await rt.stats(), null, 2));
ac.abort();
await workers;

// 4. Export the metrics once (the reader would every minute), then shut down.
await meterProvider.forceFlush();
await rt.close();
await meterProvider.shutdown();
await tracerProvider.shutdown();
