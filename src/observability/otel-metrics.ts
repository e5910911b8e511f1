/**
 * trellis's metrics through `@opentelemetry/api`: counters of attempts, the
 * histograms of their duration, queue wait and claim batch sizes, reclaims,
 * and gauges of the steps ready, running and waiting per queue, read from the
 * store (the truth across every process) at a bounded rate. The set is
 * documented in docs/observability.md: keep the two in step.
 *
 * Per step, the hot path makes two SDK calls (the two histograms): the attempt
 * counters are summed here, per kind and queue (`StepSeries`), and handed to
 * the SDK when it collects (asynchronous counters; exporters see the same
 * cumulative sums), and the attribute sets are built once per kind and queue,
 * not per step.
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

/**
 * One kind and queue: its attribute sets, built once, and its attempt counts,
 * summed here until the SDK collects them.
 */
export class StepSeries {
  /** `trellis.step.kind` and `trellis.queue`. */
  readonly attributes: OtelApi.Attributes;
  /** The same with `trellis.step.outcome`, by outcome (the duration histogram's). */
  readonly #byOutcome = new Map<AttemptOutcome, OtelApi.Attributes>();
  started = 0;
  succeeded = 0;
  /** Failed attempts by outcome and error type. */
  readonly failed = new Map<string, { attributes: OtelApi.Attributes; value: number }>();

  constructor(kind: string, queue: string) {
    this.attributes = { "trellis.step.kind": kind, "trellis.queue": queue };
  }

  withOutcome(outcome: AttemptOutcome): OtelApi.Attributes {
    let attributes = this.#byOutcome.get(outcome);
    if (!attributes) this.#byOutcome.set(outcome, (attributes = { ...this.attributes, "trellis.step.outcome": outcome }));
    return attributes;
  }

  fail(outcome: AttemptOutcome, errorType: string): void {
    const key = `${outcome}\u0000${errorType}`;
    const point = this.failed.get(key);
    if (point) point.value++;
    else this.failed.set(key, { attributes: { ...this.attributes, "error.type": errorType, "trellis.step.outcome": outcome }, value: 1 });
  }
}

/** The metric instruments of one runtime, on the meter `trellis`. */
export class StepMetrics {
  /** The series by kind, then queue. */
  readonly #series = new Map<string, Map<string, StepSeries>>();
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
      for (const byQueue of this.#series.values()) {
        for (const series of byQueue.values()) {
          // A series shows in a counter once it has counted something there, as a counter's would.
          if (series.started) result.observe(counters.started, series.started, series.attributes);
          if (series.succeeded) result.observe(counters.succeeded, series.succeeded, series.attributes);
          for (const { attributes, value } of series.failed.values()) result.observe(counters.failed, value, attributes);
        }
      }
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
      this.#queueWait.record(Math.max(0, now - readySince) / 1000, this.series(step).attributes);
    }
  }

  reclaimed(result: ReclaimResult): void {
    if (result.reclaimed) this.#reclaimed.add(result.reclaimed, RECLAIMED_READY);
    if (result.failed) this.#reclaimed.add(result.failed, RECLAIMED_FAILED);
  }

  /** The series of a step's kind and queue, made on first sight. */
  series(step: StepRecord): StepSeries {
    let byQueue = this.#series.get(step.kind);
    if (!byQueue) this.#series.set(step.kind, (byQueue = new Map()));
    let series = byQueue.get(step.queue);
    if (!series) byQueue.set(step.queue, (series = new StepSeries(step.kind, step.queue)));
    return series;
  }

  /** An attempt of `series` began. */
  started(series: StepSeries): void {
    series.started++;
  }

  ended(series: StepSeries, outcome: AttemptOutcome, code: string | undefined, seconds: number): void {
    if (outcome === "succeeded") series.succeeded++;
    else if (outcome === "retry" || outcome === "failed" || outcome === "lease_lost") series.fail(outcome, code ?? outcome);
    this.#duration.record(seconds, series.withOutcome(outcome));
  }
}

const RECLAIMED_READY = { "trellis.reclaim.result": "ready" };
const RECLAIMED_FAILED = { "trellis.reclaim.result": "failed" };
