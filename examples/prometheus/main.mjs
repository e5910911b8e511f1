// trellis's metrics on a Prometheus endpoint.
//
//   cd examples/prometheus && npm install     (this example's own devDependencies)
//   npm run build                             (once, at the repository root)
//   node main.mjs [port]                      (default 9464)
//
// It starts a few runs (one step of each fails once and is retried), works them
// off, then prints the trellis lines of its own /metrics and keeps serving them
// until Ctrl-C (`curl localhost:9464/metrics`). With `--once` it exits after the
// print. trellis itself depends on `@opentelemetry/api` only; the exporter and
// the SDK are the application's, here this example's.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { metrics } from "@opentelemetry/api";
import { PrometheusExporter } from "@opentelemetry/exporter-prometheus";
import { MeterProvider } from "@opentelemetry/sdk-metrics";
import { newExecutor, newPackage, newRuntime, requireSteps, sqliteStore, WorkflowError } from "../../dist/index.js";

const port = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 9464);
const once = process.argv.includes("--once");

// The MeterProvider is registered before the runtime opens: trellis takes its meter then.
const exporter = new PrometheusExporter({ port });
const meterProvider = new MeterProvider({ readers: [exporter] });
metrics.setGlobalMeterProvider(meterProvider);

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
// The queue gauges read the store at most once per second here (default every 5 s).
const rt = await newRuntime({ store: sqliteStore(path.join(repoRoot, "var", "prometheus.db")), statsInterval: 1_000, queues: { emails: { maxWorkers: 2 } } });
rt.registerExecutor(newExecutor("shop/render", async (step) => step.result({ html: "<p>receipt</p>" })));
rt.registerExecutor(
  newExecutor("shop/email", async (step) => {
    if (step.attempt === 1) throw new WorkflowError("smtp_busy", "the mail server said try later", { retryable: true });
    step.result({ sent: true });
  }),
);
rt.registerPackage(
  newPackage("receipt")
    .entrypoint((run) => {
      const html = run.step("render", null, { kind: "shop/render" });
      run.step("email", null, { kind: "shop/email", queue: "emails", dependsOn: requireSteps(html), retry: { maxAttempts: 3, initialBackoff: 20 } });
    })
    .build(),
);

const handles = await rt.startRuns("receipt", Array.from({ length: 20 }, () => ({ input: null })));
const ac = new AbortController();
const workers = rt.startWorkers({ signal: ac.signal, pollInterval: 50 });
for (const h of handles) await rt.waitForRun(h.id, { timeout: 30_000 });

const body = await (await fetch(`http://localhost:${port}/metrics`)).text();
// Histogram buckets left out of the print: curl the endpoint for everything.
console.log(body.split("\n").filter((l) => (l.startsWith("trellis_") && !l.includes("_bucket{")) || l.startsWith("# HELP trellis_")).join("\n"));
console.log(`\nrt.stats(): ${JSON.stringify(await rt.stats())}`);

async function shutdown() {
  ac.abort();
  await workers;
  await rt.close();
  await meterProvider.shutdown();
}
if (once) await shutdown();
else {
  console.log(`\nserving http://localhost:${port}/metrics; Ctrl-C to stop`);
  process.once("SIGINT", () => void shutdown());
}
