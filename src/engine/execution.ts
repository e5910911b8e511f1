/**
 * What the scheduler keeps of a step it leased while the step is in flight
 * (claimed, running, or waiting for its outcome to be written), how they are
 * drained at shutdown, and the options its worker loop takes.
 */
import { ErrorCodes, WorkflowError } from "../errors.js";
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

/**
 * Lets the executions in flight finish: those not started yet are given back
 * at once (`release`), the others get `grace` ms to settle, after which their
 * signals abort and their leases are given back too. Either way no attempt is
 * spent and no outcome of theirs is written afterwards (`abandoned`).
 */
export async function drainExecutions(inFlight: Map<string, Execution>, grace: number, release: (leases: LeaseRef[]) => Promise<void>): Promise<void> {
  if (inFlight.size === 0) return;
  await abandon(inFlight, [...inFlight.values()].filter((e) => !e.started), undefined, release);
  const settled = Promise.all([...inFlight.values()].map((e) => e.settled));
  let timer: NodeJS.Timeout | undefined;
  const late = await Promise.race([
    settled.then(() => false),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), grace);
    }),
  ]);
  clearTimeout(timer);
  if (!late) return;
  await abandon(inFlight, [...inFlight.values()], new WorkflowError(ErrorCodes.closed, "the worker is shutting down"), release);
}

/** Gives leases back without spending an attempt; running executors get their signal aborted. */
async function abandon(inFlight: Map<string, Execution>, executions: Execution[], reason: WorkflowError | undefined, release: (leases: LeaseRef[]) => Promise<void>): Promise<void> {
  if (executions.length === 0) return;
  for (const e of executions) {
    e.abandoned = true;
    if (reason) e.controller.abort(reason);
    inFlight.delete(e.lease.token);
  }
  await release(executions.map((e) => e.lease));
}
