/**
 * What a worker tells about its steps: log lines, the process's own counts
 * (`rt.stats()`), and, when `@opentelemetry/api` is loaded, a span per attempt
 * and the step metrics. The scheduler calls it at each point of a step's life;
 * everything here is cheap when nobody listens (no logger below `warn`, no
 * OpenTelemetry).
 */
import type { ClaimedStep, CompletionResult, ReclaimResult, StepOutcome } from "../store/store.js";
import type { EngineLogger } from "./logger.js";
import type { RunStartSpan, StepSignals } from "./otel-signals.js";

/** A claim slower than this is logged at `warn`: the store is struggling. */
export const SLOW_CLAIM_MS = 1_000;

/** How an attempt ended, as spans, metrics and log lines name it. */
export type AttemptOutcome = "succeeded" | "retry" | "failed" | "waiting" | "lease_lost" | "canceled" | "released";

/** This process's step counts since the runtime opened (see `RuntimeStats.process`). */
export interface ProcessCounts {
  /** Attempts started (executors called, built-in steps included). */
  started: number;
  /** Attempts that succeeded. */
  succeeded: number;
  /** Attempts that failed, retried or not (a lost lease counts here too). */
  failed: number;
  /** Steps put back to ready by this process's reclaim passes, or failed for reclaiming too often. */
  reclaimed: number;
  /** Claims made, and the steps they returned. */
  claims: number;
  /** Steps those claims returned. */
  claimedSteps: number;
}

/**
 * The worker's telemetry hub: the scheduler reports claims, reclaims and each
 * attempt here, and it fans out to the logger, the process counts and, when
 * loaded, OpenTelemetry (`StepSignals`).
 */
export class WorkerTelemetry {
  readonly #log: EngineLogger;
  readonly #signals: StepSignals | undefined;
  readonly counts: ProcessCounts = { started: 0, succeeded: 0, failed: 0, reclaimed: 0, claims: 0, claimedSteps: 0 };

  constructor(log: EngineLogger, signals: StepSignals | undefined) {
    this.#log = log;
    this.#signals = signals;
  }

  /** A claim returned `steps` after `ms`; `now` is the claim's time (for queue waits). */
  claimed(steps: readonly ClaimedStep[], ms: number, now: number): void {
    this.counts.claims++;
    this.counts.claimedSteps += steps.length;
    this.#signals?.claimed(steps, now);
    if (ms >= SLOW_CLAIM_MS) this.#log.warn({ ms: Math.round(ms), steps: steps.length }, "slow claim");
    else if (this.#log.debugEnabled && steps.length > 0) this.#log.debug({ ms: Math.round(ms), steps: steps.length }, "claimed");
  }

  /** A reclaim pass put expired leases back (or failed their steps). */
  reclaimed(result: ReclaimResult): void {
    const total = result.reclaimed + result.failed;
    if (total === 0) return;
    this.counts.reclaimed += total;
    this.#signals?.reclaimed(result);
    this.#log.warn({ reclaimed: result.reclaimed, failed: result.failed }, "expired leases reclaimed");
  }

  /**
   * Runs a start of runs; with OpenTelemetry, inside its span (`trellis.start
   * <package>`), whose context `stamp` writes into each run's metadata.
   */
  async traceStart<T>(packageName: string, count: number, start: (stamp: RunStartSpan["stamp"] | undefined) => Promise<T>): Promise<T> {
    const span = this.#signals?.startRuns(packageName, count);
    if (!span) return start(undefined);
    try {
      const result = await start(span.stamp);
      span.end();
      return result;
    } catch (err) {
      span.end(err);
      throw err;
    }
  }

  /** The runtime is closing: the gauges stop reading its store. */
  close(): void {
    this.#signals?.close();
  }

  /** An attempt begins: its executor is about to be called. */
  begin(claimed: ClaimedStep): Attempt {
    this.counts.started++;
    if (this.#log.debugEnabled) this.#log.debug(stepFields(claimed), "step started");
    return new Attempt(this, claimed, this.#signals?.begin(claimed));
  }

  /** @internal Called by {@link Attempt.end}. */
  ended(claimed: ClaimedStep, outcome: AttemptOutcome, code: string | undefined, ms: number): void {
    if (outcome === "succeeded") this.counts.succeeded++;
    else if (outcome === "retry" || outcome === "failed" || outcome === "lease_lost") this.counts.failed++;
    if (outcome === "lease_lost") this.#log.warn({ ...stepFields(claimed), ms: Math.round(ms) }, "step lost its lease: its outcome was not written");
    else if (this.#log.debugEnabled) this.#log.debug({ ...stepFields(claimed), outcome, ...(code ? { code } : {}), ms: Math.round(ms) }, "step ended");
  }
}

/** The structured fields naming a step in a log line. */
export function stepFields(claimed: ClaimedStep): Record<string, unknown> {
  const { run, step } = claimed;
  return { runId: run.id, stepId: step.id, kind: step.kind, queue: step.queue, attempt: step.attempt };
}

/** The per-attempt side handed back by a span/metrics implementation. */
export interface AttemptSignals {
  run<T>(fn: () => Promise<T>): Promise<T>;
  leaseLost(): void;
  end(outcome: AttemptOutcome, code: string | undefined, seconds: number, outcomeRecord: StepOutcome | undefined): void;
}

/** One attempt of one step, from its executor's call to its outcome's write. */
export class Attempt {
  readonly #telemetry: WorkerTelemetry;
  readonly #claimed: ClaimedStep;
  readonly #signals: AttemptSignals | undefined;
  readonly #began = performance.now();
  #leaseLost = false;
  #runCanceled = false;
  #ended = false;

  constructor(telemetry: WorkerTelemetry, claimed: ClaimedStep, signals: AttemptSignals | undefined) {
    this.#telemetry = telemetry;
    this.#claimed = claimed;
    this.#signals = signals;
  }

  /** Runs the executor inside the attempt's span (its own spans become children). */
  run<T>(fn: () => Promise<T>): Promise<T> {
    return this.#signals ? this.#signals.run(fn) : fn();
  }

  /** The heartbeat found the lease gone (expired and reclaimed, or the run canceled). */
  leaseLost(): void {
    if (this.#leaseLost || this.#ended) return;
    this.#leaseLost = true;
    this.#signals?.leaseLost();
  }

  /**
   * This process canceled the attempt's run: an outcome found stale afterwards
   * is the cancel doing its job (`canceled`, logged at debug), not a lost lease.
   */
  runCanceled(): void {
    this.#runCanceled = true;
  }

  /** The attempt is over: its outcome written (`result`), or none (given back at shutdown). */
  end(outcome: StepOutcome | undefined, result: CompletionResult | undefined): void {
    if (this.#ended) return;
    this.#ended = true;
    const [name, code] = classify(outcome, result, this.#runCanceled);
    const ms = performance.now() - this.#began;
    this.#signals?.end(name, code, ms / 1000, outcome);
    this.#telemetry.ended(this.#claimed, name, code, ms);
  }
}

function classify(outcome: StepOutcome | undefined, result: CompletionResult | undefined, runCanceled: boolean): [AttemptOutcome, string | undefined] {
  if (!outcome || !result) return ["released", undefined];
  if (result.status === "stale") return runCanceled ? ["canceled", undefined] : ["lease_lost", "lease_lost"];
  if (result.status === "rejected") return ["failed", result.error.code];
  if (outcome.status === "retry" || outcome.status === "failed") return [outcome.status, outcome.error.code];
  return [outcome.status === "wait" ? "waiting" : "succeeded", undefined];
}
