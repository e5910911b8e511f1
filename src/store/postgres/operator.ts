/**
 * The operator's commands and signals, each one transaction under the locks of
 * the runs it touches. Which run states accept which action, and what a retry
 * revives, are decided by the store kit (`operator-rules.ts`), the same for
 * every backend; this file only writes the decision.
 */
import { ErrorCodes, WorkflowError } from "../../errors.js";
import type { RunEventType, RunStatus } from "../../types.js";
import { assertRunAccepts, operatorNoteData, planRetry, runAccepts } from "../operator-rules.js";
import { dependenciesByStep, type EdgeRow, type RunRow, type StepRow, toStep } from "../rows.js";
import type { NewSignal, OperatorNote, StepRecord } from "../store.js";
import type pg from "pg";
import type { Db } from "./connection.js";
import { finishRunsIfDone, propagate, skipSteps, wakeParents } from "./graph-writes.js";
import { Payload } from "./listener.js";
import type { Session, Tx } from "./transaction.js";

type LockedRun = RunRow & { status: RunStatus };

export async function stepsOfRun(s: Session, db: pg.Pool | Db, runId: string): Promise<StepRecord[]> {
  const deps = dependenciesByStep(await s.rows<EdgeRow>(db, s.sql.edgesOfRun, [runId]));
  return (await s.rows<StepRow>(db, s.sql.stepsOfRun, [runId])).map((row) => toStep(row, deps.get(row.id) ?? []));
}

/** Revives a failed or canceled step and what its failure skipped (see `planRetry`), and reopens its run. */
export async function retryStep(s: Session, runId: string, stepId: string, now: number, note?: OperatorNote): Promise<void> {
  await s.tx({ runs: [runId] }, async (tx) => {
    const { db } = tx;
    const [run] = await s.rows<RunRow>(db, s.sql.getRun, [runId]);
    if (!run) throw new WorkflowError(ErrorCodes.notFound, `no run "${runId}"`);
    const { revived, skippedAgain } = planRetry(runId, stepId, await stepsOfRun(s, db, runId));
    await s.query(db, s.sql.insertEvent, [runId, now, "operator_retry", stepId, operatorNoteData(note)]);
    await s.query(db, s.sql.reviveSteps, [runId, revived.map((u) => u.id), revived.map((u) => u.status), revived.map((u) => u.waiting), now]);
    if (skippedAgain.length) await propagate(s, tx, await skipSteps(s, db, skippedAgain.map((id) => ({ runId, stepId: id })), now), now);
    await s.query(db, s.sql.reopenRun, [runId, now]);
    tx.notify.add(Payload.ready);
  });
}

/**
 * The run and its unfinished descendants, canceled together. Every run lock is
 * taken before anything is written: the descendants are read first, all the
 * locks taken in the one sorted order every transaction uses, and the
 * descendants read again (a child started meanwhile is locked too).
 */
export async function cancelRun(s: Session, runId: string, now: number, note?: OperatorNote): Promise<string[]> {
  const before = (await s.rows<{ id: string }>(s.pool, s.sql.descendants, [runId])).map((d) => d.id);
  return s.tx({ runs: [runId, ...before] }, async (tx) => {
    assertRunAccepts("cancel", runId, await lockedRun(s, tx, runId));
    const descendants = (await s.rows<{ id: string }>(tx.db, s.sql.descendants, [runId])).map((d) => d.id);
    const late = descendants.filter((id) => !before.includes(id));
    if (late.length) await s.lockRuns(tx.db, late);
    const ids = [runId, ...descendants];
    await s.query(tx.db, s.sql.insertEvent, [runId, now, "operator_cancel", null, operatorNoteData(note)]);
    await s.query(tx.db, s.sql.cancelSteps, [ids, now]);
    const canceled = await s.rows<{ id: string; parent_run_id: string | null }>(tx.db, s.sql.cancelRuns, [ids, now]);
    await wakeParents(s, tx, canceled.filter((c) => c.parent_run_id !== null).map((c) => c.id), now);
    // Workers running their steps in other processes abort them; slots free up.
    for (const id of ids) tx.notify.add(Payload.canceled(id));
    tx.notify.add(Payload.ready);
    return ids;
  });
}

/** Stores a signal for a run (once per signal id) and wakes the step waiting for it. */
export async function signal(s: Session, delivery: NewSignal): Promise<{ delivered: boolean }> {
  const { runId, name, id, payload, now } = delivery;
  return s.tx({ runs: [runId] }, async (tx) => {
    const run = await lockedRun(s, tx, runId);
    if (run && !runAccepts("signal", run.status)) {
      // A retried delivery is answered the same way after the run finished.
      const [exists] = await s.rows(tx.db, s.sql.signalExists, [runId, id]);
      if (exists) return { delivered: false };
    }
    assertRunAccepts("signal", runId, run);
    const [row] = await s.rows<{ delivered: boolean; readied: boolean }>(tx.db, s.sql.signal, [runId, id, name, payload, now]);
    if (row?.delivered) await noteEvent(s, tx, runId, "signal_received", delivery.note);
    if (row?.readied) tx.notify.add(Payload.ready);
    else if (row?.delivered) tx.changed.add(runId); // nothing to run yet; its log has a new event
    return { delivered: row?.delivered ?? false };
  });
}

export async function pauseRun(s: Session, runId: string, now: number, note?: OperatorNote): Promise<void> {
  await s.tx({ runs: [runId] }, async (tx) => {
    assertRunAccepts("pause", runId, await lockedRun(s, tx, runId));
    await s.query(tx.db, s.sql.pauseRun, [runId, now]);
    await noteEvent(s, tx, runId, "run_paused", note);
    tx.changed.add(runId);
  });
}

export async function resumeRun(s: Session, runId: string, now: number, note?: OperatorNote): Promise<void> {
  await s.tx({ runs: [runId] }, async (tx) => {
    assertRunAccepts("resume", runId, await lockedRun(s, tx, runId));
    await s.query(tx.db, s.sql.resumeRun, [runId, now]);
    await noteEvent(s, tx, runId, "run_resumed", note);
    // Its steps may have finished while it was paused.
    await finishRunsIfDone(s, tx, new Set([runId]), now);
    tx.notify.add(Payload.ready);
  });
}

async function lockedRun(s: Session, tx: Tx, runId: string): Promise<LockedRun | undefined> {
  const [run] = await s.rows<LockedRun>(tx.db, s.sql.getRun, [runId]);
  return run;
}

/**
 * Adds the operator's note to the event a trigger just logged for the action,
 * and to the observers' copy of it (nothing to add: no write).
 */
async function noteEvent(s: Session, tx: Tx, runId: string, type: RunEventType, note: OperatorNote | undefined): Promise<void> {
  const data = operatorNoteData(note);
  if (data === null) return;
  const [noted] = await s.rows<{ seq: string; data: string }>(tx.db, s.sql.noteEvent, [data, runId, type]);
  if (noted && tx.capturing) await s.query(tx.db, s.sql.noteCapturedEvent, [noted.seq, noted.data]);
}
