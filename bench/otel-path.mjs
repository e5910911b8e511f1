#!/usr/bin/env node
// The telemetry calls of one step, alone: what bench:otel's difference is made of,
// without the store, the scheduler or the machine's other load in the figure.
//
//   node bench/otel-path.mjs [--steps 100000] [--off]
//
// Each step goes through the worker's telemetry as the scheduler drives it (the
// claim, the attempt's begin, the executor's context, its end as succeeded), with
// the SDK registered as bench/otel-overhead.mjs registers it, on steps shaped like
// the store's rows (fresh strings each, one stored traceparent). `--off` is
// `telemetry: false` (no OpenTelemetry). It prints the CPU time per step; for counts
// no other load changes, run it under callgrind at two sizes and divide the
// difference in the main thread's instructions by the difference in steps:
//
//   valgrind --tool=callgrind --separate-threads=yes node bench/otel-path.mjs --steps 10000
//   valgrind --tool=callgrind --separate-threads=yes node bench/otel-path.mjs --steps 100000
//   (callgrind_annotate callgrind.out.<pid>-01 | grep TOTALS, for each)
//
// The telemetry classes are internal (not in dist's exports), so they are bundled
// from src with esbuild (a devDependency; tsup builds with it too) into a temporary file first.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import * as api from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { AggregationTemporality, MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";
import { BasicTracerProvider, BatchSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { build } from "esbuild";

const { values: args } = parseArgs({ options: { steps: { type: "string", default: "100000" }, off: { type: "boolean", default: false } } });
const steps = Number(args.steps);

const src = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../src/observability");
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "trellis-otel-path-"));
const entry = path.join(dir, "entry.ts");
fs.writeFileSync(entry, ["otel-metrics", "otel-signals", "worker-telemetry"].map((f) => `export * from ${JSON.stringify(path.join(src, `${f}.ts`))};`).join("\n"));
await build({ entryPoints: [entry], bundle: true, format: "esm", platform: "node", external: ["@opentelemetry/api"], outfile: path.join(dir, "telemetry.mjs"), logLevel: "warning" });
const { StepMetrics, OtelSignals, WorkerTelemetry } = await import(pathToFileURL(path.join(dir, "telemetry.mjs")).href);
fs.rmSync(dir, { recursive: true, force: true });

// The SDK as bench/otel-overhead.mjs registers it: spans batched, then dropped.
const droppingExporter = { export: (spans, done) => done({ code: 0 }), shutdown: async () => {} };
class CollectingReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  async onShutdown() {}
  async onForceFlush() {}
}
api.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
api.trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(droppingExporter)] }));
api.metrics.setGlobalMeterProvider(new MeterProvider({ readers: [new CollectingReader()] }));

const silent = { debugEnabled: false, debug() {}, info() {}, warn() {}, error() {} };
const signals = args.off ? undefined : new OtelSignals(api, new StepMetrics(api, async () => ({ queues: {} })));
const telemetry = new WorkerTelemetry(silent, signals);

// A claimed step as the store returns it: each row's strings are new ones, the run's
// metadata (with its traceparent) is parsed once and shared, as rows.ts does.
const metadata = Object.freeze({ "trellis.traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" });
const kinds = ["bench/a", "bench/b", "bench/c"];
const fresh = (s) => `${s} `.slice(0, -1);
let n = 0;
function claimedStep(now) {
  n++;
  const run = { id: `run_${n.toString(36)}`, package: fresh("dag3"), metadata };
  return { run, step: { id: fresh("A"), kind: fresh(kinds[n % 3]), queue: fresh("default"), attempt: 1, reclaims: 0, createdAt: now - 5, readyAt: now - 3 } };
}
const outcome = { status: "succeeded" };
const written = { status: "ok" };
const executor = async () => undefined;

async function step() {
  const now = Date.now();
  const claimed = claimedStep(now);
  telemetry.claimed([claimed], 0, now);
  const attempt = telemetry.begin(claimed);
  await attempt.run(executor);
  attempt.end(outcome, written);
}

for (let i = 0; i < 30_000; i++) await step(); // warm-up: the JIT compiles both sides first
const cpu = process.cpuUsage();
for (let i = 0; i < steps; i++) await step();
const used = process.cpuUsage(cpu);
console.log(`telemetry ${args.off ? "off" : "on"}: ${((used.user + used.system) / steps).toFixed(2)} µs CPU per step (${steps} steps)`);
