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

/** Options of `rt.runOnce`. */
export interface RunOnceOptions {
  /**
   * Claim at most this many steps in the cycle (default: no limit). The cycle
   * still waits for the ones it claimed. A test driver's guard against a
   * workflow that never stops making work ready.
   */
  maxSteps?: number;
}

/** Options of `rt.startWorkers`. */
export interface WorkerOptions {
  /** Aborting it stops the workers (as `rt.close()` does). */
  signal?: AbortSignal;
  /** ms between idle cycles when no wake-up arrives (default `RuntimeConfig.pollInterval`). */
  pollInterval?: number;
  /** Stop after this many cycles (tests); default: run until stopped. */
  maxCycles?: number;
  /** ms in-flight steps may take to settle once stopped; past it they are aborted and their leases given back (default 10 000). */
  shutdownGrace?: number;
}
