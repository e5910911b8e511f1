/**
 * Inserting runs and their steps. A start is one write of one statement
 * (`createRuns` in `statements.ts`): the runs, their steps as `planSteps` lays
 * them out, their edges, and the first steps leased to this process's idle
 * workers when the engine offers a start lease. The steps a success emits go
 * in through `insertSteps` (from `complete.ts`, inside its transaction),
 * planned the same way.
 */
import type { StepStatus } from "../../types.js";
import { type RunRow, toRun } from "../rows.js";
import { claimedAtStart, StartLeases } from "../start-lease.js";
import { NO_STEPS, planSteps } from "../step-plan.js";
import type { ClaimedStep, CreatedRun, NewRun, NewStep, RunRecord, StartLease } from "../store-records.js";
import type { Db } from "./connection.js";
import { propagate } from "./graph-writes.js";
import { Payload } from "./listener.js";
import { addStepRows, edgeRowValues, newStepRows, type StepRows, stepRowValues } from "./step-rows.js";
import type { Session, Tx } from "./transaction.js";

/**
 * One statement (one round trip, one commit): the runs, the steps of those
 * actually inserted, their edges, and a NOTIFY if a step is ready. A run id
 * that exists already inserts nothing; it is read back afterwards.
 */
export async function createRuns(s: Session, runs: NewRun[], lease: StartLease | undefined): Promise<CreatedRun[]> {
  if (runs.length === 0) return [];
  // A run id twice in one batch: the first one wins, like a race between two calls.
  const first = new Map<string, NewRun>();
  for (const r of runs) if (!first.has(r.run.id)) first.set(r.run.id, r);
  // Inserted in id order: two processes creating overlapping batches wait for
  // each other in one order instead of deadlocking.
  const unique = [...first.values()].sort((a, b) => compare(a.run.id, b.run.id));
  const rows = newStepRows();
  const leases = lease && new StartLeases(lease);
  const claimedByRun = new Map<string, ClaimedStep[]>();
  for (const { run, steps } of unique) {
    const planned = planSteps(run.id, steps, NO_STEPS);
    const offset = rows.id.length;
    addStepRows(rows, run.id, planned, run.createdAt, undefined);
    if (!leases) continue;
    // Leased steps are inserted running (the trigger logs step_ready, then step_claimed).
    planned.forEach((p, i) => {
      const taken = leases.take(run.id, p, run.createdAt);
      if (!taken) return;
      rows.status[offset + i] = "running";
      rows.leaseToken[offset + i] = taken.token;
      const claimed = claimedByRun.get(run.id) ?? [];
      claimed.push(claimedAtStart(run, p, taken));
      claimedByRun.set(run.id, claimed);
    });
  }
  const r = unique.map((x) => x.run);
  const [result] = await s.write((db) => s.rows<{ created: string[] | null }>(db, { prepared: s.sql.createRuns }, [
    r.map((x) => x.id), r.map((x) => x.package), r.map((x) => x.name), r.map((x) => x.status), r.map((x) => x.input),
    r.map((x) => JSON.stringify(x.metadata)), r.map((x) => x.createdAt), r.map((x) => x.updatedAt),
    r.map((x) => x.parentRunId ?? null), r.map((x) => x.parentStepId ?? null), r.map((x) => x.outputStep ?? null),
    ...stepRowValues(rows), ...edgeRowValues(rows), s.channel, Payload.ready,
    rows.leaseToken, lease?.workerId ?? null, lease?.now ?? null, lease ? lease.now + lease.leaseDuration : null,
    r.map((x) => x.packageVersion ?? null),
  ]));
  const created = new Set(result?.created === null ? r.map((x) => x.id) : (result?.created ?? []));
  const existing = new Map<string, RunRecord>();
  const missing = r.filter((x) => !created.has(x.id)).map((x) => x.id);
  if (missing.length) {
    for (const row of await s.rows<RunRow>(s.pool, s.sql.runsByIds, [missing])) existing.set(row.id, toRun(row));
  }
  return runs.map(({ run }): CreatedRun => {
    if (first.get(run.id)?.run === run && created.has(run.id)) {
      const claimed = claimedByRun.get(run.id);
      return claimed ? { created: true, run, claimed } : { created: true, run };
    }
    return { created: false, run: existing.get(run.id) ?? (first.get(run.id) as NewRun).run };
  });
}

/** Inserts steps into an existing run (its lock held); returns the ids created. */
export async function insertSteps(s: Session, tx: Tx, runId: string, steps: NewStep[], now: number, parentId: string | undefined): Promise<string[]> {
  const keys = steps.flatMap((step) => (step.dedupKey === undefined ? [] : [step.dedupKey]));
  const ids = new Set<string>();
  for (const step of steps) {
    ids.add(step.id);
    for (const d of step.dependsOn) ids.add(d.stepId);
  }
  const known = await s.rows<{ id: string; status: StepStatus; dedup_key: string | null }>(tx.db, s.sql.stepsByIdsOrKeys, [runId, [...ids], keys]);
  const statusOf = new Map(known.map((k) => [k.id, k.status]));
  const holderOf = new Map(known.filter((k) => k.dedup_key !== null).map((k) => [k.dedup_key as string, k.id]));
  const planned = planSteps(runId, steps, { statusOf: (id) => statusOf.get(id), holderOf: (k) => holderOf.get(k) });
  const rows = newStepRows();
  addStepRows(rows, runId, planned, now, parentId);
  if (await insertStepRows(s, tx.db, rows)) tx.notify.add(Payload.ready);
  const skipped = planned.filter((p) => p.status === "skipped");
  if (skipped.length) await propagate(s, tx, skipped.map((p) => ({ runId, stepId: p.step.id, status: "skipped" as const })), now);
  return planned.map((p) => p.step.id);
}

/** Writes planned steps and their edges; returns whether any step is ready. */
async function insertStepRows(s: Session, db: Db, rows: StepRows): Promise<boolean> {
  if (rows.id.length === 0) return false;
  await s.query(db, s.sql.insertSteps, stepRowValues(rows));
  if (rows.edgeRun.length) await s.query(db, s.sql.insertEdges, edgeRowValues(rows));
  return rows.status.includes("ready");
}

/** Code-unit order, the same in JS and for the lock order (which sorts hashes anyway). */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
