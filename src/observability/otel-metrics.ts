/**
 * trellis's metrics through `@opentelemetry/api`: counters of attempts, the
 * histograms of their duration, queue wait and claim batch sizes, reclaims,
 * and gauges of the steps ready, running and waiting per queue, read from the
 * store (the truth across every process) at a bounded rate. The set is
 * documented in docs/observability.md: keep the two in step.
 */
import type * as OtelApi from "@opentelemetry/api";
import type { ClaimedStep, ReclaimResult, StepRecord } from "../store/store.js";
import type { Api } from "./otel-signals.js";
import { INSTRUMENTATION_NAME } from "./otel-signals.js";
import type { QueueCounts } from "./queue-counts.js";
import type { AttemptOutcome } from "./worker-telemetry.js";

// Seconds, for steps from a millisecond to an hour.
const DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

/** The metric instruments of one runtime, on the meter `trellis`. */
export class StepMetrics {
  readonly #started: OtelApi.Counter;
  readonly #succeeded: OtelApi.Counter;
  readonly #failed: OtelApi.Counter;
  readonly #duration: OtelApi.Histogram;
  readonly #queueWait: OtelApi.Histogram;
  readonly #reclaimed: OtelApi.Counter;
  readonly #batchSize: OtelApi.Histogram;
  /** Unregisters the gauges' callback (the runtime closed: its store is gone). */
  readonly close: () => void;

  /** `queueCounts` reads the per-queue counts, cached for the stats interval. */
  constructor(api: Api, queueCounts: () => Promise<QueueCounts>) {
    const meter = api.metrics.getMeter(INSTRUMENTATION_NAME);
    this.#started = meter.createCounter("trellis.step.started", { unit: "{attempt}", description: "Step attempts started (executors called)." });
    this.#succeeded = meter.createCounter("trellis.step.succeeded", { unit: "{attempt}", description: "Step attempts that succeeded." });
    this.#failed = meter.createCounter("trellis.step.failed", { unit: "{attempt}", description: "Step attempts that failed, retried or not, or lost their lease." });
    this.#duration = meter.createHistogram("trellis.step.duration", {
      unit: "s",
      description: "Time from an attempt's start to its outcome's write.",
      advice: { explicitBucketBoundaries: DURATION_BUCKETS },
    });
    this.#queueWait = meter.createHistogram("trellis.step.queue_wait", {
      unit: "s",
      description: "Time a step waited ready before a worker claimed it.",
      advice: { explicitBucketBoundaries: DURATION_BUCKETS },
    });
    this.#reclaimed = meter.createCounter("trellis.step.reclaimed", { unit: "{step}", description: "Steps whose lease expired, taken back by a reclaim pass." });
    this.#batchSize = meter.createHistogram("trellis.claim.batch_size", {
      unit: "{step}",
      description: "Steps a claim returned (claims that found work).",
      advice: { explicitBucketBoundaries: BATCH_BUCKETS },
    });
    const gauges = {
      ready: meter.createObservableGauge("trellis.queue.ready", { unit: "{step}", description: "Steps ready to run (or due later) in the queue, across all processes." }),
      running: meter.createObservableGauge("trellis.queue.running", { unit: "{step}", description: "Steps leased and running in the queue, across all processes." }),
      waiting: meter.createObservableGauge("trellis.queue.waiting", { unit: "{step}", description: "Built-in waits (sleep, signal, child run) parked in the queue." }),
    };
    const observe: OtelApi.BatchObservableCallback = async (result) => {
      let counts: QueueCounts;
      try {
        counts = await queueCounts();
      } catch {
        return; // the store is unreachable: no observation this time (the worker loop reports the outage)
      }
      for (const [queue, n] of Object.entries(counts.queues)) {
        const attributes = { "trellis.queue": queue };
        result.observe(gauges.ready, n.ready, attributes);
        result.observe(gauges.running, n.running, attributes);
        result.observe(gauges.waiting, n.waiting, attributes);
      }
    };
    meter.addBatchObservableCallback(observe, Object.values(gauges));
    this.close = () => meter.removeBatchObservableCallback(observe, Object.values(gauges));
  }

  claimed(steps: readonly ClaimedStep[], now: number): void {
    if (steps.length === 0) return;
    this.#batchSize.record(steps.length);
    for (const { step } of steps) {
      const readySince = step.readyAt ?? step.createdAt;
      this.#queueWait.record(Math.max(0, now - readySince) / 1000, stepAttributes(step));
    }
  }

  reclaimed(result: ReclaimResult): void {
    if (result.reclaimed) this.#reclaimed.add(result.reclaimed, { "trellis.reclaim.result": "ready" });
    if (result.failed) this.#reclaimed.add(result.failed, { "trellis.reclaim.result": "failed" });
  }

  started(step: StepRecord): void {
    this.#started.add(1, stepAttributes(step));
  }

  ended(step: StepRecord, outcome: AttemptOutcome, code: string | undefined, seconds: number): void {
    const attributes = stepAttributes(step);
    if (outcome === "succeeded") this.#succeeded.add(1, attributes);
    else if (outcome === "retry" || outcome === "failed" || outcome === "lease_lost") {
      this.#failed.add(1, { ...attributes, "error.type": code ?? outcome, "trellis.step.outcome": outcome });
    }
    this.#duration.record(seconds, { ...attributes, "trellis.step.outcome": outcome });
  }
}

function stepAttributes(step: StepRecord): OtelApi.Attributes {
  return { "trellis.step.kind": step.kind, "trellis.queue": step.queue };
}
