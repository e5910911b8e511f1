/**
 * The rules of the run graph, as pure functions every store adapter applies
 * inside its transactions. Keeping them here (and not in SQL) means both
 * adapters make the same decision, and the conformance suite pins them down.
 */
import type { RunStatus, StepStatus } from "../types.js";

/** Steps that have not finished. A run with none of these is finished. */
export const ACTIVE_STEP_STATUSES = ["pending", "ready", "running"] as const satisfies readonly StepStatus[];

export function isFinished(status: StepStatus): boolean {
  return !(ACTIVE_STEP_STATUSES as readonly string[]).includes(status);
}

/** A dependency edge is still waiting, already satisfied, or can never be satisfied. */
export type EdgeState = "waiting" | "satisfied" | "violated";

/**
 * Required edges need the dependency to succeed; optional ones (`required:
 * false`) only need it to finish, in any state.
 */
export function edgeState(dependencyStatus: StepStatus, required: boolean): EdgeState {
  if (!isFinished(dependencyStatus)) return "waiting";
  if (!required || dependencyStatus === "succeeded") return "satisfied";
  return "violated";
}

/**
 * The status a finished run takes: `failed` if any step failed; else `canceled`
 * if any was canceled (an operator retried one step of a canceled run and it
 * finished); else `succeeded` (skipped steps count as done).
 */
export function finishedRunStatus(anyFailed: boolean, anyCanceled: boolean): RunStatus {
  if (anyFailed) return "failed";
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
