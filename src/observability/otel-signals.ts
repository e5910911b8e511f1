/**
 * The OpenTelemetry side of a worker's telemetry: spans and metrics, built
 * from `@opentelemetry/api` once it has been loaded.
 */
import type { ClaimedStep, ReclaimResult } from "../store/store.js";
import type { AttemptSignals } from "./worker-telemetry.js";

/** Spans and metrics for a worker's steps (see `WorkerTelemetry`). */
export interface StepSignals {
  claimed(steps: readonly ClaimedStep[], now: number): void;
  reclaimed(result: ReclaimResult): void;
  begin(claimed: ClaimedStep): AttemptSignals;
}
