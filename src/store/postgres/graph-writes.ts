/**
 * The writes that move a run's graph once its steps exist, shared by
 * completion, reclaim and the operator commands: marking steps finished (with
 * a success's artifacts), telling their dependents, and finishing runs. Each
 * takes a transaction that already holds the runs' locks (see
 * `transaction.ts`). Steps are inserted by `create-runs.ts`.
 */
import { ErrorCodes, WorkflowError } from "../../errors.js";
import type { DependencyOn, StepStatus } from "../../types.js";
import { edgeState, finishedRunStatus } from "../graph-rules.js";
import type { ArtifactRecord, LeaseRef, StepErrorRecord, StepOutcome } from "../store.js";
import type { Db } from "./connection.js";
import { Payload } from "./listener.js";
import { type Session, stepKey, type Tx } from "./transaction.js";

export interface FinishedStep {
  runId: string;
  stepId: string;
  status: StepStatus;
}

type StepOfQueue = { run_id: string; id: string; queue: string };

/** Fenced by lease: steps still held by the given tokens become succeeded. */
export async function markSucceeded(s: Session, db: Db, outcomes: Extract<StepOutcome, { status: "succeeded" }>[]): Promise<StepOfQueue[]> {
  return s.rows<StepOfQueue>(db, s.sql.markSucceeded, [
    outcomes.map((o) => o.runId), outcomes.map((o) => o.stepId), outcomes.map((o) => o.token),
    outcomes.map((o) => o.result), outcomes.map((o) => o.records ?? null), outcomes.map((o) => o.now),
  ]);
}

/** Fenced by lease: steps still held by the given tokens become failed. */
export async function markFailed(s: Session, db: Db, failures: { lease: LeaseRef & { now: number }; error: StepErrorRecord }[]): Promise<StepOfQueue[]> {
  return s.rows<StepOfQueue>(db, s.sql.markFailed, [
    failures.map((f) => f.lease.runId), failures.map((f) => f.lease.stepId), failures.map((f) => f.lease.token),
    failures.map((f) => JSON.stringify(f.error)), failures.map((f) => f.error.code), failures.map((f) => f.lease.now),
  ]);
}

export async function insertArtifacts(s: Session, db: Db, runId: string, stepId: string, artifacts: ArtifactRecord[], now: number): Promise<void> {
  const taken = await s.rows<{ id: string }>(db, s.sql.artifactIdsTaken, [runId, artifacts.map((a) => a.id)]);
  if (taken[0]) throw new WorkflowError(ErrorCodes.duplicateArtifact, `artifact id "${taken[0].id}" is already used in run "${runId}"`);
  await s.query(db, s.sql.insertArtifacts, [
    runId, stepId, artifacts.map((a) => a.id), artifacts.map((a) => a.name), artifacts.map((a) => a.kind),
    artifacts.map((a) => a.contentType), artifacts.map((a) => JSON.stringify(a.metadata)), artifacts.map((a) => a.uri ?? null),
    artifacts.map((a) => a.size), artifacts.map((a) => Buffer.from(a.body.buffer, a.body.byteOffset, a.body.byteLength)), now,
  ]);
}

/** Skips the given pending steps; returns the ones it skipped (a step already finished is left alone). */
export async function skipSteps(s: Session, db: Db, steps: { runId: string; stepId: string }[], now: number): Promise<FinishedStep[]> {
  const skipped = await s.rows<{ run_id: string; id: string }>(db, s.sql.skipSteps, [steps.map((x) => x.runId), steps.map((x) => x.stepId), now]);
  return skipped.map((r) => ({ runId: r.run_id, stepId: r.id, status: "skipped" as const }));
}

/**
 * Tells the dependents of steps that just finished (see `edgeState`):
 * satisfied edges count down, violated ones skip the dependent, and skips
 * cascade, one level per round trip.
 */
export async function propagate(s: Session, tx: Tx, finished: FinishedStep[], now: number): Promise<void> {
  for (let level = finished; level.length > 0; ) {
    const statusOf = new Map(level.map((f) => [stepKey(f.runId, f.stepId), f.status]));
    const edges = await s.rows<{ run_id: string; dep_id: string; step_id: string; on_state: DependencyOn }>(tx.db, s.sql.dependentsOf, [
      level.map((f) => f.runId), level.map((f) => f.stepId),
    ]);
    const satisfied = new Map<string, { runId: string; stepId: string; n: number }>();
    const violated = new Map<string, { runId: string; stepId: string }>();
    for (const e of edges) {
      const verdict = edgeState(statusOf.get(stepKey(e.run_id, e.dep_id)) as StepStatus, e.on_state);
      const k = stepKey(e.run_id, e.step_id);
      if (verdict === "violated") violated.set(k, { runId: e.run_id, stepId: e.step_id });
      else if (verdict === "satisfied") {
        const counted = satisfied.get(k);
        if (counted) counted.n++;
        else satisfied.set(k, { runId: e.run_id, stepId: e.step_id, n: 1 });
      }
    }
    // A step skipped by one edge is not counted down by another.
    for (const k of violated.keys()) satisfied.delete(k);
    // Dependents made ready before those skipped (the event log tells them in that order).
    if (satisfied.size) {
      const ready = [...satisfied.values()];
      const rows = await s.rows<{ ready: boolean }>(tx.db, s.sql.decrementWaiting, [ready.map((x) => x.runId), ready.map((x) => x.stepId), ready.map((x) => x.n), now]);
      if (rows.some((r) => r.ready)) tx.notify.add(Payload.ready);
    }
    level = violated.size ? await skipSteps(s, tx.db, [...violated.values()], now) : [];
  }
}

/** Finishes the runs among `runIds` that have no unfinished step left (their locks held), and wakes their parents. */
export async function finishRunsIfDone(s: Session, tx: Tx, runIds: Set<string>, now: number): Promise<void> {
  if (runIds.size === 0) return;
  const done = await s.rows<{ id: string; failed: boolean; canceled: boolean }>(tx.db, s.sql.finishableRuns, [[...runIds]]);
  if (done.length === 0) return;
  const finished = await s.rows<{ id: string; parent_run_id: string | null }>(tx.db, s.sql.finishRuns, [
    done.map((d) => d.id), done.map((d) => finishedRunStatus(d.failed, d.canceled)), now,
  ]);
  for (const f of finished) tx.changed.add(f.id);
  await wakeParents(s, tx, finished.filter((f) => f.parent_run_id !== null).map((f) => f.id), now);
}

/**
 * Child runs that just finished: their parents' waiting steps become ready.
 * Row locks only (no advisory lock of the parent run: a cancel holding it
 * waits for ours); see `wakeParents` in statements.ts.
 */
export async function wakeParents(s: Session, tx: Tx, childRunIds: string[], now: number): Promise<void> {
  if (childRunIds.length === 0) return;
  const woke = await s.rows<{ ready: boolean }>(tx.db, s.sql.wakeParents, [childRunIds, now]);
  if (woke.some((w) => w.ready)) tx.notify.add(Payload.ready);
}
