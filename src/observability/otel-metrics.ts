/**
 * trellis's metrics through `@opentelemetry/api`: counters of attempts, the
 * histograms of their duration, queue wait and claim batch sizes, reclaims,
 * and gauges of the steps ready, running and waiting per queue, read from the
 * store (the truth across every process) at a bounded rate. The set is
 * documented in docs/observability.md: keep the two in step.
 *
 * Per step, the hot path makes two SDK calls (the two histograms): the attempt
 * counters are summed here, in a map, and handed to the SDK when it collects
 * (asynchronous counters; exporters see the same cumulative sums), and the
 * attribute sets are built once per kind and queue, not per step.
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

/** Cumulative counts by attribute set, kept in process until the SDK collects them. */
class SummedCounts {
  readonly #points = new Map<string, { attributes: OtelApi.Attributes; value: number }>();

  /** Adds one to the series `key`; `attributes` is called when the series is new. */
  increment(key: string, attributes: () => OtelApi.Attributes): void {
    const point = this.#points.get(key);
    if (point) point.value++;
    else this.#points.set(key, { attributes: attributes(), value: 1 });
  }

  observe(result: OtelApi.BatchObservableResult, counter: OtelApi.ObservableCounter): void {
    for (const { attributes, value } of this.#points.values()) result.observe(counter, value, attributes);
  }
}

/** The metric instruments of one runtime, on the meter `trellis`. */
export class StepMetrics {
  readonly #started = new SummedCounts();
  readonly #succeeded = new SummedCounts();
  readonly #failed = new SummedCounts();
  /** Attribute sets by kind and queue (and outcome), reused by every record. */
  readonly #attributes = new Map<string, OtelApi.Attributes>();
  readonly #duration: OtelApi.Histogram;
  readonly #queueWait: OtelApi.Histogram;
  readonly #reclaimed: OtelApi.Counter;
  readonly #batchSize: OtelApi.Histogram;
  /** Unregisters the callbacks (the runtime closed: its store is gone). */
  readonly close: () => void;

  /** `queueCounts` reads the per-queue counts, cached for the stats interval. */
  constructor(api: Api, queueCounts: () => Promise<QueueCounts>) {
    const meter = api.metrics.getMeter(INSTRUMENTATION_NAME);
    const counters = {
      started: meter.createObservableCounter("trellis.step.started", { unit: "{attempt}", description: "Step attempts started (executors called)." }),
      succeeded: meter.createObservableCounter("trellis.step.succeeded", { unit: "{attempt}", description: "Step attempts that succeeded." }),
      failed: meter.createObservableCounter("trellis.step.failed", { unit: "{attempt}", description: "Step attempts that failed, retried or not, or lost their lease." }),
    };
    const observeCounts: OtelApi.BatchObservableCallback = (result) => {
      this.#started.observe(result, counters.started);
      this.#succeeded.observe(result, counters.succeeded);
      this.#failed.observe(result, counters.failed);
    };
    meter.addBatchObservableCallback(observeCounts, Object.values(counters));
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
    this.close = () => {
      meter.removeBatchObservableCallback(observe, Object.values(gauges));
      meter.removeBatchObservableCallback(observeCounts, Object.values(counters));
    };
  }

  claimed(steps: readonly ClaimedStep[], now: number): void {
    if (steps.length === 0) return;
    this.#batchSize.record(steps.length);
    for (const { step } of steps) {
      const readySince = step.readyAt ?? step.createdAt;
      this.#queueWait.record(Math.max(0, now - readySince) / 1000, this.#attributesOf(step));
    }
  }

  reclaimed(result: ReclaimResult): void {
    if (result.reclaimed) this.#reclaimed.add(result.reclaimed, { "trellis.reclaim.result": "ready" });
    if (result.failed) this.#reclaimed.add(result.failed, { "trellis.reclaim.result": "failed" });
  }

  started(step: StepRecord): void {
    this.#started.increment(seriesKey(step), () => this.#attributesOf(step));
  }

  ended(step: StepRecord, outcome: AttemptOutcome, code: string | undefined, seconds: number): void {
    if (outcome === "succeeded") this.#succeeded.increment(seriesKey(step), () => this.#attributesOf(step));
    else if (outcome === "retry" || outcome === "failed" || outcome === "lease_lost") {
      const errorType = code ?? outcome;
      this.#failed.increment(seriesKey(step, outcome, errorType), () => ({ ...this.#attributesOf(step), "error.type": errorType, "trellis.step.outcome": outcome }));
    }
    this.#duration.record(seconds, this.#attributesOf(step, outcome));
  }

  /** The attribute set of a step's kind and queue (and an outcome), built once. */
  #attributesOf(step: StepRecord, outcome?: AttemptOutcome): OtelApi.Attributes {
    const key = outcome === undefined ? seriesKey(step) : seriesKey(step, outcome);
    let attributes = this.#attributes.get(key);
    if (!attributes) {
      attributes = { "trellis.step.kind": step.kind, "trellis.queue": step.queue, ...(outcome ? { "trellis.step.outcome": outcome } : {}) };
      this.#attributes.set(key, attributes);
    }
    return attributes;
  }
}

/** A series' key: NUL cannot appear in a kind or a queue name. */
function seriesKey(step: StepRecord, ...more: string[]): string {
  return more.length === 0 ? `${step.kind}\u0000${step.queue}` : `${step.kind}\u0000${step.queue}\u0000${more.join("\u0000")}`;
}
