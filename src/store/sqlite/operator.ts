/**
 * The operator's commands and signals, each run inside the store's write
 * transaction. Which run states accept which action, and what a retry revives,
 * are decided by the store kit (`operator-rules.ts`), the same for every
 * backend; this file only writes the decision.
 */
import { ErrorCodes, WorkflowError } from "../../errors.js";
import { assertRunAccepts, operatorNoteData, planRetry } from "../operator-rules.js";
import { dependenciesByStep, type EdgeRow, type StepRow, toStep } from "../rows.js";
import { readyAtFor } from "../step-plan.js";
import type { NewSignal, OperatorNote, StepRecord } from "../store.js";
import type { RunEventType } from "../../types.js";
import { finishRunIfDone, getRun, skipStep } from "./graph-writes.js";
import type { Statements } from "./statements.js";

export function stepsOfRun(sql: Statements, runId: string): StepRecord[] {
  const deps = dependenciesByStep(sql.edgesOfRun.all(runId) as EdgeRow[]);
  return (sql.stepsOfRun.all(runId) as StepRow[]).map((row) => toStep(row, deps.get(row.id) ?? []));
}

/** Revives a failed or canceled step and what its failure skipped (see `planRetry`), and reopens its run. */
export function retryStep(sql: Statements, runId: string, stepId: string, now: number, note?: OperatorNote): void {
  if (!getRun(sql, runId)) throw new WorkflowError(ErrorCodes.notFound, `no run "${runId}"`);
  const steps = stepsOfRun(sql, runId);
  const plan = planRetry(runId, stepId, steps);
  sql.insertEvent.run(runId, now, "operator_retry", stepId, operatorNoteData(note));
  const byId = new Map(steps.map((step) => [step.id, step]));
  for (const { id, status, waiting } of plan.revived) {
    sql.reviveStep.run(status, waiting, status === "ready" ? readyAtFor(byId.get(id) as StepRecord, now) : null, now, runId, id);
  }
  for (const { id } of plan.revived) sql.resetAttempts.run(now, runId, id);
  for (const id of plan.skippedAgain) skipStep(sql, runId, id, now);
  sql.reopenRun.run(now, runId);
}

/** The run and its unfinished descendants (a child's own children too), canceled together. */
export function cancelRun(sql: Statements, runId: string, now: number, note?: OperatorNote): string[] {
  assertRunAccepts("cancel", runId, getRun(sql, runId));
  sql.insertEvent.run(runId, now, "operator_cancel", null, operatorNoteData(note));
  const canceled: string[] = [];
  for (let ids = [runId]; ids.length; ) {
    const next: string[] = [];
    for (const id of ids) {
      sql.cancelSteps.run(now, now, id);
      const parent = sql.cancelRunRow.get(now, id) as { parent_run_id: string | null; parent_step_id: string | null };
      sql.deletePaused.run(id);
      if (parent.parent_run_id) sql.wakeParentStep.run(now, now, parent.parent_run_id, parent.parent_step_id);
      canceled.push(id);
      for (const child of sql.activeChildren.all(id) as { id: string }[]) next.push(child.id);
    }
    ids = next;
  }
  return canceled;
}

/** Stores a signal for a run (once per signal id) and wakes the step waiting for it. */
export function signal(sql: Statements, delivery: NewSignal): { delivered: boolean } {
  const { runId, name, now } = delivery;
  const run = getRun(sql, runId);
  // A retried delivery is answered the same way after the run finished.
  if (run && sql.signalExists.get(runId, delivery.id)) return { delivered: false };
  assertRunAccepts("signal", runId, run);
  if (sql.insertSignal.run(runId, delivery.id, name, delivery.payload, now).changes === 0) return { delivered: false };
  noteEvent(sql, runId, "signal_received", delivery.note);
  sql.wakeSignaled.run(now, now, runId, `signal:${name}`);
  return { delivered: true };
}

export function pauseRun(sql: Statements, runId: string, now: number, note?: OperatorNote): void {
  assertRunAccepts("pause", runId, getRun(sql, runId));
  sql.setRunStatus.run("paused", now, runId);
  noteEvent(sql, runId, "run_paused", note);
  sql.insertPaused.run(runId);
}

export function resumeRun(sql: Statements, runId: string, now: number, note?: OperatorNote): void {
  assertRunAccepts("resume", runId, getRun(sql, runId));
  sql.setRunStatus.run("running", now, runId);
  noteEvent(sql, runId, "run_resumed", note);
  sql.deletePaused.run(runId);
  // Its last steps may have finished while it was paused.
  finishRunIfDone(sql, runId, now);
}

/** Adds the operator's note to the event a trigger just logged for the action (nothing to add: no write). */
function noteEvent(sql: Statements, runId: string, type: RunEventType, note: OperatorNote | undefined): void {
  const data = operatorNoteData(note);
  if (data !== null) sql.noteEvent.run(data, runId, type);
}
