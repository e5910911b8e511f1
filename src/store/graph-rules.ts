/**
 * The rules of the run graph and of queue limits, as pure functions every
 * store adapter applies inside its transactions. Keeping them here (and not in
 * SQL) means both adapters make the same decision, and the conformance suite
 * pins them down.
 */
import type { DependencyOn, RunStatus, StepStatus } from "../types.js";
import type { QueuePolicy } from "./store.js";

/** Steps that have not finished. A run with none of these is finished. */
export const ACTIVE_STEP_STATUSES = ["pending", "ready", "running", "waiting"] as const satisfies readonly StepStatus[];

/** Run statuses that are final (until an operator retries a step). */
export const FINISHED_RUN_STATUSES = ["succeeded", "failed", "canceled"] as const satisfies readonly RunStatus[];

/** The state a dependency asks for: `on` if given, else `required` (true: succeeded; false: completed). */
export function dependencyOn(d: { required?: boolean; on?: DependencyOn | undefined }): DependencyOn {
  return d.on ?? (d.required === false ? "completed" : "succeeded");
}

/** Whether a step in this status is finished: `succeeded`, `failed`, `skipped` or `canceled`. */
export function isFinished(status: StepStatus): boolean {
  return !(ACTIVE_STEP_STATUSES as readonly string[]).includes(status);
}

/** A dependency edge is still waiting, already satisfied, or can never be satisfied. */
export type EdgeState = "waiting" | "satisfied" | "violated";

/**
 * Whether an edge waits, is satisfied, or can never be: `succeeded` edges need
 * the dependency to succeed, `failed` ones need it to fail, `completed` ones
 * need it to finish in any state. A skipped dependency satisfies no edge: what
 * depends on a step that never ran is skipped too.
 */
export function edgeState(dependencyStatus: StepStatus, on: DependencyOn): EdgeState {
  if (!isFinished(dependencyStatus)) return "waiting";
  if (dependencyStatus === "skipped") return "violated";
  if (on === "completed" || on === dependencyStatus) return "satisfied";
  return "violated";
}

/** Edges whose `on` lets a dependent run after the dependency failed: such a failure is handled. */
export const HANDLING_EDGES: readonly DependencyOn[] = ["failed", "completed"];

/**
 * The status a finished run takes: `failed` if a step failed and nothing
 * handled that failure (no dependent over an `on: "failed" | "completed"` edge
 * out of it ran: a handler that was itself skipped handles nothing); else
 * `canceled` if any was canceled (an operator retried one step of a canceled
 * run and it finished); else `succeeded` (skipped steps count as done).
 */
export function finishedRunStatus(anyUnhandledFailure: boolean, anyCanceled: boolean): RunStatus {
  if (anyUnhandledFailure) return "failed";
  if (anyCanceled) return "canceled";
  return "succeeded";
}

/**
 * `finishedRunStatus` as a SQL expression over two boolean expressions, for an
 * adapter that finishes runs inside a statement. Kept next to the function so
 * the two cannot drift apart.
 */
export function finishedRunStatusSql(anyFailed: string, anyCanceled: string): string {
  return `CASE WHEN ${anyFailed} THEN 'failed' WHEN ${anyCanceled} THEN 'canceled' ELSE 'succeeded' END`;
}

/** A queue with no limits: its steps need no per-queue check when claimed (or leased at start). */
export const isUnlimited = (policy: QueuePolicy): boolean => !Number.isFinite(policy.maxWorkers) && !policy.rateLimit;

/** Whole tokens a token bucket holds at `now`, after refilling since `refilledAt`. */
export function refillTokens(
  stored: { tokens: number; refilledAt: number } | undefined,
  limit: { ratePerSecond: number; burst: number },
  now: number,
): number {
  if (!stored) return limit.burst;
  const elapsedSeconds = Math.max(0, now - stored.refilledAt) / 1000;
  return Math.min(limit.burst, stored.tokens + elapsedSeconds * limit.ratePerSecond);
}

/** When a bucket holding `tokens` (< 1) will hold one whole token. */
export function nextTokenAt(tokens: number, limit: { ratePerSecond: number }, now: number): number {
  return now + Math.ceil(((1 - tokens) / limit.ratePerSecond) * 1000);
}
