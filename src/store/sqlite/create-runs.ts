/**
 * Inserting runs and their steps, inside the caller's write transaction (see
 * `transaction.ts`). A start inserts each run with its steps as `planSteps`
 * lays them out and, when the engine offers a start lease, leases the first
 * ones to its idle workers right away. The steps a success emits go in through
 * `insertSteps` too (from `complete.ts`), so a run's steps are written one way
 * whenever they come.
 */
import type { StepStatus } from "../../types.js";
import { type RunRow, toRun } from "../rows.js";
import { claimedAtStart, StartLeases } from "../start-lease.js";
import { jsonOf, NO_STEPS, type PlannedStep, planSteps, readyAtFor, type RunLookup } from "../step-plan.js";
import type { ClaimedStep, CreatedRun, NewRun, NewStep, StartLease } from "../store-records.js";
import { propagate } from "./graph-writes.js";
import type { Statements } from "./statements.js";

/** See `Store.createRuns`: a run id that exists already is read back, not inserted. */
export function createRuns(sql: Statements, runs: NewRun[], lease: StartLease | undefined): CreatedRun[] {
  const leases = lease && new StartLeases(lease);
  return runs.map((r) => createRun(sql, r, leases));
}

function createRun(sql: Statements, { run, steps }: NewRun, leases: StartLeases | undefined): CreatedRun {
  const inserted = sql.insertRun.run(
    run.id, run.package, run.name, run.status, run.input, JSON.stringify(run.metadata), run.createdAt, run.updatedAt,
    run.parentRunId ?? null, run.parentStepId ?? null, run.outputStep ?? null, run.packageVersion ?? null,
  );
  if (inserted.changes === 0) return { created: false, run: toRun(sql.getRun.get(run.id) as RunRow) };
  const planned = insertSteps(sql, run.id, steps, run.createdAt, undefined, true);
  if (!leases) return { created: true, run };
  // Inserted ready, then leased like a claim would (so the log says step_ready, step_claimed).
  const claimed: ClaimedStep[] = [];
  for (const p of planned) {
    const lease = leases.take(run.id, p, run.createdAt);
    if (!lease) continue;
    sql.leaseStepById.run(lease.workerId, lease.token, lease.acquiredAt, lease.expiresAt, lease.acquiredAt, lease.acquiredAt, run.id, p.step.id);
    claimed.push(claimedAtStart(run, p, lease));
  }
  return claimed.length ? { created: true, run, claimed } : { created: true, run };
}

/**
 * Inserts steps into a run (see `planSteps`); returns them as planned. A new
 * run has nothing to look up; steps emitted into a running one are checked
 * against those it holds (dedup keys, dependencies already finished).
 */
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
  // Born skipped (a dependency already finished the wrong way): their dependents are told.
  for (const p of planned) if (p.status === "skipped") propagate(sql, runId, p.step.id, "skipped", now);
  return planned;
}
