/**
 * The writes that move a run's graph, shared by completion, reclaim, start and
 * the operator commands: marking steps finished, telling their dependents,
 * inserting steps, and finishing runs. Each runs inside the caller's write
 * transaction (see `transaction.ts`).
 */
import type { DependencyOn, RunStatus, StepStatus } from "../../types.js";
import { edgeState } from "../graph-rules.js";
import type { RunRow } from "../rows.js";
import { jsonOf, NO_STEPS, type PlannedStep, planSteps, readyAtFor, type RunLookup } from "../step-plan.js";
import type { LeaseRef, NewStep, StepErrorRecord, StepOutcome } from "../store.js";
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

/** Inserts steps into a run (see `planSteps`); returns them as planned. */
export function insertSteps(sql: Statements, runId: string, steps: NewStep[], now: number, parentId: string | undefined, newRun = false): PlannedStep[] {
  const lookup: RunLookup = newRun
    ? NO_STEPS
    : {
        statusOf: (id) => (sql.stepStatus.get(runId, id) as { status: StepStatus } | undefined)?.status,
        holderOf: (key) => (sql.stepByDedupKey.get(runId, key) as { id: string } | undefined)?.id,
      };
  const planned = planSteps(runId, steps, lookup);
  for (const { step, status, edges, waiting } of planned) {
    const skipped = status === "skipped";
    sql.insertStep.run(
      runId, step.id, step.kind, step.queue, status, step.input,
      edges.size, waiting,
      jsonOf(step.retry), step.retry.maxAttempts, step.priority,
      step.parentId ?? parentId ?? null, step.dedupKey ?? null, step.site ?? null, jsonOf(step.metadata),
      status === "ready" ? readyAtFor(step, now) : null, skipped ? now : null, now, now,
      step.notBefore ?? null, step.delay ?? 0, step.timeout ?? null, step.waitFor ?? null,
    );
    for (const [target, on] of edges) sql.insertEdge.run(runId, target, step.id, on === "completed" ? 0 : 1, on);
  }
  for (const p of planned) if (p.status === "skipped") propagate(sql, runId, p.step.id, "skipped", now);
  return planned;
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
        if (sql.satisfyEdge.run(now, now, runId, edge.step_id).changes) dependentsWaiting = true;
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
