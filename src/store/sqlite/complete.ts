/**
 * Completing a batch of step outcomes, in the one write transaction the store
 * wraps around this (see `transaction.ts`). Every write is fenced by the
 * step's lease token: an outcome whose lease was lost is `STALE`.
 */
import type Database from "better-sqlite3";
import { ErrorCodes, WorkflowError, isWorkflowError } from "../../errors.js";
import { APPLIED, GRAPH_CONFLICTS, STALE } from "../completion-rules.js";
import { FINISHED_RUN_STATUSES } from "../graph-rules.js";
import type { RunRow } from "../rows.js";
import type { CompletionResult, LeaseRef, StepErrorRecord, StepOutcome, WaitOutcome } from "../store.js";
import { insertSteps } from "./create-runs.js";
import { finishRunIfDone, markFailed, markSucceeded, propagate } from "./graph-writes.js";
import type { Statements } from "./statements.js";

type Succeeded = Extract<StepOutcome, { status: "succeeded" }>;

/** Runs that may have just finished, with the time to finish them at. */
type Touched = Map<string, number>;

export function completeOutcomes(db: Database.Database, sql: Statements, outcomes: StepOutcome[]): CompletionResult[] {
  // Runs that may have just finished: not those where a step made a dependent
  // ready or added children, which is most completions of a multi-step run.
  const touched: Touched = new Map();
  const results = outcomes.map((outcome) => applyOutcome(db, sql, outcome, touched));
  for (const [runId, now] of touched) finishRunIfDone(sql, runId, now);
  return results;
}

function applyOutcome(db: Database.Database, sql: Statements, o: StepOutcome, touched: Touched): CompletionResult {
  switch (o.status) {
    case "retry": {
      const changes = sql.scheduleRetry.run(o.readyAt, JSON.stringify(o.error), o.error.code, o.now, o.now, o.runId, o.stepId, o.token).changes;
      return changes ? APPLIED : STALE;
    }
    case "failed":
      if (!markFailed(sql, o, o.error)) return STALE;
      touched.set(o.runId, o.now);
      return APPLIED;
    case "wait":
      return applyWait(db, sql, o, touched);
    case "succeeded": {
      if (o.emitted.length === 0 && o.artifacts.length === 0) {
        if (!markSucceeded(sql, o)) return STALE;
        if (!propagate(sql, o.runId, o.stepId, "succeeded", o.now)) touched.set(o.runId, o.now);
        return APPLIED;
      }
      return succeedWithOutputs(db, sql, o, touched);
    }
  }
}

/**
 * A success that writes artifacts or emits steps, inside a savepoint: a graph
 * conflict in what it emits undoes the success, and the step fails instead.
 */
function succeedWithOutputs(db: Database.Database, sql: Statements, o: Succeeded, touched: Touched): CompletionResult {
  let runGoesOn = false;
  try {
    const applied = db.transaction(() => {
      if (!markSucceeded(sql, o)) return false;
      for (const a of o.artifacts) {
        if (sql.artifact.get(o.runId, a.id)) {
          throw new WorkflowError(ErrorCodes.duplicateArtifact, `artifact id "${a.id}" is already used in run "${o.runId}"`);
        }
        sql.insertArtifact.run(o.runId, a.id, o.stepId, a.name, a.kind, a.contentType, JSON.stringify(a.metadata), a.uri ?? null, a.size, Buffer.from(a.body.buffer, a.body.byteOffset, a.body.byteLength), o.now);
      }
      // Its dependents first: then the steps it emits find it succeeded, and an
      // edge from one of them back to it is satisfied once, when it is planned.
      const dependentsWaiting = propagate(sql, o.runId, o.stepId, "succeeded", o.now);
      const created = insertSteps(sql, o.runId, o.emitted, o.now, o.stepId).map((p) => p.step.id);
      sql.setEmittedAndArtifacts.run(created.length ? JSON.stringify(created) : null, o.artifacts.length ? 1 : 0, o.runId, o.stepId);
      runGoesOn = dependentsWaiting || created.length > 0;
      return true;
    })();
    if (!applied) return STALE;
  } catch (err) {
    if (!isWorkflowError(err) || !GRAPH_CONFLICTS.has(err.code)) throw err;
    const error: StepErrorRecord = { code: err.code, message: err.message, retryable: false, occurredAt: o.now };
    if (!markFailed(sql, o, error)) return STALE;
    touched.set(o.runId, o.now);
    return { status: "rejected", error };
  }
  if (!runGoesOn) touched.set(o.runId, o.now);
  return APPLIED;
}

/** A built-in wait's outcome (see `WaitOutcome`): consume a signal, time out, or park. */
function applyWait(db: Database.Database, sql: Statements, o: LeaseRef & { now: number } & WaitOutcome, touched: Touched): CompletionResult {
  if (!sql.holdsLease.get(o.runId, o.stepId, o.token)) return STALE;
  if (o.consume) {
    const signal = sql.oldestSignal.get(o.runId, o.consume.name) as { seq: number; payload: string } | undefined;
    if (signal) {
      sql.consumeSignal.run(o.stepId, o.now, signal.seq);
      const success: Succeeded = { runId: o.runId, stepId: o.stepId, token: o.token, now: o.now, status: "succeeded", result: signal.payload, artifacts: [], emitted: [] };
      return applyOutcome(db, sql, success, touched);
    }
    if (o.wakeAt !== undefined && o.wakeAt <= o.now) {
      if (!markFailed(sql, o, o.consume.timeoutError)) return STALE;
      touched.set(o.runId, o.now);
      return APPLIED;
    }
  }
  if (o.childRunId !== undefined) {
    const child = sql.getRun.get(o.childRunId) as RunRow | undefined;
    if (child && (FINISHED_RUN_STATUSES as readonly string[]).includes(child.status)) {
      sql.waitOver.run(o.now, o.now, o.runId, o.stepId, o.token);
      return APPLIED;
    }
  }
  sql.park.run(o.wakeAt ?? null, o.now, o.runId, o.stepId, o.token);
  return APPLIED;
}
