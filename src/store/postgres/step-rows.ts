/** Steps to insert as column arrays: one multi-row INSERT for any number of steps. */
import { jsonOf, type PlannedStep } from "../step-plan.js";

/** Column arrays for one multi-row INSERT of steps (and one of their edges). */
export interface StepRows {
  runId: string[]; id: string[]; kind: string[]; queue: string[]; status: string[]; input: string[];
  depsTotal: number[]; depsWaiting: number[]; retry: string[]; maxAttempts: number[]; priority: number[];
  parentId: (string | null)[]; dedupKey: (string | null)[]; site: (string | null)[]; metadata: string[];
  readyAt: (number | null)[]; finishedAt: (number | null)[]; now: number[];
  edgeRun: string[]; edgeDep: string[]; edgeStep: string[]; edgeRequired: boolean[];
}

export function newStepRows(): StepRows {
  return {
    runId: [], id: [], kind: [], queue: [], status: [], input: [], depsTotal: [], depsWaiting: [], retry: [], maxAttempts: [],
    priority: [], parentId: [], dedupKey: [], site: [], metadata: [], readyAt: [], finishedAt: [], now: [],
    edgeRun: [], edgeDep: [], edgeStep: [], edgeRequired: [],
  };
}

/** The 18 parameters of `insertSteps`, in order. */
export function stepRowValues(rows: StepRows): unknown[] {
  return [
    rows.runId, rows.id, rows.kind, rows.queue, rows.status, rows.input, rows.depsTotal, rows.depsWaiting, rows.retry,
    rows.maxAttempts, rows.priority, rows.parentId, rows.dedupKey, rows.site, rows.metadata, rows.readyAt, rows.finishedAt, rows.now,
  ];
}

export function addStepRows(rows: StepRows, runId: string, planned: PlannedStep[], now: number, parentId: string | undefined): void {
  for (const { step, status, edges, waiting } of planned) {
    rows.runId.push(runId);
    rows.id.push(step.id);
    rows.kind.push(step.kind);
    rows.queue.push(step.queue);
    rows.status.push(status);
    rows.input.push(step.input);
    rows.depsTotal.push(edges.size);
    rows.depsWaiting.push(waiting);
    rows.retry.push(jsonOf(step.retry));
    rows.maxAttempts.push(step.retry.maxAttempts);
    rows.priority.push(step.priority);
    rows.parentId.push(step.parentId ?? parentId ?? null);
    rows.dedupKey.push(step.dedupKey ?? null);
    rows.site.push(step.site ?? null);
    rows.metadata.push(jsonOf(step.metadata));
    rows.readyAt.push(status === "ready" ? now : null);
    rows.finishedAt.push(status === "skipped" ? now : null);
    rows.now.push(now);
    for (const [target, required] of edges) {
      rows.edgeRun.push(runId);
      rows.edgeDep.push(target);
      rows.edgeStep.push(step.id);
      rows.edgeRequired.push(required);
    }
  }
}
