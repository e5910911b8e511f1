/** Steps to insert as column arrays: one multi-row INSERT for any number of steps. */
import { jsonOf, type PlannedStep, readyAtFor } from "../step-plan.js";

/** Column arrays for one multi-row INSERT of steps (and one of their edges). */
export interface StepRows {
  runId: string[]; id: string[]; kind: string[]; queue: string[]; status: string[]; input: string[];
  depsTotal: number[]; depsWaiting: number[]; retry: string[]; maxAttempts: number[]; priority: number[];
  parentId: (string | null)[]; dedupKey: (string | null)[]; site: (string | null)[]; metadata: string[];
  readyAt: (number | null)[]; finishedAt: (number | null)[]; now: number[];
  notBefore: (number | null)[]; delay: number[]; timeout: (number | null)[]; waitFor: (string | null)[];
  edgeRun: string[]; edgeDep: string[]; edgeStep: string[]; edgeOn: string[];
  /** createRuns only: the token of a step leased at start (StartLease), else null. */
  leaseToken: (string | null)[];
}

export function newStepRows(): StepRows {
  return {
    runId: [], id: [], kind: [], queue: [], status: [], input: [], depsTotal: [], depsWaiting: [], retry: [], maxAttempts: [],
    priority: [], parentId: [], dedupKey: [], site: [], metadata: [], readyAt: [], finishedAt: [], now: [],
    notBefore: [], delay: [], timeout: [], waitFor: [],
    edgeRun: [], edgeDep: [], edgeStep: [], edgeOn: [],
    leaseToken: [],
  };
}

/** How many parameters `stepRowValues` gives (`insertSteps` takes them in this order). */
export const STEP_ROW_PARAMS = 22;

/** The parameters of `insertSteps`, in order. */
export function stepRowValues(rows: StepRows): unknown[] {
  return [
    rows.runId, rows.id, rows.kind, rows.queue, rows.status, rows.input, rows.depsTotal, rows.depsWaiting, rows.retry,
    rows.maxAttempts, rows.priority, rows.parentId, rows.dedupKey, rows.site, rows.metadata, rows.readyAt, rows.finishedAt, rows.now,
    rows.notBefore, rows.delay, rows.timeout, rows.waitFor,
  ];
}

/** The parameters of `insertEdges`, in order. */
export function edgeRowValues(rows: StepRows): unknown[] {
  return [rows.edgeRun, rows.edgeDep, rows.edgeStep, rows.edgeOn];
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
    rows.readyAt.push(status === "ready" ? readyAtFor(step, now) : null);
    rows.finishedAt.push(status === "skipped" ? now : null);
    rows.now.push(now);
    rows.notBefore.push(step.notBefore ?? null);
    rows.delay.push(step.delay ?? 0);
    rows.timeout.push(step.timeout ?? null);
    rows.waitFor.push(step.waitFor ?? null);
    rows.leaseToken.push(null);
    for (const [target, on] of edges) {
      rows.edgeRun.push(runId);
      rows.edgeDep.push(target);
      rows.edgeStep.push(step.id);
      rows.edgeOn.push(on);
    }
  }
}
