/**
 * The embedded store: one SQLite file (better-sqlite3), shared by every runtime
 * that opens it, in this process or others.
 *
 * - WAL, `synchronous=NORMAL`: a commit survives a process crash (not power loss)
 *   and readers never block the writer.
 * - Every command that writes runs in one `BEGIN IMMEDIATE` transaction: it takes
 *   the write lock up front, so two processes never deadlock upgrading a read lock,
 *   and a claim is exclusive without row locks. `busy_timeout` makes a second
 *   process wait for the lock instead of failing.
 * - Statements are prepared once. Claims and completions are batched by the engine,
 *   so one transaction carries many steps: a commit per step would cap a drain at
 *   about a tenth of what batches reach.
 */
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { ErrorCodes, WorkflowError, isWorkflowError } from "../../errors.js";
import type { DependencyOn, RunStatus, StepStatus } from "../../types.js";
import { edgeState, FINISHED_RUN_STATUSES } from "../graph-rules.js";
import { claimedAtStart, StartLeases } from "../start-lease.js";
import { jsonOf, NO_STEPS, type PlannedStep, planSteps, readyAtFor, type RunLookup } from "../step-plan.js";
import { APPLIED, deliverEvents, GRAPH_CONFLICTS, STALE } from "../completion-rules.js";
import { assertRunAccepts, planRetry } from "../operator-rules.js";
import type {
  ClaimRequest,
  ClaimResult,
  ClaimedStep,
  CompletionResult,
  CreatedRun,
  EventRecord,
  FailedStepsQuery,
  LeaseRef,
  ListRunsQuery,
  PurgeResult,
  NewRun,
  NewSignal,
  NewStep,
  ReclaimResult,
  ResultRecord,
  RunRecord,
  StartLease,
  StepErrorRecord,
  StepOutcome,
  StepRecord,
  Store,
  StoredArtifact,
  StoredDependency,
  WaitOutcome,
} from "../store.js";
import type { StepCount } from "../store.js";
import { foldStepCounts, stepCountsSql } from "../step-counts.js";
import { BACKSTOP_CHECKPOINT_PAGES, Checkpointer } from "./checkpointer.js";
import { migrate } from "./migrations.js";
import { claimSteps, dependenciesOf } from "./claim.js";
import { failedStepsQuery, listRunsQuery, prepareStatements, purgeableRunsSql, type Statements } from "./statements.js";
import { WalWatcher } from "./wal-watcher.js";
import {
  type ArtifactRow,
  dependenciesByStep,
  type EdgeRow,
  type EventRow,
  type OutcomeRow,
  type RunRow,
  type StepRow,
  toArtifact,
  toEvent,
  toResultRecord,
  toRun,
  toStep,
} from "../rows.js";

export interface SqliteStoreOptions {
  path: string;
  /** ms a writer waits for another process's write lock (default 5000). */
  busyTimeout?: number;
  /** SQLite's page cache of this process's connection, in MiB (default 4). */
  cacheSizeMiB?: number;
}

/**
 * The page cache a connection keeps by default. A worker's hot pages (the ready
 * index, the newest rows of each table, the upper levels of every B-tree) fit
 * in a few MiB; the operating system's file cache serves the rest. better-sqlite3
 * defaults to 16 MiB, which a long drain fills: measured on a worker draining
 * 100,000 one-step runs, 4 MiB cut its peak RSS by about 15 MB and did not slow
 * the drain (drains of 20 000 and 100 000 steps were as fast or faster).
 */
export const DEFAULT_CACHE_SIZE_MIB = 4;


export function openSqliteStore(options: SqliteStoreOptions): SqliteStore {
  const file = options.path;
  const onDisk = file !== ":memory:";
  if (onDisk) fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const db = new Database(file);
  // Set first, so that even switching to WAL waits for a concurrent opener.
  const busyTimeout = Math.max(0, Math.floor(options.busyTimeout ?? 5000));
  db.pragma(`busy_timeout = ${busyTimeout}`);
  if (onDisk) {
    whileBusy(busyTimeout, () => db.pragma("journal_mode = WAL"));
    db.pragma(`wal_autocheckpoint = ${BACKSTOP_CHECKPOINT_PAGES}`);
  }
  db.pragma("synchronous = NORMAL");
  db.pragma(`cache_size = ${-Math.ceil((options.cacheSizeMiB ?? DEFAULT_CACHE_SIZE_MIB) * 1024)}`); // negative: KiB
  // Temporary files in memory. A write with triggers (every status change: the
  // event log) or ON CONFLICT, inside a transaction, keeps a statement journal so
  // that it alone can be rolled back; on the default file-backed temp store that
  // is a file written at every such statement. In memory, starting 5000 runs took
  // half as long. The statement journals of one transaction are small; nothing
  // here sorts more than a page of rows.
  db.pragma("temp_store = MEMORY");
  whileBusy(busyTimeout, () => migrate(db, Date.now()));
  if (!onDisk) return new SqliteStore(db);
  const resolved = path.resolve(file);
  return new SqliteStore(db, new Checkpointer(resolved), new WalWatcher(`${resolved}-wal`));
}

/**
 * Runs `step` again while it fails with SQLITE_BUSY, up to `timeoutMs`. The busy
 * timeout covers waiting for a lock, but not SQLite's deadlock answer: processes
 * opening a new file at once, each holding a read lock and wanting the write lock
 * (to switch it to WAL, or to migrate it), get SQLITE_BUSY at once, without
 * waiting. Both steps are safe to repeat (the switch is idempotent, a migration is
 * one transaction). Seen under load in the concurrent-open test.
 */
function whileBusy<T>(timeoutMs: number, step: () => T): T {
  const deadline = Date.now() + timeoutMs;
  for (let pause = 2; ; pause = Math.min(pause * 2, 50)) {
    try {
      return step();
    } catch (err) {
      if (!String((err as { code?: string }).code).startsWith("SQLITE_BUSY") || Date.now() >= deadline) throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, pause); // opening is synchronous: a blocking pause
    }
  }
}

export class SqliteStore implements Store {
  readonly #db: Database.Database;
  readonly #sql: Statements;
  readonly #claimTx;
  readonly #completeTx;
  readonly #createRunsTx;
  /** Runs a body in a write transaction (see `#writer`): the commands that are not hot. */
  readonly #write: <T>(body: () => T) => T;
  readonly #checkpointer: Checkpointer | undefined;
  readonly #watcher: WalWatcher | undefined;
  /** Statements whose text is built per call (see `#cached`). */
  readonly #built = new Map<string, Database.Statement>();
  readonly #eventListeners = new Set<(events: EventRecord[]) => void>();
  /** Events the current transaction wrote, while someone observes them. */
  #captured: EventRow[] | undefined;
  #closed = false;

  constructor(db: Database.Database, checkpointer?: Checkpointer, watcher?: WalWatcher) {
    this.#db = db;
    this.#checkpointer = checkpointer;
    this.#watcher = watcher;
    if (watcher) this.subscribe = (onChange) => watcher.subscribe(onChange);
    this.#sql = prepareStatements(db);
    this.#claimTx = this.#writer((request: ClaimRequest) => claimSteps(this.#sql, request));
    this.#completeTx = this.#writer((outcomes: StepOutcome[]) => this.#complete(outcomes));
    this.#createRunsTx = this.#writer((runs: NewRun[], lease: StartLease | undefined) => {
      const leases = lease && new StartLeases(lease);
      return runs.map((r) => this.#createRun(r, leases));
    });
    this.#write = this.#writer(<T>(body: () => T): T => body()) as <T>(body: () => T) => T;
  }

  /** Set when the file can be watched (see `WalWatcher`). */
  subscribe?: (onChange: () => void) => () => void;

  /**
   * Wraps a transaction body: `BEGIN IMMEDIATE`, and, while someone observes
   * events, the events it wrote (the triggers' rows after the last seq before
   * it: one writer at a time, so they are all this transaction's), delivered
   * after the commit.
   */
  #writer<A extends unknown[], R>(body: (...args: A) => R): (...args: A) => R {
    const tx = this.#db.transaction((...args: A): R => {
      if (this.#eventListeners.size === 0) return body(...args);
      const from = (this.#sql.lastEventSeq.get() as { seq: number | null }).seq ?? 0;
      const result = body(...args);
      this.#captured = this.#sql.eventsAfter.all(from) as EventRow[];
      return result;
    });
    return (...args: A): R => {
      this.#captured = undefined;
      const result = tx.immediate(...args);
      const captured = this.#captured as EventRow[] | undefined;
      this.#captured = undefined;
      if (captured?.length) {
        deliverEvents(this.#eventListeners, captured.map(toEvent));
      }
      return result;
    };
  }

  observeEvents(listener: (events: EventRecord[]) => void): () => void {
    this.#eventListeners.add(listener);
    return () => this.#eventListeners.delete(listener);
  }

  async createRuns(runs: NewRun[], lease?: StartLease): Promise<CreatedRun[]> {
    const created = this.#createRunsTx(runs, lease);
    this.#checkpointer?.wrote();
    return created;
  }

  async claim(request: ClaimRequest): Promise<ClaimResult> {
    const result = this.#claimTx(request);
    if (result.steps.length) this.#checkpointer?.wrote();
    return result;
  }

  async complete(outcomes: StepOutcome[]): Promise<CompletionResult[]> {
    if (outcomes.length === 0) return [];
    const results = this.#completeTx(outcomes);
    this.#checkpointer?.wrote();
    return results;
  }

  async heartbeat(leases: LeaseRef[], expiresAt: number, now: number): Promise<LeaseRef[]> {
    if (leases.length === 0) return [];
    return this.#db
      .transaction(() =>
        leases.filter((l) => this.#sql.extendLease.run(expiresAt, now, l.runId, l.stepId, l.token).changes === 0),
      )
      .immediate();
  }

  async release(leases: LeaseRef[], now: number): Promise<void> {
    if (leases.length === 0) return;
    this.#write(() => {
      for (const l of leases) this.#sql.releaseLease.run(now, now, l.runId, l.stepId, l.token);
    });
  }

  async reclaimExpired(now: number, maxReclaims: number): Promise<ReclaimResult> {
    // A read-only probe first, so that idle processes do not queue for the write lock.
    if (!this.#sql.anyExpired.get(now)) return { reclaimed: 0, failed: 0 };
    return this.#write(() => {
      const result = { reclaimed: 0, failed: 0 };
      const touched = new Set<string>();
      for (const row of this.#sql.expired.all(now) as { run_id: string; id: string; reclaims: number }[]) {
        if (row.reclaims < maxReclaims) {
          this.#sql.reclaimLease.run(now, now, row.run_id, row.id);
          result.reclaimed++;
          continue;
        }
        const error: StepErrorRecord = {
          code: ErrorCodes.leaseExpired,
          message: `the step's lease expired ${row.reclaims + 1} times (maxReclaims ${maxReclaims}); its worker probably crashed while running it`,
          retryable: false,
          occurredAt: now,
        };
        this.#sql.expireStep.run(JSON.stringify(error), error.code, now, now, now, row.run_id, row.id);
        this.#propagate(row.run_id, row.id, "failed", now);
        touched.add(row.run_id);
        result.failed++;
      }
      for (const runId of touched) this.#finishRunIfDone(runId, now);
      return result;
    });
  }

  async wakeDue(now: number): Promise<number> {
    if (!this.#sql.anyWaitDue.get(now)) return 0;
    return this.#write(() => this.#sql.wakeDue.run(now, now, now).changes);
  }

  async signal(signal: NewSignal): Promise<{ delivered: boolean }> {
    return this.#write(() => {
      const { runId, name, now } = signal;
      const run = this.#getRun(runId);
      // A retried delivery is answered the same way after the run finished.
      if (run && this.#sql.signalExists.get(runId, signal.id)) return { delivered: false };
      assertRunAccepts("signal", runId, run);
      if (this.#sql.insertSignal.run(runId, signal.id, name, signal.payload, now).changes === 0) return { delivered: false };
      this.#sql.wakeSignaled.run(now, now, runId, `signal:${name}`);
      return { delivered: true };
    });
  }

  async pauseRun(runId: string, now: number): Promise<void> {
    this.#write(() => {
      assertRunAccepts("pause", runId, this.#getRun(runId));
      this.#sql.setRunStatus.run("paused", now, runId);
      this.#sql.insertPaused.run(runId);
    });
  }

  async resumeRun(runId: string, now: number): Promise<void> {
    this.#write(() => {
      assertRunAccepts("resume", runId, this.#getRun(runId));
      this.#sql.setRunStatus.run("running", now, runId);
      this.#sql.deletePaused.run(runId);
      // Its last steps may have finished while it was paused.
      this.#finishRunIfDone(runId, now);
    });
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
    return (this.#cached(sql).all(...args) as StepRow[]).map((row) => toStep(row, this.#depsOf(row.run_id, row.id)));
  }

  /** A statement built per call (its text depends on the filters): prepared once per text. */
  #cached(sql: string): Database.Statement {
    let statement = this.#built.get(sql);
    if (!statement) this.#built.set(sql, (statement = this.#db.prepare(sql)));
    return statement;
  }

  async purge(finishedBefore: number, statuses: readonly RunStatus[], limit: number): Promise<PurgeResult> {
    const wanted = statuses.filter((st) => (FINISHED_RUN_STATUSES as readonly string[]).includes(st));
    if (wanted.length === 0) return { runs: 0, storedArtifacts: [] };
    const select = this.#cached(purgeableRunsSql(wanted.length));
    return this.#write(() => {
      const ids = (select.all(...wanted, finishedBefore, limit) as { id: string }[]).map((r) => r.id);
      const storedArtifacts: string[] = [];
      for (const id of ids) {
        for (const row of this.#sql.storedArtifactsOfRun.all(id) as { id: string }[]) storedArtifacts.push(row.id);
        for (const statement of this.#sql.purgeRun) statement.run(id);
      }
      return { runs: ids.length, storedArtifacts };
    });
  }

  async getRun(runId: string): Promise<RunRecord | undefined> {
    const row = this.#sql.getRun.get(runId) as RunRow | undefined;
    return row && toRun(row);
  }

  async listRuns(query: ListRunsQuery): Promise<RunRecord[]> {
    let afterSeq: number | undefined;
    if (query.after !== undefined) {
      afterSeq = (this.#sql.runSeq.get(query.after) as { seq: number } | undefined)?.seq;
      if (afterSeq === undefined) throw new WorkflowError(ErrorCodes.notFound, `listRuns: no run "${query.after}" to page after`);
    }
    const { sql, args } = listRunsQuery(query, afterSeq);
    return (this.#cached(sql).all(...args) as RunRow[]).map(toRun);
  }

  async getSteps(runId: string): Promise<StepRecord[]> {
    return this.#stepsOfRun(runId);
  }

  #stepsOfRun(runId: string): StepRecord[] {
    const deps = dependenciesByStep(this.#sql.edgesOfRun.all(runId) as EdgeRow[]);
    return (this.#sql.stepsOfRun.all(runId) as StepRow[]).map((row) => toStep(row, deps.get(row.id) ?? []));
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

  async retryStep(runId: string, stepId: string, now: number): Promise<void> {
    this.#write(() => this.#retryStep(runId, stepId, now));
  }

  async cancelRun(runId: string, now: number): Promise<string[]> {
    return this.#write(() => {
      assertRunAccepts("cancel", runId, this.#getRun(runId));
      this.#sql.insertEvent.run(runId, now, "operator_cancel", null);
      const canceled: string[] = [];
      // The run, then its unfinished descendants (a child's own children too).
      for (let ids = [runId]; ids.length; ) {
        const next: string[] = [];
        for (const id of ids) {
          this.#sql.cancelSteps.run(now, now, id);
          const parent = this.#sql.cancelRunRow.get(now, id) as { parent_run_id: string | null; parent_step_id: string | null };
          this.#sql.deletePaused.run(id);
          if (parent.parent_run_id) this.#sql.wakeParentStep.run(now, now, parent.parent_run_id, parent.parent_step_id);
          canceled.push(id);
          for (const child of this.#sql.activeChildren.all(id) as { id: string }[]) next.push(child.id);
        }
        ids = next;
      }
      return canceled;
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#watcher?.close();
    await this.#checkpointer?.stop();
    this.#db.close();
  }

  // ---- inside transactions -------------------------------------------------

  #getRun(runId: string): (RunRow & { status: RunStatus }) | undefined {
    return this.#sql.getRun.get(runId) as (RunRow & { status: RunStatus }) | undefined;
  }

  #createRun({ run, steps }: NewRun, leases: StartLeases | undefined): CreatedRun {
    const inserted = this.#sql.insertRun.run(
      run.id, run.package, run.name, run.status, run.input, JSON.stringify(run.metadata), run.createdAt, run.updatedAt,
      run.parentRunId ?? null, run.parentStepId ?? null, run.outputStep ?? null,
    );
    if (inserted.changes === 0) return { created: false, run: toRun(this.#sql.getRun.get(run.id) as RunRow) };
    const planned = this.#insertSteps(run.id, steps, run.createdAt, undefined, true);
    if (!leases) return { created: true, run };
    // Inserted ready, then leased like a claim would (so the log says step_ready, step_claimed).
    const claimed: ClaimedStep[] = [];
    for (const p of planned) {
      const lease = leases.take(run.id, p, run.createdAt);
      if (!lease) continue;
      this.#sql.leaseStepById.run(lease.workerId, lease.token, lease.acquiredAt, lease.expiresAt, lease.acquiredAt, lease.acquiredAt, run.id, p.step.id);
      claimed.push(claimedAtStart(run, p, lease));
    }
    return claimed.length ? { created: true, run, claimed } : { created: true, run };
  }

  readonly #depsOf = (runId: string, stepId: string): StoredDependency[] => dependenciesOf(this.#sql, runId, stepId);

  #complete(outcomes: StepOutcome[]): CompletionResult[] {
    // Runs that may have just finished: not those where a step made a dependent
    // ready or added children, which is most completions of a multi-step run.
    const touched = new Map<string, number>();
    const results = outcomes.map((outcome) => this.#applyOutcome(outcome, touched));
    for (const [runId, now] of touched) this.#finishRunIfDone(runId, now);
    return results;
  }

  #applyOutcome(o: StepOutcome, touched: Map<string, number>): CompletionResult {
    const s = this.#sql;
    switch (o.status) {
      case "retry": {
        const changes = s.scheduleRetry.run(o.readyAt, JSON.stringify(o.error), o.error.code, o.now, o.now, o.runId, o.stepId, o.token).changes;
        return changes ? APPLIED : STALE;
      }
      case "failed":
        if (!this.#fail(o, o.error)) return STALE;
        touched.set(o.runId, o.now);
        return APPLIED;
      case "wait":
        return this.#applyWait(o, touched);
      case "succeeded": {
        let created: string[] = [];
        let dependentsWaiting = false;
        if (o.emitted.length === 0 && o.artifacts.length === 0) {
          if (!this.#markSucceeded(o)) return STALE;
          dependentsWaiting = this.#propagate(o.runId, o.stepId, "succeeded", o.now);
        } else {
          try {
            // A savepoint: a graph conflict in the emitted steps undoes this step's
            // success, and the step fails instead.
            const applied = this.#db.transaction(() => {
              if (!this.#markSucceeded(o)) return false;
              for (const a of o.artifacts) {
                if (s.artifact.get(o.runId, a.id)) {
                  throw new WorkflowError(ErrorCodes.duplicateArtifact, `artifact id "${a.id}" is already used in run "${o.runId}"`);
                }
                s.insertArtifact.run(o.runId, a.id, o.stepId, a.name, a.kind, a.contentType, JSON.stringify(a.metadata), a.uri ?? null, a.size, Buffer.from(a.body.buffer, a.body.byteOffset, a.body.byteLength), o.now);
              }
              // Its dependents first: then the steps it emits find it succeeded, and an
              // edge from one of them back to it is satisfied once, when it is planned.
              dependentsWaiting = this.#propagate(o.runId, o.stepId, "succeeded", o.now);
              created = this.#insertSteps(o.runId, o.emitted, o.now, o.stepId).map((p) => p.step.id);
              s.setEmittedAndArtifacts.run(created.length ? JSON.stringify(created) : null, o.artifacts.length ? 1 : 0, o.runId, o.stepId);
              return true;
            })();
            if (!applied) return STALE;
          } catch (err) {
            if (!isWorkflowError(err) || !GRAPH_CONFLICTS.has(err.code)) throw err;
            const error: StepErrorRecord = { code: err.code, message: err.message, retryable: false, occurredAt: o.now };
            if (!this.#fail(o, error)) return STALE;
            touched.set(o.runId, o.now);
            return { status: "rejected", error };
          }
        }
        if (!dependentsWaiting && created.length === 0) touched.set(o.runId, o.now);
        return APPLIED;
      }
    }
  }

  /** A built-in wait's outcome (see `WaitOutcome`): consume a signal, time out, or park. */
  #applyWait(o: LeaseRef & { now: number } & WaitOutcome, touched: Map<string, number>): CompletionResult {
    const s = this.#sql;
    if (!s.holdsLease.get(o.runId, o.stepId, o.token)) return STALE;
    if (o.consume) {
      const signal = s.oldestSignal.get(o.runId, o.consume.name) as { seq: number; payload: string } | undefined;
      if (signal) {
        s.consumeSignal.run(o.stepId, o.now, signal.seq);
        return this.#applyOutcome({ runId: o.runId, stepId: o.stepId, token: o.token, now: o.now, status: "succeeded", result: signal.payload, artifacts: [], emitted: [] }, touched);
      }
      if (o.wakeAt !== undefined && o.wakeAt <= o.now) {
        if (!this.#fail(o, o.consume.timeoutError)) return STALE;
        touched.set(o.runId, o.now);
        return APPLIED;
      }
    }
    if (o.childRunId !== undefined) {
      const child = s.getRun.get(o.childRunId) as RunRow | undefined;
      if (child && (FINISHED_RUN_STATUSES as readonly string[]).includes(child.status)) {
        s.waitOver.run(o.now, o.now, o.runId, o.stepId, o.token);
        return APPLIED;
      }
    }
    s.park.run(o.wakeAt ?? null, o.now, o.runId, o.stepId, o.token);
    return APPLIED;
  }

  #markSucceeded(o: StepOutcome & { status: "succeeded" }): boolean {
    return this.#sql.markSucceeded.run(o.result, o.records ?? null, o.now, o.now, o.now, o.runId, o.stepId, o.token).changes === 1;
  }

  #fail(lease: LeaseRef & { now: number }, error: StepErrorRecord): boolean {
    const changes = this.#sql.markFailed.run(JSON.stringify(error), error.code, lease.now, lease.now, lease.now, lease.runId, lease.stepId, lease.token).changes;
    if (changes === 0) return false;
    this.#propagate(lease.runId, lease.stepId, "failed", lease.now);
    return true;
  }

  /** Inserts steps into a run (see `planSteps`); returns the ids created. */
  #insertSteps(runId: string, steps: NewStep[], now: number, parentId: string | undefined, newRun = false): PlannedStep[] {
    const s = this.#sql;
    const lookup: RunLookup = newRun
      ? NO_STEPS
      : {
          statusOf: (id) => (s.stepStatus.get(runId, id) as { status: StepStatus } | undefined)?.status,
          holderOf: (key) => (s.stepByDedupKey.get(runId, key) as { id: string } | undefined)?.id,
        };
    const planned = planSteps(runId, steps, lookup);
    for (const { step, status, edges, waiting } of planned) {
      const skipped = status === "skipped";
      s.insertStep.run(
        runId, step.id, step.kind, step.queue, status, step.input,
        edges.size, waiting,
        jsonOf(step.retry), step.retry.maxAttempts, step.priority,
        step.parentId ?? parentId ?? null, step.dedupKey ?? null, step.site ?? null, jsonOf(step.metadata),
        status === "ready" ? readyAtFor(step, now) : null, skipped ? now : null, now, now,
        step.notBefore ?? null, step.delay ?? 0, step.timeout ?? null, step.waitFor ?? null,
      );
      for (const [target, on] of edges) s.insertEdge.run(runId, target, step.id, on === "completed" ? 0 : 1, on);
    }
    for (const p of planned) if (p.status === "skipped") this.#propagate(runId, p.step.id, "skipped", now);
    return planned;
  }

  /**
   * Tells the dependents of a step that just finished; skips cascade transitively.
   * Returns whether a dependent is still waiting or now ready (so the run goes on).
   */
  #propagate(runId: string, stepId: string, status: StepStatus, now: number): boolean {
    const s = this.#sql;
    let dependentsWaiting = false;
    const finished: [string, StepStatus][] = [[stepId, status]];
    for (let next = finished.pop(); next; next = finished.pop()) {
      const [id, state] = next;
      for (const edge of s.dependents.all(runId, id) as { step_id: string; on_state: DependencyOn }[]) {
        const verdict = edgeState(state, edge.on_state);
        if (verdict === "satisfied") {
          if (s.satisfyEdge.run(now, now, runId, edge.step_id).changes) dependentsWaiting = true;
        } else if (verdict === "violated" && s.skipStep.run(now, now, runId, edge.step_id).changes) {
          finished.push([edge.step_id, "skipped"]);
        }
      }
    }
    return dependentsWaiting;
  }

  /** Finishes a running run with no unfinished step left, and wakes the parent step waiting for it. */
  #finishRunIfDone(runId: string, now: number): void {
    const finished = this.#sql.finishRun.get(now, runId) as { parent_run_id: string | null; parent_step_id: string | null } | undefined;
    if (finished?.parent_run_id) this.#sql.wakeParentStep.run(now, now, finished.parent_run_id, finished.parent_step_id);
  }

  #retryStep(runId: string, stepId: string, now: number): void {
    const s = this.#sql;
    if (!this.#getRun(runId)) throw new WorkflowError(ErrorCodes.notFound, `no run "${runId}"`);
    const steps = this.#stepsOfRun(runId);
    const plan = planRetry(runId, stepId, steps);
    s.insertEvent.run(runId, now, "operator_retry", stepId);
    const byId = new Map(steps.map((step) => [step.id, step]));
    for (const { id, status, waiting } of plan.revived) {
      s.reviveStep.run(status, waiting, status === "ready" ? readyAtFor(byId.get(id) as StepRecord, now) : null, now, runId, id);
    }
    for (const { id } of plan.revived) s.resetAttempts.run(now, runId, id);
    for (const id of plan.skippedAgain) {
      if (s.skipStep.run(now, now, runId, id).changes) this.#propagate(runId, id, "skipped", now);
    }
    s.reopenRun.run(now, runId);
  }

  // ---- step counts (added last: the counts behind the queue gauges and rt.stats) ----

  async countSteps(): Promise<StepCount[]> {
    return foldStepCounts(this.#cached(stepCountsSql("steps")).all() as { queue: string; status: string; n: number }[]);
  }
}
