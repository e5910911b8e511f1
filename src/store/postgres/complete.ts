/**
 * Completing a batch of step outcomes in one transaction that holds the locks
 * of their runs. Plain successes (most of them) go in one statement that also
 * readies their dependents and finishes their runs; waits, successes with
 * outputs, retries and failures follow, one kind at a time. Every write is
 * fenced by the step's lease token: an outcome whose lease was lost is `STALE`.
 */
import { isWorkflowError } from "../../errors.js";
import type { RunStatus } from "../../types.js";
import { APPLIED, GRAPH_CONFLICTS, STALE } from "../completion-rules.js";
import { FINISHED_RUN_STATUSES } from "../graph-rules.js";
import type { CompletionResult, LeaseRef, StepErrorRecord, StepOutcome, WaitOutcome } from "../store.js";
import { insertSteps } from "./create-runs.js";
import { finishRunsIfDone, insertArtifacts, markFailed, markSucceeded, propagate, skipSteps, wakeParents } from "./graph-writes.js";
import { Payload } from "./listener.js";
import { type Session, stepKey, type Tx } from "./transaction.js";

type Succeeded = Extract<StepOutcome, { status: "succeeded" }>;
type Wait = LeaseRef & { now: number } & WaitOutcome;

export async function completeOutcomes(s: Session, given: StepOutcome[]): Promise<CompletionResult[]> {
  if (given.length === 0) return [];
  return s.tx({ runs: given.map((o) => o.runId) }, (tx) => complete(s, tx, given));
}

async function complete(s: Session, tx: Tx, given: StepOutcome[]): Promise<CompletionResult[]> {
  const results = new Map<string, CompletionResult>();
  const now = Math.max(...given.map((o) => o.now));
  const failed: { runId: string; stepId: string }[] = [];
  const finishedRuns = new Set<string>();
  const queues = new Set<string>();

  // Waits first: a wait that finds its signal becomes a plain success, one whose
  // signal timed out a plain failure; both then go the way of the others.
  const waits = given.filter((o): o is Extract<StepOutcome, { status: "wait" }> => o.status === "wait");
  const outcomes = waits.length ? [...given.filter((o) => o.status !== "wait"), ...(await applyWaits(s, tx, waits, results))] : given;

  const simple = outcomes.filter((o): o is Succeeded => o.status === "succeeded" && o.emitted.length === 0 && o.artifacts.length === 0);
  if (simple.length) {
    const [row] = await s.rows<{
      run_ids: string[]; ids: string[]; readied: boolean; more: boolean; children: string[]; finished: string[]; violated_runs: string[]; violated_steps: string[];
    }>(tx.db, { prepared: s.sql.succeedPlain }, [
      simple.map((o) => o.runId), simple.map((o) => o.stepId), simple.map((o) => o.token),
      simple.map((o) => o.result), simple.map((o) => o.records ?? null), simple.map((o) => o.now), now,
    ]);
    if (row) {
      row.run_ids.forEach((runId, i) => results.set(stepKey(runId, row.ids[i] as string), APPLIED));
      if (row.readied || row.more) tx.notify.add(Payload.ready);
      for (const runId of row.finished) tx.changed.add(runId);
      await wakeParents(s, tx, row.children, now);
      if (row.violated_steps.length) {
        // Dependents over an on: "failed" edge: skipped (the statement left them pending), and their runs may finish.
        const violated = row.violated_runs.map((runId, i) => ({ runId, stepId: row.violated_steps[i] as string }));
        await propagate(s, tx, await skipSteps(s, tx.db, violated, now), now);
        for (const v of violated) finishedRuns.add(v.runId);
      }
    }
  }
  for (const o of outcomes) {
    if (o.status !== "succeeded" || (o.emitted.length === 0 && o.artifacts.length === 0)) continue;
    const result = await succeedWithOutputs(s, tx, o, queues);
    results.set(stepKey(o.runId, o.stepId), result);
    // Applied: its dependents were told inside the savepoint; only the run may have finished.
    if (result.status === "applied") finishedRuns.add(o.runId);
    else if (result.status === "rejected") failed.push({ runId: o.runId, stepId: o.stepId });
  }
  const retries = outcomes.filter((o): o is Extract<StepOutcome, { status: "retry" }> => o.status === "retry");
  if (retries.length) {
    const rows = await s.rows<{ run_id: string; id: string; queue: string; ready_at: number }>(tx.db, s.sql.scheduleRetries, [
      retries.map((o) => o.runId), retries.map((o) => o.stepId), retries.map((o) => o.token), retries.map((o) => o.readyAt),
      retries.map((o) => JSON.stringify(o.error)), retries.map((o) => o.error.code), retries.map((o) => o.now),
    ]);
    for (const row of rows) {
      results.set(stepKey(row.run_id, row.id), APPLIED);
      tx.notify.add(row.ready_at <= now ? Payload.ready : Payload.due(row.ready_at));
    }
  }
  const failures = outcomes.filter((o): o is Extract<StepOutcome, { status: "failed" }> => o.status === "failed");
  if (failures.length) {
    for (const row of await markFailed(s, tx.db, failures.map((o) => ({ lease: o, error: o.error })))) {
      results.set(stepKey(row.run_id, row.id), APPLIED);
      failed.push({ runId: row.run_id, stepId: row.id });
      queues.add(row.queue);
    }
  }

  const finished = failed.map((f) => ({ ...f, status: "failed" as const }));
  if (finished.length) await propagate(s, tx, finished, now);
  for (const f of finished) finishedRuns.add(f.runId);
  await finishRunsIfDone(s, tx, finishedRuns, now);
  // A finished step frees a slot of its queue: workers elsewhere waiting on a
  // queue limit may claim now.
  if (!tx.notify.has(Payload.ready) && queues.size) {
    const [row] = await s.rows<{ any: boolean }>(tx.db, s.sql.anyReadyIn, [[...queues], now]);
    if (row?.any) tx.notify.add(Payload.ready);
  }
  return given.map((o) => results.get(stepKey(o.runId, o.stepId)) ?? STALE);
}

/**
 * Wait outcomes (see `WaitOutcome`): their rows are locked first (fenced by
 * lease), then each looks for its signal or child run. Returns the outcomes
 * they turn into (a consumed signal: success; a timed-out one: failure); the
 * others are written here (ready again, or parked) and marked applied.
 */
async function applyWaits(s: Session, tx: Tx, waits: Wait[], results: Map<string, CompletionResult>): Promise<StepOutcome[]> {
  const { db } = tx;
  const locked = await s.rows<{ run_id: string; id: string }>(db, s.sql.lockWaits, [
    waits.map((w) => w.runId), waits.map((w) => w.stepId), waits.map((w) => w.token), waits.map((w) => w.now),
  ]);
  const held = new Set(locked.map((l) => stepKey(l.run_id, l.id)));
  const turned: StepOutcome[] = [];
  const rest: Wait[] = [];
  for (const w of waits) {
    if (!held.has(stepKey(w.runId, w.stepId))) continue; // stale
    const lease = { runId: w.runId, stepId: w.stepId, token: w.token, now: w.now };
    if (w.consume) {
      const [signal] = await s.rows<{ payload: string }>(db, s.sql.consumeSignal, [w.runId, w.consume.name, w.stepId, w.now]);
      if (signal) {
        turned.push({ ...lease, status: "succeeded", result: signal.payload, artifacts: [], emitted: [] });
        continue;
      }
      if (w.wakeAt !== undefined && w.wakeAt <= w.now) {
        turned.push({ ...lease, status: "failed", error: w.consume.timeoutError });
        continue;
      }
    }
    rest.push(w);
  }
  const children = [...new Set(rest.flatMap((w) => (w.childRunId === undefined ? [] : [w.childRunId])))];
  const finishedChildren = new Set<string>();
  if (children.length) {
    for (const r of await s.rows<{ id: string; status: RunStatus }>(db, s.sql.runStatuses, [children])) {
      if ((FINISHED_RUN_STATUSES as readonly string[]).includes(r.status)) finishedChildren.add(r.id);
    }
  }
  const childDone = (w: Wait) => w.childRunId !== undefined && finishedChildren.has(w.childRunId);
  const ready = rest.filter(childDone);
  const park = rest.filter((w) => !childDone(w));
  if (ready.length) {
    const rows = await s.rows<{ run_id: string; id: string }>(db, s.sql.readyWaits, [
      ready.map((w) => w.runId), ready.map((w) => w.stepId), ready.map((w) => w.token), ready.map((w) => w.now),
    ]);
    for (const r of rows) results.set(stepKey(r.run_id, r.id), APPLIED);
    if (rows.length) tx.notify.add(Payload.ready);
  }
  if (park.length) {
    const rows = await s.rows<{ run_id: string; id: string; wake_at: number | null }>(db, s.sql.parkWaits, [
      park.map((w) => w.runId), park.map((w) => w.stepId), park.map((w) => w.token), park.map((w) => w.wakeAt ?? null), park.map((w) => w.now),
    ]);
    for (const r of rows) {
      results.set(stepKey(r.run_id, r.id), APPLIED);
      if (r.wake_at !== null) tx.notify.add(Payload.due(r.wake_at));
    }
  }
  return turned;
}

/**
 * A success that writes artifacts or emits steps, inside a savepoint: a graph
 * conflict in what it emits undoes the success, and the step fails instead.
 */
async function succeedWithOutputs(s: Session, tx: Tx, o: Succeeded, queues: Set<string>): Promise<CompletionResult> {
  const { db } = tx;
  await db.query("SAVEPOINT outputs");
  try {
    const [row] = await markSucceeded(s, db, [o]);
    if (!row) {
      await db.query("RELEASE SAVEPOINT outputs");
      return STALE;
    }
    queues.add(row.queue);
    if (o.artifacts.length) await insertArtifacts(s, db, o.runId, o.stepId, o.artifacts, o.now);
    // Its dependents first: then the steps it emits find it succeeded, and an
    // edge from one of them back to it is satisfied once, when it is planned.
    await propagate(s, tx, [{ runId: o.runId, stepId: o.stepId, status: "succeeded" }], o.now);
    const created = await insertSteps(s, tx, o.runId, o.emitted, o.now, o.stepId);
    await s.query(db, s.sql.setEmittedAndArtifacts, [created.length ? JSON.stringify(created) : null, o.artifacts.length > 0, o.runId, o.stepId]);
    await db.query("RELEASE SAVEPOINT outputs");
    return APPLIED;
  } catch (err) {
    if (!isWorkflowError(err) || !GRAPH_CONFLICTS.has(err.code)) throw err;
    await db.query("ROLLBACK TO SAVEPOINT outputs");
    const error: StepErrorRecord = { code: err.code, message: err.message, retryable: false, occurredAt: o.now };
    const [row] = await markFailed(s, db, [{ lease: o, error }]);
    if (!row) return STALE;
    queues.add(row.queue);
    return { status: "rejected", error };
  }
}
