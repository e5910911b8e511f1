/**
 * The writes that move a run's graph once its steps exist, shared by
 * completion, reclaim and the operator commands: marking steps finished,
 * telling their dependents, and finishing runs. Each runs inside the caller's
 * write transaction (see `transaction.ts`). Steps are inserted by
 * `create-runs.ts`.
 */
import type { DependencyOn, RunStatus, StepStatus } from "../../types.js";
import { edgeState } from "../graph-rules.js";
import type { RunRow } from "../rows.js";
import type { LeaseRef, StepErrorRecord, StepOutcome } from "../store.js";
import type { Statements } from "./statements.js";

export type LockedRun = RunRow & { status: RunStatus };

export function getRun(sql: Statements, runId: string): LockedRun | undefined {
  return sql.getRun.get(runId) as LockedRun | undefined;
}

/** Fenced by lease: whether the step was still held by the token and is now succeeded. */
export function markSucceeded(sql: Statements, o: StepOutcome & { status: "succeeded" }): boolean {
  return sql.markSucceeded.run(o.result, o.records ?? null, o.now, o.now, o.now, o.runId, o.stepId, o.token).changes === 1;
}

/** Fenced by lease: fails the step and tells its dependents; false when the lease was lost. */
export function markFailed(sql: Statements, lease: LeaseRef & { now: number }, error: StepErrorRecord): boolean {
  const changes = sql.markFailed.run(JSON.stringify(error), error.code, lease.now, lease.now, lease.now, lease.runId, lease.stepId, lease.token).changes;
  if (changes === 0) return false;
  propagate(sql, lease.runId, lease.stepId, "failed", lease.now);
  return true;
}

/** Skips a pending step and what depends on it; false when it was not pending. */
export function skipStep(sql: Statements, runId: string, stepId: string, now: number): boolean {
  if (!sql.skipStep.run(now, now, runId, stepId).changes) return false;
  propagate(sql, runId, stepId, "skipped", now);
  return true;
}

/**
 * Tells the dependents of a step that just finished (see `edgeState`); skips
 * cascade transitively. Returns whether a dependent is still waiting or now
 * ready (so the run goes on).
 */
export function propagate(sql: Statements, runId: string, stepId: string, status: StepStatus, now: number): boolean {
  let dependentsWaiting = false;
  const finished: [string, StepStatus][] = [[stepId, status]];
  for (let next = finished.pop(); next; next = finished.pop()) {
    const [id, state] = next;
    for (const edge of sql.dependents.all(runId, id) as { step_id: string; on_state: DependencyOn }[]) {
      const verdict = edgeState(state, edge.on_state);
      if (verdict === "satisfied") {
        if (sql.satisfyEdge.run(now, now, now, runId, edge.step_id).changes) dependentsWaiting = true;
      } else if (verdict === "violated" && sql.skipStep.run(now, now, runId, edge.step_id).changes) {
        finished.push([edge.step_id, "skipped"]);
      }
    }
  }
  return dependentsWaiting;
}

/** Finishes a running run with no unfinished step left, and wakes the parent step waiting for it. */
export function finishRunIfDone(sql: Statements, runId: string, now: number): void {
  const finished = sql.finishRun.get(now, runId) as { parent_run_id: string | null; parent_step_id: string | null } | undefined;
  if (finished?.parent_run_id) sql.wakeParentStep.run(now, now, finished.parent_run_id, finished.parent_step_id);
}
