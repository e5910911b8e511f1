/**
 * `newRuntime`: the config resolved, OpenTelemetry loaded when installed, the
 * store opened and migrated, and the `Runtime` built over them.
 */
import { type RuntimeConfig, resolveConfig } from "../config.js";
import { StepMetrics } from "../observability/otel-metrics.js";
import { loadOpenTelemetry, OtelSignals } from "../observability/otel-signals.js";
import { QueueCountsSampler } from "../observability/queue-counts.js";
import { WorkerTelemetry } from "../observability/worker-telemetry.js";
import { openGuardedStore } from "./open-store.js";
import { Runtime } from "./runtime.js";

/** Opens the store, applies its migrations, and returns a runtime. */
export async function newRuntime(config: RuntimeConfig): Promise<Runtime> {
  const resolved = resolveConfig(config);
  // Loaded before the store opens, and only if installed: nothing else here imports it.
  const otel = resolved.telemetry ? await loadOpenTelemetry() : undefined;
  const guarded = await openGuardedStore(resolved);
  const queueCounts = new QueueCountsSampler(guarded, resolved.statsInterval, resolved.clock);
  const signals = otel && new OtelSignals(otel, new StepMetrics(otel, () => queueCounts.read()));
  return new Runtime(guarded, resolved, new WorkerTelemetry(resolved.log, signals), queueCounts);
}
