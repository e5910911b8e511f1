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
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { ErrorCodes, WorkflowError, isWorkflowError } from "../../errors.js";
import type { DependencyOn, RunStatus, StepStatus } from "../../types.js";
import { edgeState, FINISHED_RUN_STATUSES, finishedRunStatusSql, nextTokenAt, refillTokens } from "../graph-rules.js";
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
import { BACKSTOP_CHECKPOINT_PAGES, Checkpointer } from "./checkpointer.js";
import { migrate } from "./migrations.js";
import { WalWatcher } from "./wal-watcher.js";
import {
  type ArtifactRow,
  CLAIMED_STEP_COLUMNS,
  dependenciesByStep,
  type EdgeRow,
  type EventRow,
  type OutcomeRow,
  type RunRow,
  type StepRow,
  toArtifact,
  toClaimedStep,
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

/**
 * Finished runs to purge, oldest first: params are `statusCount` statuses, then
 * finishedBefore and the limit. It scans the partial index runs_finished in
 * `updated_at` order and stops at the limit. Without `INDEXED BY`, SQLite chose
 * runs_by_status, read every run of each status and sorted them, at each batch.
 * The index's predicate, repeated as migration 4 writes it, makes the index
 * usable; the statuses asked for filter inside the same scan (before the
 * limit). A child run whose parent has not finished stays: the parent's step
 * may still read it.
 */
export function purgeableRunsSql(statusCount: number): string {
  return `SELECT id FROM runs c INDEXED BY runs_finished
          WHERE (status = 'succeeded' OR status = 'failed' OR status = 'canceled')
            AND status IN (${Array.from({ length: statusCount }, () => "?").join(", ")})
            AND updated_at < ? AND (c.parent_run_id IS NULL OR NOT EXISTS (SELECT 1 FROM runs p
              WHERE p.id = c.parent_run_id AND p.status IN ('pending', 'running', 'paused')))
          ORDER BY updated_at LIMIT ?`;
}

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
  readonly #sql;
  readonly #claimTx;
  readonly #completeTx;
  readonly #createRunsTx;
  /** Runs a body in a write transaction (see `#writer`): the commands that are not hot. */
  readonly #write: <T>(body: () => T) => T;
  readonly #checkpointer: Checkpointer | undefined;
  readonly #watcher: WalWatcher | undefined;
  readonly #listRuns = new Map<string, Database.Statement>();
  readonly #listFailed = new Map<string, Database.Statement>();
  readonly #purgeable = new Map<string, Database.Statement>();
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
    this.#claimTx = this.#writer((request: ClaimRequest) => this.#claim(request));
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
    const where = ["s.status = 'failed'"];
    const args: unknown[] = [];
    const filter = (column: string, value: string | undefined) => {
      if (value === undefined) return;
      where.push(`${column} = ?`);
      args.push(value);
    };
    filter("r.package", query.package);
    filter("s.kind", query.kind);
    filter("s.queue", query.queue);
    filter("s.error_code", query.code);
    if (query.after) {
      const after = this.#sql.failedCursor.get(query.after.runId, query.after.stepId) as { finished_at: number; seq: number } | undefined;
      if (!after) throw new WorkflowError(ErrorCodes.notFound, `listFailedSteps: no failed step "${query.after.stepId}" in run "${query.after.runId}" to page after`);
      where.push("(s.finished_at < ? OR (s.finished_at = ? AND s.seq < ?))");
      args.push(after.finished_at, after.finished_at, after.seq);
    }
    const join = query.package !== undefined ? "JOIN runs r ON r.id = s.run_id" : "";
    const sql = `SELECT s.* FROM steps s ${join} WHERE ${where.join(" AND ")} ORDER BY s.finished_at DESC, s.seq DESC LIMIT ?`;
    let statement = this.#listFailed.get(sql);
    if (!statement) this.#listFailed.set(sql, (statement = this.#db.prepare(sql)));
    return (statement.all(...args, query.limit) as StepRow[]).map((row) => toStep(row, this.#depsOf(row.run_id, row.id)));
  }

  async purge(finishedBefore: number, statuses: readonly RunStatus[], limit: number): Promise<PurgeResult> {
    const wanted = statuses.filter((st) => (FINISHED_RUN_STATUSES as readonly string[]).includes(st));
    if (wanted.length === 0) return { runs: 0, storedArtifacts: [] };
    const sql = purgeableRunsSql(wanted.length);
    let purgeable = this.#purgeable.get(sql);
    if (!purgeable) this.#purgeable.set(sql, (purgeable = this.#db.prepare(sql)));
    const select = purgeable;
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
    const where: string[] = [];
    const args: unknown[] = [];
    if (query.status !== undefined) {
      where.push("status = ?");
      args.push(query.status);
    }
    if (query.package !== undefined) {
      where.push("package = ?");
      args.push(query.package);
    }
    if (query.after !== undefined) {
      const after = this.#sql.runSeq.get(query.after) as { seq: number } | undefined;
      if (!after) throw new WorkflowError(ErrorCodes.notFound, `listRuns: no run "${query.after}" to page after`);
      where.push("seq < ?");
      args.push(after.seq);
    }
    const sql = `SELECT * FROM runs ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY seq DESC LIMIT ?`;
    // Eight filter combinations at most: prepare each once.
    let statement = this.#listRuns.get(sql);
    if (!statement) this.#listRuns.set(sql, (statement = this.#db.prepare(sql)));
    return (statement.all(...args, query.limit) as RunRow[]).map(toRun);
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

  readonly #depsOf = (runId: string, stepId: string): StoredDependency[] =>
    (this.#sql.depsOf.all(runId, stepId) as { dep_id: string; on_state: DependencyOn }[]).map((e) => ({ stepId: e.dep_id, on: e.on_state }));

  #claim(request: ClaimRequest): ClaimResult {
    const { now } = request;
    const candidates: { seq: number; priority: number; ready_at: number; queue: string }[] = [];
    const visited: string[] = [];
    const tokensByQueue = new Map<string, number>();
    let nextDueAt: number | undefined;
    const due = (t: number | null | undefined) => {
      if (t !== null && t !== undefined && (nextDueAt === undefined || t < nextDueAt)) nextDueAt = t;
    };

    for (let row = this.#sql.firstReadyQueue.get() as { queue: string } | undefined; row; row = this.#sql.nextReadyQueue.get(row.queue) as { queue: string } | undefined) {
      const queue = row.queue;
      visited.push(queue);
      const policy = request.policyFor(queue);
      let capacity = request.limit;
      if (Number.isFinite(policy.maxWorkers)) {
        const running = (this.#sql.runningInQueue.get(queue) as { n: number }).n;
        capacity = Math.min(capacity, policy.maxWorkers - running);
      }
      if (policy.rateLimit) {
        const bucket = this.#sql.getBucket.get(queue) as { tokens: number; refilled_at: number } | undefined;
        const tokens = refillTokens(bucket && { tokens: bucket.tokens, refilledAt: bucket.refilled_at }, policy.rateLimit, now);
        tokensByQueue.set(queue, tokens);
        if (tokens < 1 && this.#sql.anyReadyNow.get(queue, now)) due(nextTokenAt(tokens, policy.rateLimit, now));
        capacity = Math.min(capacity, Math.floor(tokens));
      }
      if (capacity <= 0) continue;
      for (const c of this.#sql.readyInQueue.all(queue, now, capacity) as { seq: number; priority: number; ready_at: number }[]) {
        candidates.push({ ...c, queue });
      }
    }

    // Each queue's candidates come in its claim order (priority, then readiness);
    // merged across queues by the same key, so no queue's order is broken.
    candidates.sort((a, b) => b.priority - a.priority || a.ready_at - b.ready_at || a.seq - b.seq);
    const chosen = candidates.slice(0, request.limit);
    const expiresAt = now + request.leaseDuration;
    const consumed = new Map<string, number>();
    const steps: ClaimedStep[] = [];
    if (chosen.length) {
      // The whole batch in two statements (a statement per step cost a twentieth of
      // a drain): one UPDATE, each step's token being the batch's random prefix and
      // its seq (unique, and new at every lease), and one narrow raw SELECT of the
      // steps joined with their runs.
      const prefix = randomUUID();
      const seqs = JSON.stringify(chosen.map((c) => c.seq));
      this.#sql.leaseSteps.run(request.workerId, `${prefix}-`, now, expiresAt, now, now, seqs);
      const rows = new Map<number, unknown[]>();
      for (const row of this.#sql.claimedSteps.all(seqs) as unknown[][]) rows.set(row[row.length - 1] as number, row);
      for (const c of chosen) {
        const lease = { workerId: request.workerId, token: `${prefix}-${c.seq}`, acquiredAt: now, expiresAt };
        steps.push(toClaimedStep(rows.get(c.seq) as unknown[], lease, this.#depsOf));
        consumed.set(c.queue, (consumed.get(c.queue) ?? 0) + 1);
      }
    }
    for (const [queue, n] of consumed) {
      const tokens = tokensByQueue.get(queue);
      if (tokens !== undefined) this.#sql.putBucket.run(queue, tokens - n, now);
    }

    // Only worth computing when the engine may go to sleep after this claim.
    if (steps.length < request.limit) {
      for (const queue of visited) due(this.#nextReadyAt(queue, now));
      due((this.#sql.nextLeaseExpiry.get() as { t: number | null }).t);
      due((this.#sql.nextWakeAt.get() as { t: number | null }).t);
    }
    const result: ClaimResult = { steps };
    if (nextDueAt !== undefined) result.nextDueAt = nextDueAt;
    return result;
  }

  /**
   * The earliest future readiness in a queue: the minimum over its priorities
   * (a skip scan of steps_ready; queues use a handful of priorities at most).
   */
  #nextReadyAt(queue: string, now: number): number | undefined {
    let next: number | undefined;
    let row = this.#sql.topPriority.get(queue) as { priority: number } | undefined;
    for (; row; row = this.#sql.lowerPriority.get(queue, row.priority) as { priority: number } | undefined) {
      const t = (this.#sql.nextReadyAt.get(queue, row.priority, now) as { t: number | null }).t;
      if (t !== null && (next === undefined || t < next)) next = t;
    }
    return next;
  }

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
}

function prepareStatements(db: Database.Database) {
  const p = (sql: string) => db.prepare(sql);
  const clearLease = "lease_worker = NULL, lease_token = NULL, lease_acquired_at = NULL, lease_expires_at = NULL";
  const fenced = "WHERE run_id = ? AND id = ? AND lease_token = ? AND status = 'running'";
  // A step that just became ready: `delay` after now, not before `runAt`.
  const readyAt = (now: string) => `max(${now} + delay_ms, coalesce(not_before, 0))`;
  // The run's failed steps that nothing handled: no failed/completed edge out of
  // them leads to a step that ran (see finishedRunStatus).
  const unhandledFailure = `EXISTS (SELECT 1 FROM steps f WHERE f.run_id = runs.id AND f.status = 'failed'
      AND NOT EXISTS (SELECT 1 FROM step_deps d JOIN steps h ON h.run_id = d.run_id AND h.id = d.step_id
                      WHERE d.run_id = f.run_id AND d.dep_id = f.id AND d.on_state IN ('failed', 'completed') AND h.status <> 'skipped'))`;
  const anyCanceled = "EXISTS (SELECT 1 FROM steps c WHERE c.run_id = runs.id AND c.status = 'canceled')";
  return {
    insertRun: p(`INSERT INTO runs (id, package, name, status, input, metadata, created_at, updated_at, parent_run_id, parent_step_id, output_step)
                  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`),
    getRun: p("SELECT * FROM runs WHERE id = ?"),
    runSeq: p("SELECT seq FROM runs WHERE id = ?"),
    setRunStatus: p("UPDATE runs SET status = ?, updated_at = ? WHERE id = ?"),
    // An operator retry reopens a finished run (a paused one stays paused).
    reopenRun: p("UPDATE runs SET status = 'running', updated_at = ? WHERE id = ? AND status <> 'paused'"),
    // A running run with no unfinished step left finishes, in one statement that
    // also decides its status; it returns the parent to wake if it is a child run.
    // Only a running run finishes: a canceled one stays canceled, a paused one
    // finishes when resumed.
    finishRun: p(`UPDATE runs SET status = ${finishedRunStatusSql(unhandledFailure, anyCanceled)}, updated_at = ?
                  WHERE id = ? AND status = 'running'
                    AND NOT EXISTS (SELECT 1 FROM steps a WHERE a.run_id = runs.id AND a.finished_at IS NULL)
                  RETURNING parent_run_id, parent_step_id`),
    // A child run finished: its parent's step waiting for it runs again (and reads the outcome).
    wakeParentStep: p("UPDATE steps SET status = 'ready', ready_at = ?, updated_at = ? WHERE run_id = ? AND id = ? AND status = 'waiting'"),
    cancelRunRow: p("UPDATE runs SET status = 'canceled', updated_at = ? WHERE id = ? RETURNING parent_run_id, parent_step_id"),
    activeChildren: p(`SELECT id FROM runs WHERE parent_run_id = ? AND status IN ('pending', 'running', 'paused')`),
    insertPaused: p("INSERT OR IGNORE INTO paused_runs (run_id) VALUES (?)"),
    deletePaused: p("DELETE FROM paused_runs WHERE run_id = ?"),

    insertStep: p(`INSERT INTO steps (run_id, id, kind, queue, status, input, deps_total, deps_waiting, retry, max_attempts,
                     priority, parent_id, dedup_key, site, metadata, ready_at, finished_at, created_at, updated_at,
                     not_before, delay_ms, timeout_ms, wait_for)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    insertEdge: p("INSERT INTO step_deps (run_id, dep_id, step_id, required, on_state) VALUES (?, ?, ?, ?, ?)"),
    getStep: p("SELECT * FROM steps WHERE run_id = ? AND id = ?"),
    stepStatus: p("SELECT status FROM steps WHERE run_id = ? AND id = ?"),
    stepByDedupKey: p("SELECT id FROM steps WHERE run_id = ? AND dedup_key = ?"),
    stepsOfRun: p("SELECT * FROM steps WHERE run_id = ? ORDER BY seq"),
    dependents: p("SELECT step_id, on_state FROM step_deps WHERE run_id = ? AND dep_id = ?"),
    depsOf: p("SELECT dep_id, on_state FROM step_deps WHERE run_id = ? AND step_id = ? ORDER BY dep_id"),
    edgesOfRun: p("SELECT step_id, dep_id, on_state FROM step_deps WHERE run_id = ? ORDER BY step_id, dep_id"),
    satisfyEdge: p(`UPDATE steps SET deps_waiting = deps_waiting - 1,
                      status   = CASE WHEN deps_waiting <= 1 THEN 'ready' ELSE status END,
                      ready_at = CASE WHEN deps_waiting <= 1 THEN ${readyAt("?")} ELSE ready_at END,
                      updated_at = ?
                    WHERE run_id = ? AND id = ? AND status = 'pending'`),
    skipStep: p("UPDATE steps SET status = 'skipped', finished_at = ?, updated_at = ? WHERE run_id = ? AND id = ? AND status = 'pending'"),
    reviveStep: p(`UPDATE steps SET status = ?, deps_waiting = ?, ready_at = ?, wake_at = NULL, finished_at = NULL, updated_at = ?, ${clearLease}
                   WHERE run_id = ? AND id = ?`),
    resetAttempts: p("UPDATE steps SET attempt = 0, reclaims = 0, updated_at = ? WHERE run_id = ? AND id = ?"),
    cancelSteps: p(`UPDATE steps SET status = 'canceled', finished_at = ?, updated_at = ?, ${clearLease}
                    WHERE run_id = ? AND status IN ('pending', 'ready', 'running', 'waiting')`),

    firstReadyQueue: p("SELECT queue FROM steps WHERE status = 'ready' ORDER BY queue LIMIT 1"),
    nextReadyQueue: p("SELECT queue FROM steps WHERE status = 'ready' AND queue > ? ORDER BY queue LIMIT 1"),
    // Steps of paused runs stay where they are; paused_runs is tiny, read once per statement.
    readyInQueue: p(`SELECT seq, priority, ready_at FROM steps WHERE status = 'ready' AND queue = ? AND ready_at <= ?
                       AND run_id NOT IN (SELECT run_id FROM paused_runs)
                     ORDER BY priority DESC, ready_at, seq LIMIT ?`),
    anyReadyNow: p("SELECT 1 FROM steps WHERE status = 'ready' AND queue = ? AND ready_at <= ? LIMIT 1"),
    topPriority: p("SELECT priority FROM steps WHERE status = 'ready' AND queue = ? ORDER BY priority DESC LIMIT 1"),
    lowerPriority: p("SELECT priority FROM steps WHERE status = 'ready' AND queue = ? AND priority < ? ORDER BY priority DESC LIMIT 1"),
    nextReadyAt: p("SELECT min(ready_at) AS t FROM steps WHERE status = 'ready' AND queue = ? AND priority = ? AND ready_at > ?"),
    nextLeaseExpiry: p("SELECT min(lease_expires_at) AS t FROM steps WHERE status = 'running'"),
    nextWakeAt: p("SELECT min(wake_at) AS t FROM steps WHERE status = 'waiting'"),
    runningInQueue: p("SELECT count(*) AS n FROM steps WHERE status = 'running' AND queue = ?"),
    getBucket: p("SELECT tokens, refilled_at FROM queue_buckets WHERE queue = ?"),
    putBucket: p(`INSERT INTO queue_buckets (queue, tokens, refilled_at) VALUES (?, ?, ?)
                  ON CONFLICT (queue) DO UPDATE SET tokens = excluded.tokens, refilled_at = excluded.refilled_at`),
    leaseStepById: p(`UPDATE steps SET status = 'running', attempt = attempt + 1, lease_worker = ?, lease_token = ?,
                        lease_acquired_at = ?, lease_expires_at = ?, started_at = ?, updated_at = ?
                      WHERE run_id = ? AND id = ? AND status = 'ready'`),
    leaseSteps: p(`UPDATE steps SET status = 'running', attempt = attempt + 1, lease_worker = ?, lease_token = ? || seq,
                    lease_acquired_at = ?, lease_expires_at = ?, started_at = ?, updated_at = ?
                  WHERE seq IN (SELECT value FROM json_each(?))`),
    claimedSteps: p(`SELECT ${CLAIMED_STEP_COLUMNS}, s.seq FROM steps s JOIN runs r ON r.id = s.run_id
                     WHERE s.seq IN (SELECT value FROM json_each(?))`).raw(true),

    markSucceeded: p(`UPDATE steps SET status = 'succeeded', result = ?, records = ?, emitted_ids = NULL, has_artifacts = 0,
                        completed_at = ?, finished_at = ?, updated_at = ?, ${clearLease} ${fenced}`),
    setEmittedAndArtifacts: p("UPDATE steps SET emitted_ids = ?, has_artifacts = ? WHERE run_id = ? AND id = ?"),
    markFailed: p(`UPDATE steps SET status = 'failed', error = ?, error_code = ?, completed_at = ?, finished_at = ?,
                     updated_at = ?, ${clearLease} ${fenced}`),
    scheduleRetry: p(`UPDATE steps SET status = 'ready', ready_at = ?, error = ?, error_code = ?, completed_at = ?,
                        updated_at = ?, ${clearLease} ${fenced}`),
    extendLease: p(`UPDATE steps SET lease_expires_at = ?, updated_at = ? ${fenced}`),
    // Giving a lease back or losing it is not an attempt: the attempt counter goes back down.
    releaseLease: p(`UPDATE steps SET status = 'ready', attempt = attempt - 1, ready_at = ?, updated_at = ?, ${clearLease} ${fenced}`),
    anyExpired: p("SELECT 1 FROM steps WHERE status = 'running' AND lease_expires_at <= ? LIMIT 1"),
    expired: p("SELECT run_id, id, reclaims FROM steps WHERE status = 'running' AND lease_expires_at <= ?"),
    reclaimLease: p(`UPDATE steps SET status = 'ready', attempt = attempt - 1, reclaims = reclaims + 1, ready_at = ?,
                       updated_at = ?, ${clearLease} WHERE run_id = ? AND id = ? AND status = 'running'`),
    expireStep: p(`UPDATE steps SET status = 'failed', error = ?, error_code = ?, completed_at = ?, finished_at = ?,
                     updated_at = ?, ${clearLease} WHERE run_id = ? AND id = ? AND status = 'running'`),

    // Built-in waits. Waiting is not an attempt: like a lease given back, the counter goes back down.
    holdsLease: p("SELECT 1 FROM steps WHERE run_id = ? AND id = ? AND lease_token = ? AND status = 'running'"),
    park: p(`UPDATE steps SET status = 'waiting', wake_at = ?, attempt = attempt - 1, updated_at = ?, ${clearLease} ${fenced}`),
    waitOver: p(`UPDATE steps SET status = 'ready', ready_at = ?, attempt = attempt - 1, updated_at = ?, ${clearLease} ${fenced}`),
    anyWaitDue: p("SELECT 1 FROM steps WHERE status = 'waiting' AND wake_at <= ? LIMIT 1"),
    wakeDue: p("UPDATE steps SET status = 'ready', ready_at = ?, updated_at = ? WHERE status = 'waiting' AND wake_at <= ?"),
    insertSignal: p(`INSERT INTO signals (run_id, id, name, payload, created_at) VALUES (?, ?, ?, ?, ?)
                     ON CONFLICT (run_id, id) DO NOTHING`),
    wakeSignaled: p("UPDATE steps SET status = 'ready', ready_at = ?, updated_at = ? WHERE run_id = ? AND wait_for = ? AND status = 'waiting'"),
    signalExists: p("SELECT 1 FROM signals WHERE run_id = ? AND id = ?"),
    oldestSignal: p("SELECT seq, payload FROM signals WHERE run_id = ? AND name = ? AND consumed_by IS NULL ORDER BY seq LIMIT 1"),
    consumeSignal: p("UPDATE signals SET consumed_by = ?, consumed_at = ? WHERE seq = ?"),

    // The event log (the triggers write the rest).
    insertEvent: p("INSERT INTO events (run_id, at, type, step_id) VALUES (?, ?, ?, ?)"),
    eventsOfRun: p("SELECT * FROM events WHERE run_id = ? ORDER BY seq"),
    lastEventSeq: p("SELECT max(seq) AS seq FROM events"),
    eventsAfter: p("SELECT * FROM events WHERE seq > ? ORDER BY seq"),

    failedCursor: p("SELECT finished_at, seq FROM steps WHERE run_id = ? AND id = ? AND status = 'failed'"),
    storedArtifactsOfRun: p("SELECT id FROM artifacts WHERE run_id = ? AND uri IS NOT NULL"),
    purgeRun: [
      p("DELETE FROM events WHERE run_id = ?"),
      p("DELETE FROM signals WHERE run_id = ?"),
      p("DELETE FROM artifacts WHERE run_id = ?"),
      p("DELETE FROM step_deps WHERE run_id = ?"),
      p("DELETE FROM steps WHERE run_id = ?"),
      p("DELETE FROM paused_runs WHERE run_id = ?"),
      p("DELETE FROM runs WHERE id = ?"),
    ],

    result: p("SELECT status, result, records, emitted_ids, has_artifacts, error, completed_at FROM steps WHERE run_id = ? AND id = ?"),
    artifact: p("SELECT * FROM artifacts WHERE run_id = ? AND id = ?"),
    artifactsOfStep: p(`SELECT id, step_id, name, kind, content_type, metadata, uri, size FROM artifacts
                        WHERE run_id = ? AND step_id = ? ORDER BY id`),
    insertArtifact: p(`INSERT INTO artifacts (run_id, id, step_id, name, kind, content_type, metadata, uri, size, body, created_at)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
  };
}
