/**
 * The OpenTelemetry side of a worker's telemetry, built from
 * `@opentelemetry/api` once it has been loaded (`loadOpenTelemetry`): a span
 * per step attempt, continuing the trace its run was started in, and the step
 * metrics (`otel-metrics.ts`).
 *
 * The API is an optional peer dependency, imported lazily: without it (or with
 * `telemetry: false`) none of this module's callers load it, and the worker
 * pays one `undefined` check per step.
 */
import type * as OtelApi from "@opentelemetry/api";
import type { ClaimedStep, ReclaimResult, StepOutcome } from "../store/store.js";
import type { StepMetrics, StepSeries } from "./otel-metrics.js";
import { formatTraceparent, parseTraceparent, TRACEPARENT_KEY } from "./traceparent.js";
import type { AttemptOutcome, AttemptSignals } from "./worker-telemetry.js";

/** The `@opentelemetry/api` module. */
export type Api = typeof OtelApi;

/** The instrumentation scope of trellis's spans and metrics. */
export const INSTRUMENTATION_NAME = "trellis";

/** Loads `@opentelemetry/api`; undefined when it is not installed. */
export async function loadOpenTelemetry(): Promise<Api | undefined> {
  try {
    return await import("@opentelemetry/api");
  } catch {
    return undefined;
  }
}

/** Spans and metrics for a worker's steps (see `WorkerTelemetry`). */
export interface StepSignals {
  claimed(steps: readonly ClaimedStep[], now: number): void;
  reclaimed(result: ReclaimResult): void;
  begin(claimed: ClaimedStep): AttemptSignals;
  /** A span around a start of runs; `stamp` writes its trace context into each run's metadata. */
  startRuns(packageName: string, count: number): RunStartSpan;
  /** The runtime closed: stop observing its store. */
  close(): void;
}

/** The span of one `startRun` / `startRuns` call. */
export interface RunStartSpan {
  stamp(metadata: Record<string, string>): void;
  end(error?: unknown): void;
}

/** `StepSignals` on `@opentelemetry/api`: the tracer `trellis` for spans, `StepMetrics` for metrics. */
export class OtelSignals implements StepSignals {
  readonly #api: Api;
  readonly #tracer: OtelApi.Tracer;
  readonly #metrics: StepMetrics;
  /** The contexts of recent runs' stored traceparents: a run's steps share one. */
  readonly #parents = new Map<string, OtelApi.Context>();

  constructor(api: Api, metrics: StepMetrics) {
    this.#api = api;
    this.#tracer = api.trace.getTracer(INSTRUMENTATION_NAME);
    this.#metrics = metrics;
  }

  claimed(steps: readonly ClaimedStep[], now: number): void {
    this.#metrics.claimed(steps, now);
  }

  reclaimed(result: ReclaimResult): void {
    this.#metrics.reclaimed(result);
  }

  close(): void {
    this.#metrics.close();
  }

  startRuns(packageName: string, count: number): RunStartSpan {
    const api = this.#api;
    // A child of whatever span the caller is in: the request that starts the run.
    const span = this.#tracer.startSpan(`trellis.start ${packageName}`, {
      kind: api.SpanKind.PRODUCER,
      attributes: {
        "messaging.system": "trellis",
        "messaging.operation.type": "send",
        "messaging.operation.name": "start",
        "trellis.package": packageName,
        "trellis.run.count": count,
      },
    });
    const context = span.spanContext();
    const traceparent = api.isSpanContextValid(context) ? formatTraceparent(context) : undefined;
    return {
      stamp: (metadata) => {
        // A traceparent the caller put there on purpose stays.
        if (traceparent !== undefined && metadata[TRACEPARENT_KEY] === undefined) metadata[TRACEPARENT_KEY] = traceparent;
      },
      end: (error) => {
        if (error !== undefined) {
          span.setStatus({ code: api.SpanStatusCode.ERROR, message: errorCode(error) });
          span.setAttribute("error.type", errorCode(error));
        }
        span.end();
      },
    };
  }

  /** The remote parent a stored traceparent names (the root context for none). */
  #parentContext(traceparent: string | undefined): OtelApi.Context {
    if (traceparent === undefined) return this.#api.ROOT_CONTEXT;
    let context = this.#parents.get(traceparent);
    if (context) return context;
    const parent = parseTraceparent(traceparent);
    context = parent ? this.#api.trace.setSpanContext(this.#api.ROOT_CONTEXT, { ...parent, isRemote: true }) : this.#api.ROOT_CONTEXT;
    if (this.#parents.size >= PARENT_CACHE_SIZE) this.#parents.clear();
    this.#parents.set(traceparent, context);
    return context;
  }

  begin(claimed: ClaimedStep): AttemptSignals {
    const { run, step } = claimed;
    const parentContext = this.#parentContext(run.metadata[TRACEPARENT_KEY]);
    // The queue is `messaging.destination.name`, as the messaging conventions name it.
    const attributes: OtelApi.Attributes = {
      "messaging.system": "trellis",
      "messaging.operation.type": "process",
      "messaging.operation.name": "execute",
      "messaging.destination.name": step.queue,
      "trellis.package": run.package,
      "trellis.run.id": run.id,
      "trellis.step.id": step.id,
      "trellis.step.kind": step.kind,
      "trellis.step.attempt": step.attempt,
    };
    // How often the step's lease expired before this attempt: a reclaimed step shows it.
    if (step.reclaims > 0) attributes["trellis.step.reclaims"] = step.reclaims;
    const span = this.#tracer.startSpan(`trellis.step ${step.kind}`, { kind: this.#api.SpanKind.CONSUMER, attributes }, parentContext);
    const series = this.#metrics.series(step);
    this.#metrics.started(series);
    return new OtelAttempt(this.#api, this.#metrics, span, this.#api.trace.setSpan(parentContext, span), series);
  }
}

/** The span and metrics of one attempt. */
class OtelAttempt implements AttemptSignals {
  readonly #api: Api;
  readonly #metrics: StepMetrics;
  readonly #span: OtelApi.Span;
  /** The span's context, the executor's active one. */
  readonly #context: OtelApi.Context;
  readonly #series: StepSeries;

  constructor(api: Api, metrics: StepMetrics, span: OtelApi.Span, context: OtelApi.Context, series: StepSeries) {
    this.#api = api;
    this.#metrics = metrics;
    this.#span = span;
    this.#context = context;
    this.#series = series;
  }

  /** The executor runs in the span's context: its own spans (HTTP calls, queries) nest under it. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    return this.#api.context.with(this.#context, fn);
  }

  leaseLost(): void {
    this.#span.addEvent("trellis.step.lease_lost");
  }

  end(outcome: AttemptOutcome, code: string | undefined, seconds: number, record: StepOutcome | undefined): void {
    const span = this.#span;
    if (outcome === "retry" || outcome === "failed" || outcome === "lease_lost") {
      const message = record && "error" in record ? record.error.message : outcome;
      span.setAttributes({ "trellis.step.outcome": outcome, "error.type": code ?? outcome });
      span.recordException({ name: code ?? outcome, message });
      span.setStatus({ code: this.#api.SpanStatusCode.ERROR, message });
      if (outcome === "retry" && record?.status === "retry") {
        span.addEvent("trellis.step.retry_scheduled", {
          "trellis.retry.ready_at": new Date(record.readyAt).toISOString(),
          "trellis.retry.delay_ms": Math.max(0, record.readyAt - record.now),
        });
      }
    } else span.setAttribute("trellis.step.outcome", outcome);
    span.end();
    this.#metrics.ended(this.#series, outcome, code, seconds);
  }
}

/** Parent contexts kept at most: enough for the runs a worker has in flight. */
const PARENT_CACHE_SIZE = 1_024;

function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : "error";
}
