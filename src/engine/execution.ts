/**
 * What the scheduler keeps of a step it leased while the step is in flight
 * (claimed, running, or waiting for its outcome to be written), and the
 * options its worker loop takes.
 */
import type { LeaseRef } from "../store/store.js";
import type { Attempt } from "../observability/worker-telemetry.js";
import type { CycleResult } from "../types.js";
import type { LazyAbort } from "./lazy-abort.js";

export interface Execution {
  lease: LeaseRef;
  controller: LazyAbort;
  /** Resolves once the outcome is written (or found stale). */
  settled: Promise<void>;
  counters?: CycleResult;
  /** Its executor has been called (it is past the p-limit queue). */
  started?: boolean;
  /** Given up at shutdown: its lease was released, so it does not run, or its outcome is not written. */
  abandoned?: boolean;
  /** Its telemetry (span, metrics, log lines), once its executor is called. */
  attempt?: Attempt;
}

export interface WorkerOptions {
  signal?: AbortSignal;
  pollInterval?: number;
  maxCycles?: number;
  shutdownGrace?: number;
}
