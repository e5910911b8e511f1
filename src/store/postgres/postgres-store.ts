/**
 * The PostgreSQL store: one schema, shared by every process on every machine
 * that points trellis at it.
 *
 * How it stays correct with many writers (READ COMMITTED throughout):
 * - **Claims** lock ready rows with `FOR UPDATE SKIP LOCKED`, so concurrent
 *   claimers never wait for each other and never lease the same step. A queue
 *   with a global limit (`maxWorkers`, `rateLimit`) is claimed under a
 *   transaction-scoped advisory lock of that queue only: unlimited queues never
 *   serialise, and no row is hot.
 * - **Run-level writes** (completions, reclaims that fail a step, operator
 *   actions, lease release) first take a transaction-scoped advisory lock per run,
 *   in a fixed order. Deciding "the run has finished" or "this new step waits for
 *   that one" reads other steps of the run, so two transactions must not decide
 *   it at once; ordering the locks rules out deadlocks.
 * - **Heartbeats and reclaims** never wait: they skip rows another transaction
 *   holds (a completion is writing them, and will settle them).
 *
 * How it stays fast: claims and completions are batched by the engine (a round
 * trip and a commit per step would cap it at a few thousand steps a second)
 * and written set-wise (array parameters, `= ANY(ARRAY(...))`,
 * shapes whose plan cannot go bad; see `statements.ts`), so a batch costs a
 * handful of round trips whatever its size: a start is one statement, the
 * default queue's claim is one, a batch of plain successes is three (lock,
 * write, commit).
 *
 * Wake-ups: writes that make work ready (or due, or canceled) `NOTIFY` the
 * schema's channel in their transaction; every process LISTENs (see `Listener`).
 *
 * Waits, signals and child runs: a wait outcome locks its step row (a fenced
 * write) before it looks for its signal or child run; a signal (under the run's
 * lock) and a child run's end (row locks only: never the parent run's advisory
 * lock, which a cancel may hold while waiting for the child's) write the steps
 * waiting for them, running ones included, so one of the two always sees the
 * other. A cancel reads the run's descendants first and takes all their locks
 * with its own, in the one sorted order, before writing anything.
 *
 * The event log is written by triggers (migration 2), in the order the rows
 * change. `observeEvents` turns on a per-transaction capture of the events'
 * seqs, read back before COMMIT and delivered after it.
 *
 * This class implements `Store` by delegating, in the interface's order, to the
 * files that do each job: `transaction.ts` (the session: queries, transactions,
 * locks, notifications, event capture), `create-runs.ts` (runs and steps
 * inserted), `claim.ts`, `complete.ts`, `graph-writes.ts` (propagation, run
 * finishes), `operator.ts`, `statements.ts` and `queries.ts` (the SQL),
 * `connection.ts` (clients, type parsing, prepared names), `arrays.ts` /
 * `step-rows.ts` (array parameters), `migrations.ts` and `listener.ts`.
 */
import type pg from "pg";
import { ErrorCodes, WorkflowError } from "../../errors.js";
import type { DependencyOn, RunStatus } from "../../types.js";
import { type ArtifactRow, type EdgeRow, type EventRow, type OutcomeRow, type RunRow, type StepRow, toArtifact, toEvent, toResultRecord, toRun, toStep } from "../rows.js";
import { foldStepCounts, readyKindsSql, stepCountsSql, toKindCounts } from "../step-counts.js";
import type { KindCount, StepCount, Store, StoreEvent } from "../store.js";
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
  StepOutcome,
  StepRecord,
  StoredDependency,
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
import { Claimer } from "./claim.js";
import { completeOutcomes } from "./complete.js";
import { createRuns } from "./create-runs.js";
import { checkout, connectListening } from "./connection.js";
import { finishRunsIfDone, propagate } from "./graph-writes.js";
import { Listener, Payload } from "./listener.js";
import { quoteIdent } from "./connection.js";
import { migrate } from "./migrate.js";
import * as operator from "./operator.js";
import * as schedules from "./schedules.js";
import { failedStepsQuery, listRunsQuery, lockKeysQuery } from "./queries.js";
import { Session, stepKey } from "./transaction.js";

export interface PostgresStoreOptions {
  pool: pg.Pool;
  /** Ours to end at close (we created it from a connection string). */
  ownsPool: boolean;
  schema: string;
}

export async function openPostgresStore(options: PostgresStoreOptions): Promise<PostgresStore> {
  const client = await checkout(options.pool);
  let keys: { runs: number; queues: number };
  try {
    await migrate(client, options.schema, Date.now());
    const { rows } = await client.query<{ runs: number; queues: number }>(lockKeysQuery(options.schema));
    keys = rows[0] as { runs: number; queues: number };
  } catch (err) {
    client.done(err instanceof Error ? err : new Error(String(err)));
    throw err;
  }
  client.done();
  return new PostgresStore(options, keys);
}

export class PostgresStore implements Store {
  readonly #s: Session;
  readonly #claimer: Claimer;
  readonly #ownsPool: boolean;
  readonly #listener: Listener;
  #closed = false;
  /** Two completion batches at once, and claims overlapping them: one's round trips overlap another's. */
  readonly writeConcurrency = 2;

  constructor(options: PostgresStoreOptions, lockKeys: { runs: number; queues: number }) {
    this.#s = new Session(options.pool, options.schema, lockKeys, options.ownsPool);
    this.#claimer = new Claimer(this.#s);
    this.#ownsPool = options.ownsPool;
    this.#listener = new Listener(
      (onError) => connectListening(options.pool, onError),
      this.#s.channel,
      () => undefined, // a lost LISTEN costs latency, not correctness: the poll is the backstop
    );
  }

  // ---- runs -----------------------------------------------------------------

  async createRuns(runs: NewRun[], lease?: StartLease): Promise<CreatedRun[]> {
    return createRuns(this.#s, runs, lease);
  }

  // ---- claiming and leases ---------------------------------------------------

  async claim(request: ClaimRequest): Promise<ClaimResult> {
    return this.#claimer.claim(request);
  }

  /** Never waits: rows a completion holds are skipped (it will settle them). */
  async heartbeat(leases: LeaseRef[], expiresAt: number, now: number): Promise<LeaseRef[]> {
    if (leases.length === 0) return [];
    const s = this.#s;
    const held = await s.rows<{ run_id: string; id: string; token: string }>(s.pool, s.sql.heartbeat, [
      leases.map((l) => l.runId), leases.map((l) => l.stepId), leases.map((l) => l.token), expiresAt, now,
    ]);
    const still = new Set(held.map((h) => h.token));
    return leases.filter((l) => !still.has(l.token));
  }

  async release(leases: LeaseRef[], now: number): Promise<void> {
    if (leases.length === 0) return;
    const s = this.#s;
    await s.tx({ runs: leases.map((l) => l.runId) }, async (tx) => {
      const released = await s.rows(tx.db, s.sql.releaseLeases, [leases.map((l) => l.runId), leases.map((l) => l.stepId), leases.map((l) => l.token), now]);
      if (released.length) tx.notify.add(Payload.ready);
    });
  }

  async reclaimExpired(now: number, maxReclaims: number): Promise<ReclaimResult> {
    const s = this.#s;
    // A read-only probe first: idle processes poll this.
    const [probe] = await s.rows(s.pool, s.sql.anyExpired, [now]);
    if (!probe) return { reclaimed: 0, failed: 0 };
    const reclaimed = await s.write(async (db) => (await s.query(db, s.sql.reclaim, [now, maxReclaims])).rowCount ?? 0);
    if (reclaimed) await s.notify([Payload.ready]);
    const doomed = await s.rows<{ run_id: string; id: string; reclaims: number }>(s.pool, s.sql.overReclaimed, [now, maxReclaims]);
    if (doomed.length === 0) return { reclaimed, failed: 0 };
    const failed = await s.tx({ runs: doomed.map((d) => d.run_id) }, async (tx) => {
      const expired = await s.rows<{ run_id: string; id: string; reclaims: number }>(tx.db, s.sql.expireSteps, [
        doomed.map((d) => d.run_id), doomed.map((d) => d.id), now, maxReclaims, ErrorCodes.leaseExpired,
      ]);
      await propagate(s, tx, expired.map((e) => ({ runId: e.run_id, stepId: e.id, status: "failed" as const })), now);
      await finishRunsIfDone(s, tx, new Set(expired.map((e) => e.run_id)), now);
      return expired.length;
    });
    return { reclaimed, failed };
  }

  async wakeDue(now: number): Promise<number> {
    const s = this.#s;
    // A read-only probe first: the engine calls this at every due time.
    const [probe] = await s.rows(s.pool, s.sql.anyDue, [now]);
    if (!probe) return 0;
    const woke = await s.write(async (db) => (await s.query(db, s.sql.wakeDue, [now])).rowCount ?? 0);
    if (woke) await s.notify([Payload.ready]);
    return woke;
  }

  // ---- completion ------------------------------------------------------------

  async complete(outcomes: StepOutcome[]): Promise<CompletionResult[]> {
    return completeOutcomes(this.#s, outcomes);
  }

  // ---- operator control ---------------------------------------------------

  async retryStep(runId: string, stepId: string, now: number, note?: OperatorNote): Promise<void> {
    return operator.retryStep(this.#s, runId, stepId, now, note);
  }

  async cancelRun(runId: string, now: number, note?: OperatorNote): Promise<string[]> {
    return operator.cancelRun(this.#s, runId, now, note);
  }

  async signal(signal: NewSignal): Promise<{ delivered: boolean }> {
    return operator.signal(this.#s, signal);
  }

  async pauseRun(runId: string, now: number, note?: OperatorNote): Promise<void> {
    return operator.pauseRun(this.#s, runId, now, note);
  }

  async resumeRun(runId: string, now: number, note?: OperatorNote): Promise<void> {
    return operator.resumeRun(this.#s, runId, now, note);
  }

  // ---- reads ------------------------------------------------------------------

  // ---- schedules (schedules.ts) -------------------------------------------------

  async putSchedule(schedule: NewSchedule): Promise<ScheduleRecord> {
    return schedules.putSchedule(this.#s, schedule);
  }

  async getSchedule(id: string): Promise<ScheduleRecord | undefined> {
    return schedules.getSchedule(this.#s, id);
  }

  async listSchedules(): Promise<ScheduleRecord[]> {
    return schedules.listSchedules(this.#s);
  }

  async deleteSchedule(id: string): Promise<boolean> {
    return schedules.deleteSchedule(this.#s, id);
  }

  async setSchedulePaused(id: string, paused: boolean, nextFireAt: number | undefined, now: number): Promise<ScheduleRecord | undefined> {
    return schedules.setSchedulePaused(this.#s, id, paused, nextFireAt, now);
  }

  async dueSchedules(now: number, limit: number): Promise<ScheduleRecord[]> {
    return schedules.dueSchedules(this.#s, now, limit);
  }

  async advanceSchedule(advance: ScheduleAdvance): Promise<boolean> {
    return schedules.advanceSchedule(this.#s, advance);
  }

  async getRun(runId: string): Promise<RunRecord | undefined> {
    const s = this.#s;
    const [row] = await s.rows<RunRow>(s.pool, s.sql.readRun, [runId]);
    return row && toRun(row);
  }

  async listRuns(query: ListRunsQuery): Promise<RunRecord[]> {
    const s = this.#s;
    let afterSeq: number | undefined;
    if (query.after !== undefined) {
      const [after] = await s.rows<{ seq: number }>(s.pool, s.sql.runSeq, [query.after]);
      if (!after) throw new WorkflowError(ErrorCodes.notFound, `listRuns: no run "${query.after}" to page after`);
      afterSeq = after.seq;
    }
    const { text, values } = listRunsQuery(s.schema, query, afterSeq);
    return (await s.rows<RunRow>(s.pool, text, values)).map(toRun);
  }

  async getSteps(runId: string): Promise<StepRecord[]> {
    return operator.stepsOfRun(this.#s, this.#s.pool, runId);
  }

  async getResult(runId: string, stepId: string): Promise<ResultRecord | undefined> {
    const s = this.#s;
    const [row] = await s.rows<OutcomeRow & { has_artifacts: boolean }>(s.pool, s.sql.result, [runId, stepId]);
    if (!row) return undefined;
    const artifacts =
      row.has_artifacts && row.status === "succeeded" ? (await s.rows<ArtifactRow>(s.pool, s.sql.artifactsOfStep, [runId, stepId])).map(toArtifact) : [];
    return toResultRecord(stepId, row, artifacts);
  }

  async readArtifact(runId: string, artifactId: string): Promise<{ artifact: StoredArtifact; body: Uint8Array } | undefined> {
    const s = this.#s;
    const [row] = await s.rows<ArtifactRow & { body: Buffer }>(s.pool, s.sql.artifact, [runId, artifactId]);
    return row && { artifact: toArtifact(row), body: new Uint8Array(row.body) };
  }

  async getEvents(runId: string): Promise<EventRecord[]> {
    const s = this.#s;
    return (await s.rows<EventRow>(s.pool, s.sql.eventsOfRun, [runId])).map(toEvent);
  }

  async listFailedSteps(query: FailedStepsQuery): Promise<StepRecord[]> {
    const s = this.#s;
    let after: { finished_at: number | null; seq: number } | undefined;
    if (query.after !== undefined) {
      [after] = await s.rows<{ finished_at: number | null; seq: number }>(s.pool, s.sql.failedCursor, [query.after.runId, query.after.stepId]);
      if (!after) throw new WorkflowError(ErrorCodes.notFound, `listFailedSteps: no failed step "${query.after.stepId}" in run "${query.after.runId}" to page after`);
    }
    const { text, values } = failedStepsQuery(s.schema, query, after);
    const rows = await s.byAge((db) => s.rows<StepRow>(db, text, values));
    if (rows.length === 0) return [];
    const edges = await s.rows<EdgeRow & { run_id: string }>(s.pool, s.sql.edgesOfSteps, [rows.map((r) => r.run_id), rows.map((r) => r.id)]);
    const deps = new Map<string, StoredDependency[]>();
    for (const e of edges) {
      const k = stepKey(e.run_id, e.step_id);
      let list = deps.get(k);
      if (!list) deps.set(k, (list = []));
      list.push({ stepId: e.dep_id, on: e.on_state as DependencyOn });
    }
    return rows.map((row) => toStep(row, deps.get(stepKey(row.run_id, row.id)) ?? []));
  }

  async countSteps(): Promise<StepCount[]> {
    const s = this.#s;
    return foldStepCounts(await s.rows<{ queue: string; status: string; n: number }>(s.pool, stepCountsSql(`${quoteIdent(s.schema)}.steps`)));
  }

  async countReadyKinds(): Promise<KindCount[]> {
    const s = this.#s;
    return toKindCounts(await s.rows<{ kind: string; ready: number }>(s.pool, readyKindsSql(`${quoteIdent(s.schema)}.steps`)));
  }

  // ---- maintenance ------------------------------------------------------------

  async purge(finishedBefore: number, statuses: readonly RunStatus[], limit: number): Promise<PurgeResult> {
    if (limit <= 0 || statuses.length === 0) return { runs: 0, storedArtifacts: [] };
    const s = this.#s;
    const candidates = (await s.byAge((db) => s.rows<{ id: string }>(db, s.sql.purgeable, [finishedBefore, [...statuses], limit]))).map((r) => r.id);
    if (candidates.length === 0) return { runs: 0, storedArtifacts: [] };
    // Under the runs' locks (an operator retry may be reopening one), rechecked.
    return s.tx({ runs: candidates }, async (tx) => {
      const [row] = await s.rows<{ n: number; stored: string[] }>(tx.db, s.sql.purge, [candidates, finishedBefore, [...statuses]]);
      return { runs: row?.n ?? 0, storedArtifacts: row?.stored ?? [] };
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#listener.close();
    if (this.#ownsPool) await this.#s.pool.end();
  }

  // ---- optional ----------------------------------------------------------------

  observeEvents(listener: (events: EventRecord[]) => void): () => void {
    return this.#s.observeEvents(listener);
  }

  subscribe(onChange: (event?: StoreEvent) => void): () => void {
    return this.#listener.subscribe(onChange);
  }

  /** Resolves once this store's LISTEN connection is up (after a `subscribe`). */
  listening(): Promise<void> {
    return this.#listener.ready();
  }
}
