/**
 * The embedded store: one SQLite file (better-sqlite3), shared by every runtime
 * that opens it, in this process or others.
 *
 * Every command that writes is one `BEGIN IMMEDIATE` transaction (see
 * `transaction.ts`). Statements are prepared once. Claims and completions are
 * batched by the engine, so one transaction carries many steps: a commit per
 * step would cap a drain at about a tenth of what batches reach.
 *
 * This class implements `Store` by delegating, in the interface's order, to the
 * files that do each job: `connection.ts` (opening the file, pragmas),
 * `transaction.ts` (write transactions, event capture), `create-runs.ts`
 * (runs and steps inserted), `claim.ts`, `complete.ts`, `graph-writes.ts`
 * (propagation, run finishes), `operator.ts`, `statements.ts` (the SQL),
 * `migrations.ts`, and beside it
 * `checkpointer.ts` (WAL checkpoints off the main thread) and `wal-watcher.ts`
 * (wake-ups across processes).
 */
import type Database from "better-sqlite3";
import { ErrorCodes, WorkflowError } from "../../errors.js";
import type { RunStatus } from "../../types.js";
import { FINISHED_RUN_STATUSES } from "../graph-rules.js";
import { foldStepCounts, readyKindsSql, stepCountsSql, toKindCounts } from "../step-counts.js";
import { type ArtifactRow, type EventRow, type OutcomeRow, type RunRow, type StepRow, toArtifact, toEvent, toResultRecord, toRun, toStep } from "../rows.js";
import type { KindCount, StepCount, Store } from "../store.js";
import type {
  ClaimRequest,
  ClaimResult,
  CompletionResult,
  CreatedRun,
  LeaseRef,
  NewRun,
  OperatorNote,
  ReclaimResult,
  RunRecord,
  StartLease,
  StepErrorRecord,
  StepOutcome,
  StepRecord,
  ResultRecord,
  StoredArtifact,
} from "../store-records.js";
import type {
  EventRecord,
  FailedStepsQuery,
  ListRunsQuery,
  NewSignal,
  PurgeResult,
} from "../read-records.js";
import type { NewSchedule, ScheduleAdvance, ScheduleRecord } from "../schedule-records.js";
import type { Checkpointer } from "./checkpointer.js";
import { claimSteps, dependenciesOf, nextLeaseExpiry } from "./claim.js";
import { completeOutcomes } from "./complete.js";
import { openDatabase, type SqliteStoreOptions } from "./connection.js";
import { createRuns } from "./create-runs.js";
import { finishRunIfDone, propagate } from "./graph-writes.js";
import * as operator from "./operator.js";
import { failedStepsQuery, listRunsQuery, purgeableRunsSql, type Statements } from "./statements.js";
import { SqliteSchedules } from "./schedules.js";
import { Session } from "./transaction.js";
import type { WalWatcher } from "./wal-watcher.js";

export type { SqliteStoreOptions } from "./connection.js";

export function openSqliteStore(options: SqliteStoreOptions): SqliteStore {
  const { db, checkpointer, watcher } = openDatabase(options);
  return new SqliteStore(db, checkpointer, watcher);
}

export class SqliteStore implements Store {
  readonly #s: Session;
  readonly #sql: Statements;
  readonly #claimTx;
  readonly #completeTx;
  readonly #createRunsTx;
  readonly #schedules: SqliteSchedules;
  readonly #checkpointer: Checkpointer | undefined;
  readonly #watcher: WalWatcher | undefined;
  #closed = false;

  constructor(db: Database.Database, checkpointer?: Checkpointer, watcher?: WalWatcher) {
    this.#s = new Session(db);
    this.#sql = this.#s.sql;
    this.#schedules = new SqliteSchedules(this.#s);
    this.#checkpointer = checkpointer;
    this.#watcher = watcher;
    if (watcher) this.subscribe = (onChange) => watcher.subscribe(onChange);
    // The hot commands get a transaction wrapper each, compiled once.
    this.#claimTx = this.#s.writer((request: ClaimRequest) => claimSteps(this.#sql, request));
    this.#completeTx = this.#s.writer((outcomes: StepOutcome[]) => completeOutcomes(db, this.#sql, outcomes));
    this.#createRunsTx = this.#s.writer((runs: NewRun[], lease: StartLease | undefined) => createRuns(this.#sql, runs, lease));
  }

  // ---- runs -----------------------------------------------------------------

  async createRuns(runs: NewRun[], lease?: StartLease): Promise<CreatedRun[]> {
    const created = this.#createRunsTx(runs, lease);
    this.#checkpointer?.wrote();
    return created;
  }

  // ---- claiming and leases ---------------------------------------------------

  async claim(request: ClaimRequest): Promise<ClaimResult> {
    const result = this.#claimTx(request);
    if (result.steps.length) this.#checkpointer?.wrote();
    return result;
  }

  async heartbeat(leases: LeaseRef[], expiresAt: number, now: number): Promise<LeaseRef[]> {
    if (leases.length === 0) return [];
    const sql = this.#sql;
    return this.#s.db
      .transaction(() => leases.filter((l) => sql.extendLease.run(expiresAt, now, l.runId, l.stepId, l.token).changes === 0))
      .immediate();
  }

  async release(leases: LeaseRef[], now: number): Promise<void> {
    if (leases.length === 0) return;
    this.#s.write(() => {
      for (const l of leases) this.#sql.releaseLease.run(now, now, l.runId, l.stepId, l.token);
    });
  }

  async reclaimExpired(now: number, maxReclaims: number): Promise<ReclaimResult> {
    const sql = this.#sql;
    // A read-only probe first, so that idle processes do not queue for the write lock.
    const expiry = nextLeaseExpiry(sql);
    if (expiry === undefined || expiry > now) return { reclaimed: 0, failed: 0 };
    return this.#s.write(() => {
      const result = { reclaimed: 0, failed: 0 };
      const touched = new Set<string>();
      for (const row of sql.expired.all(now) as { run_id: string; id: string; reclaims: number }[]) {
        if (row.reclaims < maxReclaims) {
          sql.reclaimLease.run(now, now, row.run_id, row.id);
          result.reclaimed++;
          continue;
        }
        const error: StepErrorRecord = {
          code: ErrorCodes.leaseExpired,
          message: `the step's lease expired ${row.reclaims + 1} times (maxReclaims ${maxReclaims}); its worker probably crashed while running it`,
          retryable: false,
          occurredAt: now,
        };
        sql.expireStep.run(JSON.stringify(error), error.code, now, now, now, row.run_id, row.id);
        propagate(sql, row.run_id, row.id, "failed", now);
        touched.add(row.run_id);
        result.failed++;
      }
      for (const runId of touched) finishRunIfDone(sql, runId, now);
      return result;
    });
  }

  async wakeDue(now: number): Promise<number> {
    if (!this.#sql.anyWaitDue.get(now)) return 0;
    return this.#s.write(() => this.#sql.wakeDue.run(now, now, now).changes);
  }

  // ---- completion ------------------------------------------------------------

  async complete(outcomes: StepOutcome[]): Promise<CompletionResult[]> {
    if (outcomes.length === 0) return [];
    const results = this.#completeTx(outcomes);
    this.#checkpointer?.wrote();
    return results;
  }

  // ---- operator control ---------------------------------------------------

  async retryStep(runId: string, stepId: string, now: number, note?: OperatorNote): Promise<void> {
    this.#s.write(() => operator.retryStep(this.#sql, runId, stepId, now, note));
  }

  async cancelRun(runId: string, now: number, note?: OperatorNote): Promise<string[]> {
    return this.#s.write(() => operator.cancelRun(this.#sql, runId, now, note));
  }

  async signal(signal: NewSignal): Promise<{ delivered: boolean }> {
    return this.#s.write(() => operator.signal(this.#sql, signal));
  }

  async pauseRun(runId: string, now: number, note?: OperatorNote): Promise<void> {
    this.#s.write(() => operator.pauseRun(this.#sql, runId, now, note));
  }

  async resumeRun(runId: string, now: number, note?: OperatorNote): Promise<void> {
    this.#s.write(() => operator.resumeRun(this.#sql, runId, now, note));
  }

  // ---- reads ------------------------------------------------------------------

  async getRun(runId: string): Promise<RunRecord | undefined> {
    const row = this.#sql.readRun.get(runId) as RunRow | undefined;
    return row && toRun(row);
  }

  async listRuns(query: ListRunsQuery): Promise<RunRecord[]> {
    let afterSeq: number | undefined;
    if (query.after !== undefined) {
      afterSeq = (this.#sql.runSeq.get(query.after) as { seq: number } | undefined)?.seq;
      if (afterSeq === undefined) throw new WorkflowError(ErrorCodes.notFound, `listRuns: no run "${query.after}" to page after`);
    }
    const { sql, args } = listRunsQuery(query, afterSeq);
    return (this.#s.cached(sql).all(...args) as RunRow[]).map(toRun);
  }

  async getSteps(runId: string): Promise<StepRecord[]> {
    return operator.stepsOfRun(this.#sql, runId);
  }

  async getResult(runId: string, stepId: string): Promise<ResultRecord | undefined> {
    const row = this.#sql.result.get(runId, stepId) as (OutcomeRow & { has_artifacts: number }) | undefined;
    if (!row) return undefined;
    const artifacts = row.has_artifacts && row.status === "succeeded" ? (this.#sql.artifactsOfStep.all(runId, stepId) as ArtifactRow[]).map(toArtifact) : [];
    return toResultRecord(stepId, row, artifacts);
  }

  async readArtifact(runId: string, artifactId: string): Promise<{ artifact: StoredArtifact; body: Uint8Array } | undefined> {
    const row = this.#sql.artifact.get(runId, artifactId) as (ArtifactRow & { body: Buffer }) | undefined;
    return row && { artifact: toArtifact(row), body: new Uint8Array(row.body) };
  }

  // ---- schedules (schedules.ts) -------------------------------------------------

  async putSchedule(schedule: NewSchedule): Promise<ScheduleRecord> {
    return this.#schedules.put(schedule);
  }

  async getSchedule(id: string): Promise<ScheduleRecord | undefined> {
    return this.#schedules.get(id);
  }

  async listSchedules(): Promise<ScheduleRecord[]> {
    return this.#schedules.list();
  }

  async deleteSchedule(id: string): Promise<boolean> {
    return this.#schedules.delete(id);
  }

  async setSchedulePaused(id: string, paused: boolean, nextFireAt: number | undefined, now: number): Promise<ScheduleRecord | undefined> {
    return this.#schedules.setPaused(id, paused, nextFireAt, now);
  }

  async dueSchedules(now: number, limit: number): Promise<ScheduleRecord[]> {
    return this.#schedules.due(now, limit);
  }

  async advanceSchedule(advance: ScheduleAdvance): Promise<boolean> {
    return this.#schedules.advance(advance);
  }

  async getEvents(runId: string): Promise<EventRecord[]> {
    return (this.#sql.eventsOfRun.all(runId) as EventRow[]).map(toEvent);
  }

  async listFailedSteps(query: FailedStepsQuery): Promise<StepRecord[]> {
    let after: { finished_at: number; seq: number } | undefined;
    if (query.after) {
      after = this.#sql.failedCursor.get(query.after.runId, query.after.stepId) as typeof after;
      if (!after) throw new WorkflowError(ErrorCodes.notFound, `listFailedSteps: no failed step "${query.after.stepId}" in run "${query.after.runId}" to page after`);
    }
    const { sql, args } = failedStepsQuery(query, after);
    return (this.#s.cached(sql).all(...args) as StepRow[]).map((row) => toStep(row, dependenciesOf(this.#sql, row.run_id, row.id)));
  }

  async countSteps(): Promise<StepCount[]> {
    return foldStepCounts(this.#s.cached(stepCountsSql("steps")).all() as { queue: string; status: string; n: number }[]);
  }

  async countReadyKinds(): Promise<KindCount[]> {
    return toKindCounts(this.#s.cached(readyKindsSql("steps")).all() as { kind: string; ready: number }[]);
  }

  // ---- maintenance ------------------------------------------------------------

  async purge(finishedBefore: number, statuses: readonly RunStatus[], limit: number): Promise<PurgeResult> {
    const wanted = statuses.filter((st) => (FINISHED_RUN_STATUSES as readonly string[]).includes(st));
    if (wanted.length === 0) return { runs: 0, storedArtifacts: [] };
    const select = this.#s.cached(purgeableRunsSql(wanted.length));
    return this.#s.write(() => {
      const ids = (select.all(...wanted, finishedBefore, limit) as { id: string }[]).map((r) => r.id);
      const storedArtifacts: string[] = [];
      for (const id of ids) {
        for (const row of this.#sql.storedArtifactsOfRun.all(id) as { id: string }[]) storedArtifacts.push(row.id);
        for (const statement of this.#sql.purgeRun) statement.run(id);
      }
      return { runs: ids.length, storedArtifacts };
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#watcher?.close();
    await this.#checkpointer?.stop();
    this.#s.db.close();
  }

  // ---- optional ----------------------------------------------------------------

  observeEvents(listener: (events: EventRecord[]) => void): () => void {
    return this.#s.observeEvents(listener);
  }

  /** Set when the file can be watched (see `WalWatcher`). */
  subscribe?: (onChange: () => void) => () => void;
}
