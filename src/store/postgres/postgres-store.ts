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
 * Around it: `statements.ts` (the SQL), `connection.ts` (clients, type parsing,
 * prepared names), `arrays.ts` (array parameters), `step-rows.ts` (steps as
 * column arrays), `migrations.ts`, `listener.ts`.
 */
import type pg from "pg";
import { ErrorCodes, WorkflowError, isWorkflowError } from "../../errors.js";
import type { DependencyOn, RunStatus, StepStatus } from "../../types.js";
import { edgeState, FINISHED_RUN_STATUSES, finishedRunStatus, nextTokenAt, refillTokens } from "../graph-rules.js";
import {
  type ArtifactRow,
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
import { claimedAtStart, StartLeases } from "../start-lease.js";
import { NO_STEPS, planSteps } from "../step-plan.js";
import { APPLIED, deliverEvents, GRAPH_CONFLICTS, isUnlimited, STALE } from "../completion-rules.js";
import { assertRunAccepts, planRetry, runAccepts } from "../operator-rules.js";
import type {
  ArtifactRecord,
  ClaimRequest,
  ClaimResult,
  ClaimedStep,
  CompletionResult,
  CreatedRun,
  EventRecord,
  FailedStepsQuery,
  NewSignal,
  LeaseRef,
  ListRunsQuery,
  PurgeResult,
  NewRun,
  NewStep,
  ReclaimResult,
  ResultRecord,
  RunRecord,
  StartLease,
  StepErrorRecord,
  StepOutcome,
  StepRecord,
  Store,
  StoreEvent,
  StoredArtifact,
  StoredDependency,
  WaitOutcome,
} from "../store.js";
import type { StepCount } from "../store.js";
import { foldStepCounts, stepCountsSql } from "../step-counts.js";
import { encodeParams } from "./arrays.js";
import { checkout, connectListening, type Db, preparedName, type Sql, TYPES } from "./connection.js";
import { Listener, Payload } from "./listener.js";
import { beginSql, commitSql, failedStepsQuery, listRunsQuery, lockKeysQuery, lockRunsSql, notifySql } from "./queries.js";
import { migrate, quoteIdent } from "./migrations.js";
import { CLAIM_DEPS, CLAIM_READY_AT, CLAIM_SEQ, CLAIM_TOKEN, statements } from "./statements.js";
import { addStepRows, edgeRowValues, newStepRows, type StepRows, stepRowValues } from "./step-rows.js";

export interface PostgresStoreOptions {
  pool: pg.Pool;
  /** Ours to end at close (we created it from a connection string). */
  ownsPool: boolean;
  schema: string;
}

const key = (runId: string, stepId: string) => `${runId}\u0000${stepId}`;

/** A transaction in progress: notifications are sent with its COMMIT. */
interface Tx {
  db: Db;
  notify: Set<string>;
  /** Events are observed: the ones this transaction writes are delivered after its commit. */
  capture: boolean;
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
  readonly #pool: pg.Pool;
  readonly #ownsPool: boolean;
  readonly #schema: string;
  readonly #channel: string;
  readonly #lockKeys: { runs: number; queues: number };
  readonly #sql: ReturnType<typeof statements>;
  readonly #listener: Listener;
  #closed = false;
  /** Two completion batches at once, and claims overlapping them: one's round trips overlap another's. */
  readonly writeConcurrency = 2;
  /** The last claim saw ready steps in queues other than the default one. */
  #othersWaiting = false;
  readonly #eventListeners = new Set<(events: EventRecord[]) => void>();

  constructor(options: PostgresStoreOptions, lockKeys: { runs: number; queues: number }) {
    this.#pool = options.pool;
    this.#ownsPool = options.ownsPool;
    this.#schema = options.schema;
    this.#channel = `trellis.${options.schema}`;
    this.#lockKeys = lockKeys;
    this.#sql = statements(quoteIdent(options.schema));
    this.#listener = new Listener(
      (onError) => connectListening(this.#pool, onError),
      this.#channel,
      () => undefined, // a lost LISTEN costs latency, not correctness: the poll is the backstop
    );
  }

  /**
   * Events are captured only while someone observes (see migration 2's
   * events_captured): every write then runs in a transaction of its own, whose
   * events are read before its COMMIT and delivered after it.
   */
  observeEvents(listener: (events: EventRecord[]) => void): () => void {
    this.#eventListeners.add(listener);
    return () => this.#eventListeners.delete(listener);
  }

  /** A write that needs no lock: straight on the pool, or, while events are observed, in a transaction that captures them. */
  async #write<T>(fn: (db: pg.Pool | Db) => Promise<T>): Promise<T> {
    if (this.#eventListeners.size === 0) return fn(this.#pool);
    return this.#tx({}, (tx) => fn(tx.db));
  }

  subscribe(onChange: (event?: StoreEvent) => void): () => void {
    return this.#listener.subscribe(onChange);
  }

  /** Resolves once this store's LISTEN connection is up (after a `subscribe`). */
  listening(): Promise<void> {
    return this.#listener.ready();
  }

  // ---- plumbing -------------------------------------------------------------

  /** `{ prepared: text }`: parsed and planned once per connection (see `preparedName`). */
  async #query<R extends pg.QueryResultRow = pg.QueryResultRow>(db: pg.Pool | Db, sql: Sql, values?: unknown[]): Promise<pg.QueryResult<R>> {
    const encoded = values ? encodeParams(values) : [];
    if (typeof sql === "string") return db.query<R>({ text: sql, values: encoded, types: TYPES });
    return db.query<R>({ text: sql.prepared, name: preparedName(sql.prepared), values: encoded, types: TYPES });
  }

  async #rows<R extends pg.QueryResultRow>(db: pg.Pool | Db, text: Sql, values?: unknown[]): Promise<R[]> {
    return (await this.#query<R>(db, text, values)).rows;
  }

  /**
   * Runs `fn` in a transaction, holding advisory locks taken first: the given
   * runs' (sorted, so every transaction takes them in one order) or one queue's.
   * `BEGIN` with the locks, and at the end the notifications with `COMMIT`, each
   * go in one round trip.
   */
  async #tx<T>(locks: { runs?: Iterable<string>; queue?: string }, fn: (tx: Tx) => Promise<T>): Promise<T> {
    const capture = this.#eventListeners.size > 0;
    let captured: EventRecord[] = [];
    const result = await this.#inTransaction(
      (db) => beginSql(db, this.#schema, this.#lockKeys, { runs: [...new Set(locks.runs ?? [])], queue: locks.queue }, capture),
      async (db) => {
        const tx: Tx = { db, notify: new Set(), capture };
        const value = await fn(tx);
        if (capture) captured = (await this.#rows<EventRow>(db, this.#sql.capturedEvents)).map(toEvent);
        return { value, commit: commitSql(db, this.#channel, tx.notify) };
      },
    );
    if (captured.length) deliverEvents(this.#eventListeners, captured);
    return result;
  }

  /**
   * One transaction on one checked-out client: `begin` (which may lock or set
   * things in the same round trip), the body, then its commit statement; on an
   * error a rollback, and a client whose rollback failed is discarded.
   */
  async #inTransaction<T>(begin: (db: Db) => string, body: (db: Db) => Promise<{ value: T; commit: string }>): Promise<T> {
    const db = await checkout(this.#pool);
    let broken: Error | undefined;
    try {
      await db.query(begin(db));
      const { value, commit } = await body(db);
      await db.query(commit);
      return value;
    } catch (err) {
      await db.query("ROLLBACK").catch((e: Error) => {
        broken = e;
      });
      throw err;
    } finally {
      db.done(broken);
    }
  }

  async #notify(payloads: string[]): Promise<void> {
    if (payloads.length === 0) return;
    await this.#query(this.#pool, notifySql, [this.#channel, payloads]);
  }

  // ---- commands -------------------------------------------------------------

  /**
   * One statement (one round trip, one commit): the runs, the steps of those
   * actually inserted, their edges, and a NOTIFY if a step is ready. A run id
   * that exists already inserts nothing; it is read back afterwards.
   */
  async createRuns(runs: NewRun[], lease?: StartLease): Promise<CreatedRun[]> {
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
    const [result] = await this.#write((db) => this.#rows<{ created: string[] | null }>(db, { prepared: this.#sql.createRuns }, [
      r.map((x) => x.id), r.map((x) => x.package), r.map((x) => x.name), r.map((x) => x.status), r.map((x) => x.input),
      r.map((x) => JSON.stringify(x.metadata)), r.map((x) => x.createdAt), r.map((x) => x.updatedAt),
      r.map((x) => x.parentRunId ?? null), r.map((x) => x.parentStepId ?? null), r.map((x) => x.outputStep ?? null),
      ...stepRowValues(rows), ...edgeRowValues(rows), this.#channel, Payload.ready,
      rows.leaseToken, lease?.workerId ?? null, lease?.now ?? null, lease ? lease.now + lease.leaseDuration : null,
    ]));
    const created = new Set(result?.created === null ? r.map((x) => x.id) : (result?.created ?? []));
    const existing = new Map<string, RunRecord>();
    const missing = r.filter((x) => !created.has(x.id)).map((x) => x.id);
    if (missing.length) {
      for (const row of await this.#rows<RunRow>(this.#pool, this.#sql.runsByIds, [missing])) existing.set(row.id, toRun(row));
    }
    return runs.map(({ run }): CreatedRun => {
      if (first.get(run.id)?.run === run && created.has(run.id)) {
        const claimed = claimedByRun.get(run.id);
        return claimed ? { created: true, run, claimed } : { created: true, run };
      }
      return { created: false, run: existing.get(run.id) ?? (first.get(run.id) as NewRun).run };
    });
  }

  /**
   * The default queue, when it has no limits (the common case), is claimed from
   * in the same statement that finds the other queues with ready steps: one round
   * trip. Other queues follow, each in its own statement; limited ones under
   * their queue lock.
   */
  async claim(request: ClaimRequest): Promise<ClaimResult> {
    return this.#write((db) => this.#claim(db, request));
  }

  async #claim(db: pg.Pool | Db, request: ClaimRequest): Promise<ClaimResult> {
    const { now } = request;
    let nextDueAt: number | undefined;
    const due = (t: number | null | undefined) => {
      if (t !== null && t !== undefined && (nextDueAt === undefined || t < nextDueAt)) nextDueAt = t;
    };
    const steps: Claimed[] = [];
    let heads: HeadCell[];
    /** The default queue was claimed from in the scan's statement: its heads are stale. */
    let defaultClaimed = false;
    if (isUnlimited(request.policyFor(DEFAULT_QUEUE))) {
      // Other queues waiting last time get half of the batch: a backlog in the
      // default queue must not starve them.
      const limit = this.#othersWaiting ? Math.ceil(request.limit / 2) : request.limit;
      const { rows } = await db.query<unknown[]>({
        text: this.#sql.claimDefault,
        name: preparedName(this.#sql.claimDefault),
        values: [request.workerId, now, now + request.leaseDuration, DEFAULT_QUEUE, limit],
        types: TYPES,
        rowMode: "array",
      });
      const [head] = rows;
      heads = (head?.[0] ?? []) as HeadCell[];
      due(head?.[1] as number | null);
      due(head?.[2] as number | null);
      defaultClaimed = true;
      if (head?.[3] !== null && head?.[3] !== undefined) steps.push(...this.#toClaimed(rows.map((row) => row.slice(3)), request));
    } else {
      const [head] = await this.#rows<{ lease_min: number | null; wake_min: number | null; queues: HeadCell[] | null }>(db, this.#sql.readyQueues, [now]);
      due(head?.lease_min);
      due(head?.wake_min);
      heads = head?.queues ?? [];
    }
    // Per queue: its first claimable step (highest priority first), and its next readiness.
    const queues = new Map<string, QueueScan>();
    for (const [queue, priority, readyAt, seq, next] of heads) {
      due(next);
      let q = queues.get(queue);
      if (!q) queues.set(queue, (q = { queue }));
      if (readyAt !== null && seq !== null && (q.head === undefined || priority > q.head.priority)) q.head = { priority, readyAt, seq };
    }
    if (defaultClaimed) queues.delete(DEFAULT_QUEUE);
    // Claimable queues, first work first across them (priority, readiness, insertion order).
    const others = [...queues.values()].filter((q): q is Required<QueueScan> => q.head !== undefined).sort((a, b) => byReadiness(a.head, b.head));
    this.#othersWaiting = defaultClaimed && others.length > 0;
    for (const { queue } of others) {
      const remaining = request.limit - steps.length;
      if (remaining <= 0) break;
      const policy = request.policyFor(queue);
      if (isUnlimited(policy)) steps.push(...(await this.#claimFrom(db, queue, remaining, request)));
      else {
        const limited = await this.#claimLimited(queue, remaining, request);
        due(limited.nextDueAt);
        steps.push(...limited.steps);
      }
    }
    steps.sort(byReadiness);
    const result: ClaimResult = { steps: steps.map((c) => c.claimed) };
    if (nextDueAt !== undefined) result.nextDueAt = nextDueAt;
    return result;
  }

  /** One statement: lock up to `limit` ready steps of `queue`, lease them, return them with their runs. */
  async #claimFrom(db: pg.Pool | Db, queue: string, limit: number, request: ClaimRequest): Promise<Claimed[]> {
    const { now, workerId } = request;
    const expiresAt = now + request.leaseDuration;
    const { rows } = await db.query<unknown[]>({
      text: this.#sql.claim,
      values: [workerId, now, expiresAt, queue, limit],
      types: TYPES,
      rowMode: "array",
    });
    return this.#toClaimed(rows, request);
  }

  /** Claimed rows (CLAIMED_STEP_COLUMNS, lease token, dependencies, seq) to claimed steps, in claim order. */
  #toClaimed(rows: unknown[][], request: ClaimRequest): Claimed[] {
    const { now, workerId } = request;
    const expiresAt = now + request.leaseDuration;
    const claimed = rows.map((row): Claimed => {
      const lease = { workerId, token: row[CLAIM_TOKEN] as string, acquiredAt: now, expiresAt };
      const deps = (row[CLAIM_DEPS] ?? []) as DependencyCell[];
      const step = toClaimedStep(row, lease, () => deps.map(([stepId, on]) => ({ stepId, on })));
      const results = prefetchedResults(deps);
      if (results) step.dependencyResults = results;
      return {
        claimed: step,
        priority: step.step.priority,
        readyAt: row[CLAIM_READY_AT] as number,
        seq: row[CLAIM_SEQ] as number,
      };
    });
    // UPDATE ... RETURNING has no order: restore the claim's.
    return claimed.sort(byReadiness);
  }

  /**
   * A queue with a global limit: claimed under that queue's advisory lock, so the
   * running count and the token bucket read here stay true until the commit.
   */
  async #claimLimited(queue: string, limit: number, request: ClaimRequest): Promise<{ steps: Claimed[]; nextDueAt?: number }> {
    const { now } = request;
    const policy = request.policyFor(queue);
    return this.#tx({ queue }, async ({ db }) => {
      const [state] = await this.#rows<{ running: number; tokens: number | null; refilled_at: number | null }>(db, this.#sql.queueState, [queue]);
      let capacity = limit;
      if (Number.isFinite(policy.maxWorkers)) capacity = Math.min(capacity, policy.maxWorkers - (state?.running ?? 0));
      let tokens: number | undefined;
      let nextDueAt: number | undefined;
      if (policy.rateLimit) {
        const stored = state && state.tokens !== null && state.refilled_at !== null ? { tokens: state.tokens, refilledAt: state.refilled_at } : undefined;
        tokens = refillTokens(stored, policy.rateLimit, now);
        if (tokens < 1) nextDueAt = nextTokenAt(tokens, policy.rateLimit, now);
        capacity = Math.min(capacity, Math.floor(tokens));
      }
      const steps = capacity > 0 ? await this.#claimFrom(db, queue, capacity, request) : [];
      if (tokens !== undefined && steps.length > 0) await this.#query(db, this.#sql.putBucket, [queue, tokens - steps.length, now]);
      return nextDueAt === undefined ? { steps } : { steps, nextDueAt };
    });
  }

  async complete(outcomes: StepOutcome[]): Promise<CompletionResult[]> {
    if (outcomes.length === 0) return [];
    return this.#tx(
      { runs: outcomes.map((o) => o.runId) },
      (tx) => this.#complete(tx, outcomes),
    );
  }

  async #complete(tx: Tx, given: StepOutcome[]): Promise<CompletionResult[]> {
    const results = new Map<string, CompletionResult>();
    const now = Math.max(...given.map((o) => o.now));
    const failed: { runId: string; stepId: string }[] = [];
    const finishedRuns = new Set<string>();
    const queues = new Set<string>();

    // Waits first: a wait that finds its signal becomes a plain success, one whose
    // signal timed out a plain failure; both then go the way of the others.
    const waits = given.filter((o): o is Extract<StepOutcome, { status: "wait" }> => o.status === "wait");
    const outcomes = waits.length ? [...given.filter((o) => o.status !== "wait"), ...(await this.#applyWaits(tx, waits, results))] : given;

    // Plain successes (most of them) go in one statement that also readies their
    // dependents and finishes their runs; the rest below, one kind at a time.
    const simple = outcomes.filter((o): o is Extract<StepOutcome, { status: "succeeded" }> => o.status === "succeeded" && o.emitted.length === 0 && o.artifacts.length === 0);
    if (simple.length) {
      const [row] = await this.#rows<{
        run_ids: string[]; ids: string[]; readied: boolean; more: boolean; children: string[]; violated_runs: string[]; violated_steps: string[];
      }>(tx.db, { prepared: this.#sql.succeedPlain }, [
        simple.map((o) => o.runId), simple.map((o) => o.stepId), simple.map((o) => o.token),
        simple.map((o) => o.result), simple.map((o) => o.records ?? null), simple.map((o) => o.now), now,
      ]);
      if (row) {
        row.run_ids.forEach((runId, i) => results.set(key(runId, row.ids[i] as string), APPLIED));
        if (row.readied || row.more) tx.notify.add(Payload.ready);
        await this.#wakeParents(tx, row.children, now);
        if (row.violated_steps.length) {
          // Dependents over an on: "failed" edge: skipped (the statement left them pending), and their runs may finish.
          const v = row.violated_runs.map((runId, i) => ({ runId, stepId: row.violated_steps[i] as string }));
          const skipped = await this.#rows<{ run_id: string; id: string }>(tx.db, this.#sql.skipSteps, [v.map((x) => x.runId), v.map((x) => x.stepId), now]);
          await this.#propagate(tx, skipped.map((r) => ({ runId: r.run_id, stepId: r.id, status: "skipped" as const })), now);
          for (const r of v) finishedRuns.add(r.runId);
        }
      }
    }
    for (const o of outcomes) {
      if (o.status !== "succeeded" || (o.emitted.length === 0 && o.artifacts.length === 0)) continue;
      const result = await this.#succeedWithOutputs(tx, o, queues);
      results.set(key(o.runId, o.stepId), result);
      // Applied: its dependents were told inside the savepoint; only the run may have finished.
      if (result.status === "applied") finishedRuns.add(o.runId);
      else if (result.status === "rejected") failed.push({ runId: o.runId, stepId: o.stepId });
    }
    const retries = outcomes.filter((o): o is Extract<StepOutcome, { status: "retry" }> => o.status === "retry");
    if (retries.length) {
      const rows = await this.#rows<{ run_id: string; id: string; queue: string; ready_at: number }>(tx.db, this.#sql.scheduleRetries, [
        retries.map((o) => o.runId), retries.map((o) => o.stepId), retries.map((o) => o.token), retries.map((o) => o.readyAt),
        retries.map((o) => JSON.stringify(o.error)), retries.map((o) => o.error.code), retries.map((o) => o.now),
      ]);
      for (const row of rows) {
        results.set(key(row.run_id, row.id), APPLIED);
        if (row.ready_at <= now) tx.notify.add(Payload.ready);
        else tx.notify.add(Payload.due(row.ready_at));
      }
    }
    const failures = outcomes.filter((o): o is Extract<StepOutcome, { status: "failed" }> => o.status === "failed");
    if (failures.length) {
      for (const row of await this.#markFailed(tx.db, failures.map((o) => ({ lease: o, error: o.error })))) {
        results.set(key(row.run_id, row.id), APPLIED);
        failed.push({ runId: row.run_id, stepId: row.id });
        queues.add(row.queue);
      }
    }

    const finished = failed.map((f) => ({ ...f, status: "failed" as const }));
    if (finished.length) await this.#propagate(tx, finished, now);
    for (const s of finished) finishedRuns.add(s.runId);
    await this.#finishRunsIfDone(tx, finishedRuns, now);
    // A finished step frees a slot of its queue: workers elsewhere waiting on a
    // queue limit may claim now.
    if (!tx.notify.has(Payload.ready) && queues.size) {
      const [row] = await this.#rows<{ any: boolean }>(tx.db, this.#sql.anyReadyIn, [[...queues], now]);
      if (row?.any) tx.notify.add(Payload.ready);
    }
    return given.map((o) => results.get(key(o.runId, o.stepId)) ?? STALE);
  }

  /**
   * Wait outcomes (see `WaitOutcome`): their rows are locked first (fenced by
   * lease), then each looks for its signal or child run. Returns the outcomes
   * they turn into (a consumed signal: success; a timed-out one: failure); the
   * others are written here (ready again, or parked) and marked applied.
   */
  async #applyWaits(tx: Tx, waits: (LeaseRef & { now: number } & WaitOutcome)[], results: Map<string, CompletionResult>): Promise<StepOutcome[]> {
    const { db } = tx;
    const locked = await this.#rows<{ run_id: string; id: string }>(db, this.#sql.lockWaits, [
      waits.map((w) => w.runId), waits.map((w) => w.stepId), waits.map((w) => w.token), waits.map((w) => w.now),
    ]);
    const held = new Set(locked.map((l) => key(l.run_id, l.id)));
    const turned: StepOutcome[] = [];
    const rest: typeof waits = [];
    for (const w of waits) {
      if (!held.has(key(w.runId, w.stepId))) continue; // stale
      const lease = { runId: w.runId, stepId: w.stepId, token: w.token, now: w.now };
      if (w.consume) {
        const [signal] = await this.#rows<{ payload: string }>(db, this.#sql.consumeSignal, [w.runId, w.consume.name, w.stepId, w.now]);
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
      for (const r of await this.#rows<{ id: string; status: RunStatus }>(db, this.#sql.runStatuses, [children])) {
        if ((FINISHED_RUN_STATUSES as readonly string[]).includes(r.status)) finishedChildren.add(r.id);
      }
    }
    const ready = rest.filter((w) => w.childRunId !== undefined && finishedChildren.has(w.childRunId));
    const park = rest.filter((w) => !(w.childRunId !== undefined && finishedChildren.has(w.childRunId)));
    if (ready.length) {
      const rows = await this.#rows<{ run_id: string; id: string }>(db, this.#sql.readyWaits, [
        ready.map((w) => w.runId), ready.map((w) => w.stepId), ready.map((w) => w.token), ready.map((w) => w.now),
      ]);
      for (const r of rows) results.set(key(r.run_id, r.id), APPLIED);
      if (rows.length) tx.notify.add(Payload.ready);
    }
    if (park.length) {
      const rows = await this.#rows<{ run_id: string; id: string; wake_at: number | null }>(db, this.#sql.parkWaits, [
        park.map((w) => w.runId), park.map((w) => w.stepId), park.map((w) => w.token), park.map((w) => w.wakeAt ?? null), park.map((w) => w.now),
      ]);
      for (const r of rows) {
        results.set(key(r.run_id, r.id), APPLIED);
        if (r.wake_at !== null) tx.notify.add(Payload.due(r.wake_at));
      }
    }
    return turned;
  }

  async #markSucceeded(db: Db, outcomes: Extract<StepOutcome, { status: "succeeded" }>[]) {
    return this.#rows<{ run_id: string; id: string; queue: string }>(db, this.#sql.markSucceeded, [
      outcomes.map((o) => o.runId), outcomes.map((o) => o.stepId), outcomes.map((o) => o.token),
      outcomes.map((o) => o.result), outcomes.map((o) => o.records ?? null), outcomes.map((o) => o.now),
    ]);
  }

  async #markFailed(db: Db, failures: { lease: LeaseRef & { now: number }; error: StepErrorRecord }[]) {
    return this.#rows<{ run_id: string; id: string; queue: string }>(db, this.#sql.markFailed, [
      failures.map((f) => f.lease.runId), failures.map((f) => f.lease.stepId), failures.map((f) => f.lease.token),
      failures.map((f) => JSON.stringify(f.error)), failures.map((f) => f.error.code), failures.map((f) => f.lease.now),
    ]);
  }

  /**
   * A success that writes artifacts or emits steps, inside a savepoint: a graph
   * conflict in what it emits undoes the success, and the step fails instead.
   */
  async #succeedWithOutputs(tx: Tx, o: Extract<StepOutcome, { status: "succeeded" }>, queues: Set<string>): Promise<CompletionResult> {
    const { db } = tx;
    await db.query("SAVEPOINT outputs");
    try {
      const [row] = await this.#markSucceeded(db, [o]);
      if (!row) {
        await db.query("RELEASE SAVEPOINT outputs");
        return STALE;
      }
      queues.add(row.queue);
      if (o.artifacts.length) await this.#insertArtifacts(db, o.runId, o.stepId, o.artifacts, o.now);
      // Its dependents first: then the steps it emits find it succeeded, and an
      // edge from one of them back to it is satisfied once, when it is planned.
      await this.#propagate(tx, [{ runId: o.runId, stepId: o.stepId, status: "succeeded" }], o.now);
      const created = await this.#insertSteps(tx, o.runId, o.emitted, o.now, o.stepId);
      await this.#query(db, this.#sql.setEmittedAndArtifacts, [
        created.length ? JSON.stringify(created) : null, o.artifacts.length > 0, o.runId, o.stepId,
      ]);
      await db.query("RELEASE SAVEPOINT outputs");
      return APPLIED;
    } catch (err) {
      if (!isWorkflowError(err) || !GRAPH_CONFLICTS.has(err.code)) throw err;
      await db.query("ROLLBACK TO SAVEPOINT outputs");
      const error: StepErrorRecord = { code: err.code, message: err.message, retryable: false, occurredAt: o.now };
      const [row] = await this.#markFailed(db, [{ lease: o, error }]);
      if (!row) return STALE;
      queues.add(row.queue);
      return { status: "rejected", error };
    }
  }

  async #insertArtifacts(db: Db, runId: string, stepId: string, artifacts: ArtifactRecord[], now: number): Promise<void> {
    const taken = await this.#rows<{ id: string }>(db, this.#sql.artifactIdsTaken, [runId, artifacts.map((a) => a.id)]);
    if (taken[0]) throw new WorkflowError(ErrorCodes.duplicateArtifact, `artifact id "${taken[0].id}" is already used in run "${runId}"`);
    await this.#query(db, this.#sql.insertArtifacts, [
      runId, stepId, artifacts.map((a) => a.id), artifacts.map((a) => a.name), artifacts.map((a) => a.kind),
      artifacts.map((a) => a.contentType), artifacts.map((a) => JSON.stringify(a.metadata)), artifacts.map((a) => a.uri ?? null),
      artifacts.map((a) => a.size), artifacts.map((a) => Buffer.from(a.body.buffer, a.body.byteOffset, a.body.byteLength)), now,
    ]);
  }

  /** Inserts steps into an existing run (its lock held); returns the ids created. */
  async #insertSteps(tx: Tx, runId: string, steps: NewStep[], now: number, parentId: string | undefined): Promise<string[]> {
    const keys = steps.flatMap((s) => (s.dedupKey === undefined ? [] : [s.dedupKey]));
    const ids = new Set<string>();
    for (const s of steps) {
      ids.add(s.id);
      for (const d of s.dependsOn) ids.add(d.stepId);
    }
    const known = await this.#rows<{ id: string; status: StepStatus; dedup_key: string | null }>(tx.db, this.#sql.stepsByIdsOrKeys, [runId, [...ids], keys]);
    const statusOf = new Map(known.map((k) => [k.id, k.status]));
    const holderOf = new Map(known.filter((k) => k.dedup_key !== null).map((k) => [k.dedup_key as string, k.id]));
    const planned = planSteps(runId, steps, { statusOf: (id) => statusOf.get(id), holderOf: (k) => holderOf.get(k) });
    const rows = newStepRows();
    addStepRows(rows, runId, planned, now, parentId);
    if (await this.#insertStepRows(tx.db, rows)) tx.notify.add(Payload.ready);
    const skipped = planned.filter((p) => p.status === "skipped");
    if (skipped.length) await this.#propagate(tx, skipped.map((p) => ({ runId, stepId: p.step.id, status: "skipped" as const })), now);
    return planned.map((p) => p.step.id);
  }

  /** Writes planned steps and their edges; returns whether any step is ready. */
  async #insertStepRows(db: Db, rows: StepRows): Promise<boolean> {
    if (rows.id.length === 0) return false;
    await this.#query(db, this.#sql.insertSteps, stepRowValues(rows));
    if (rows.edgeRun.length) await this.#query(db, this.#sql.insertEdges, edgeRowValues(rows));
    return rows.status.includes("ready");
  }

  /**
   * Tells the dependents of steps that just finished (see `edgeState`):
   * satisfied edges count down, violated ones skip the dependent, and skips
   * cascade, one level per round trip.
   */
  async #propagate(tx: Tx, finished: { runId: string; stepId: string; status: StepStatus }[], now: number): Promise<void> {
    for (let level = finished; level.length > 0; ) {
      const statusOf = new Map(level.map((f) => [key(f.runId, f.stepId), f.status]));
      const edges = await this.#rows<{ run_id: string; dep_id: string; step_id: string; on_state: DependencyOn }>(tx.db, this.#sql.dependentsOf, [
        level.map((f) => f.runId), level.map((f) => f.stepId),
      ]);
      const satisfied = new Map<string, { runId: string; stepId: string; n: number }>();
      const violated = new Map<string, { runId: string; stepId: string }>();
      for (const e of edges) {
        const verdict = edgeState(statusOf.get(key(e.run_id, e.dep_id)) as StepStatus, e.on_state);
        const k = key(e.run_id, e.step_id);
        if (verdict === "violated") violated.set(k, { runId: e.run_id, stepId: e.step_id });
        else if (verdict === "satisfied") {
          const s = satisfied.get(k);
          if (s) s.n++;
          else satisfied.set(k, { runId: e.run_id, stepId: e.step_id, n: 1 });
        }
      }
      // A step skipped by one edge is not counted down by another.
      for (const k of violated.keys()) satisfied.delete(k);
      // Dependents made ready before those skipped (the event log tells them in that order).
      if (satisfied.size) {
        const s = [...satisfied.values()];
        const ready = await this.#rows<{ ready: boolean }>(tx.db, this.#sql.decrementWaiting, [s.map((x) => x.runId), s.map((x) => x.stepId), s.map((x) => x.n), now]);
        if (ready.some((r) => r.ready)) tx.notify.add(Payload.ready);
      }
      let next: { runId: string; stepId: string; status: StepStatus }[] = [];
      if (violated.size) {
        const v = [...violated.values()];
        const skipped = await this.#rows<{ run_id: string; id: string }>(tx.db, this.#sql.skipSteps, [v.map((x) => x.runId), v.map((x) => x.stepId), now]);
        next = skipped.map((r) => ({ runId: r.run_id, stepId: r.id, status: "skipped" as const }));
      }
      level = next;
    }
  }

  /** Finishes the runs among `runIds` that have no unfinished step left (their locks held), and wakes their parents. */
  async #finishRunsIfDone(tx: Tx, runIds: Set<string>, now: number): Promise<void> {
    if (runIds.size === 0) return;
    const done = await this.#rows<{ id: string; failed: boolean; canceled: boolean }>(tx.db, this.#sql.finishableRuns, [[...runIds]]);
    if (done.length === 0) return;
    const finished = await this.#rows<{ id: string; parent_run_id: string | null }>(tx.db, this.#sql.finishRuns, [
      done.map((d) => d.id), done.map((d) => finishedRunStatus(d.failed, d.canceled)), now,
    ]);
    await this.#wakeParents(tx, finished.filter((f) => f.parent_run_id !== null).map((f) => f.id), now);
  }

  /**
   * Child runs that just finished: their parents' waiting steps become ready.
   * Row locks only (no advisory lock of the parent run: a cancel holding it
   * waits for ours); see `wakeParents`.
   */
  async #wakeParents(tx: Tx, childRunIds: string[], now: number): Promise<void> {
    if (childRunIds.length === 0) return;
    const woke = await this.#rows<{ ready: boolean }>(tx.db, this.#sql.wakeParents, [childRunIds, now]);
    if (woke.some((w) => w.ready)) tx.notify.add(Payload.ready);
  }

  async heartbeat(leases: LeaseRef[], expiresAt: number, now: number): Promise<LeaseRef[]> {
    if (leases.length === 0) return [];
    const held = await this.#rows<{ run_id: string; id: string; token: string }>(this.#pool, this.#sql.heartbeat, [
      leases.map((l) => l.runId), leases.map((l) => l.stepId), leases.map((l) => l.token), expiresAt, now,
    ]);
    const still = new Set(held.map((h) => h.token));
    return leases.filter((l) => !still.has(l.token));
  }

  async release(leases: LeaseRef[], now: number): Promise<void> {
    if (leases.length === 0) return;
    await this.#tx(
      { runs: leases.map((l) => l.runId) },
      async (tx) => {
        const released = await this.#rows(tx.db, this.#sql.releaseLeases, [
          leases.map((l) => l.runId), leases.map((l) => l.stepId), leases.map((l) => l.token), now,
        ]);
        if (released.length) tx.notify.add(Payload.ready);
      },
    );
  }

  async reclaimExpired(now: number, maxReclaims: number): Promise<ReclaimResult> {
    // A read-only probe first: idle processes poll this.
    const [probe] = await this.#rows(this.#pool, this.#sql.anyExpired, [now]);
    if (!probe) return { reclaimed: 0, failed: 0 };
    const reclaimed = await this.#write(async (db) => (await this.#query(db, this.#sql.reclaim, [now, maxReclaims])).rowCount ?? 0);
    if (reclaimed) await this.#notify([Payload.ready]);
    const doomed = await this.#rows<{ run_id: string; id: string; reclaims: number }>(this.#pool, this.#sql.overReclaimed, [now, maxReclaims]);
    if (doomed.length === 0) return { reclaimed, failed: 0 };
    const failed = await this.#tx(
      { runs: doomed.map((d) => d.run_id) },
      async (tx) => {
        const expired = await this.#rows<{ run_id: string; id: string; reclaims: number }>(tx.db, this.#sql.expireSteps, [
          doomed.map((d) => d.run_id), doomed.map((d) => d.id), now, maxReclaims, ErrorCodes.leaseExpired,
        ]);
        await this.#propagate(tx, expired.map((e) => ({ runId: e.run_id, stepId: e.id, status: "failed" as const })), now);
        await this.#finishRunsIfDone(tx, new Set(expired.map((e) => e.run_id)), now);
        return expired.length;
      },
    );
    return { reclaimed, failed };
  }

  async getRun(runId: string): Promise<RunRecord | undefined> {
    const [row] = await this.#rows<RunRow>(this.#pool, this.#sql.getRun, [runId]);
    return row && toRun(row);
  }

  async listRuns(query: ListRunsQuery): Promise<RunRecord[]> {
    let afterSeq: number | undefined;
    if (query.after !== undefined) {
      const [after] = await this.#rows<{ seq: number }>(this.#pool, this.#sql.runSeq, [query.after]);
      if (!after) throw new WorkflowError(ErrorCodes.notFound, `listRuns: no run "${query.after}" to page after`);
      afterSeq = after.seq;
    }
    const { text, values } = listRunsQuery(this.#schema, query, afterSeq);
    return (await this.#rows<RunRow>(this.#pool, text, values)).map(toRun);
  }

  async getSteps(runId: string): Promise<StepRecord[]> {
    return this.#stepsOf(this.#pool, runId);
  }

  async #stepsOf(db: pg.Pool | Db, runId: string): Promise<StepRecord[]> {
    const deps = dependenciesByStep(await this.#rows<EdgeRow>(db, this.#sql.edgesOfRun, [runId]));
    return (await this.#rows<StepRow>(db, this.#sql.stepsOfRun, [runId])).map((row) => toStep(row, deps.get(row.id) ?? []));
  }

  async getResult(runId: string, stepId: string): Promise<ResultRecord | undefined> {
    const [row] = await this.#rows<OutcomeRow & { has_artifacts: boolean }>(this.#pool, this.#sql.result, [runId, stepId]);
    if (!row) return undefined;
    const artifacts =
      row.has_artifacts && row.status === "succeeded" ? (await this.#rows<ArtifactRow>(this.#pool, this.#sql.artifactsOfStep, [runId, stepId])).map(toArtifact) : [];
    return toResultRecord(stepId, row, artifacts);
  }

  async readArtifact(runId: string, artifactId: string): Promise<{ artifact: StoredArtifact; body: Uint8Array } | undefined> {
    const [row] = await this.#rows<ArtifactRow & { body: Buffer }>(this.#pool, this.#sql.artifact, [runId, artifactId]);
    return row && { artifact: toArtifact(row), body: new Uint8Array(row.body) };
  }

  async retryStep(runId: string, stepId: string, now: number): Promise<void> {
    await this.#tx({ runs: [runId] }, (tx) => this.#retryStep(tx, runId, stepId, now));
  }

  /**
   * The run and its unfinished descendants, canceled together. Every run lock is
   * taken before anything is written: the descendants are read first, all the
   * locks taken in the one sorted order every transaction uses, and the
   * descendants read again (a child started meanwhile is locked too).
   */
  async cancelRun(runId: string, now: number): Promise<string[]> {
    const before = (await this.#rows<{ id: string }>(this.#pool, this.#sql.descendants, [runId])).map((d) => d.id);
    return this.#tx({ runs: [runId, ...before] }, async (tx) => {
      const [run] = await this.#rows<RunRow & { status: RunStatus }>(tx.db, this.#sql.getRun, [runId]);
      assertRunAccepts("cancel", runId, run);
      const descendants = (await this.#rows<{ id: string }>(tx.db, this.#sql.descendants, [runId])).map((d) => d.id);
      const late = descendants.filter((id) => !before.includes(id));
      if (late.length) await this.#lockRuns(tx.db, late);
      const ids = [runId, ...descendants];
      await this.#query(tx.db, this.#sql.insertEvent, [runId, now, "operator_cancel", null]);
      await this.#query(tx.db, this.#sql.cancelSteps, [ids, now]);
      const canceled = await this.#rows<{ id: string; parent_run_id: string | null }>(tx.db, this.#sql.cancelRuns, [ids, now]);
      await this.#wakeParents(tx, canceled.filter((c) => c.parent_run_id !== null).map((c) => c.id), now);
      // Workers running their steps in other processes abort them; slots free up.
      for (const id of ids) tx.notify.add(Payload.canceled(id));
      tx.notify.add(Payload.ready);
      return ids;
    });
  }

  async #lockRuns(db: Db, runIds: string[]): Promise<void> {
    await db.query(lockRunsSql(db, this.#lockKeys.runs, runIds));
  }

  async wakeDue(now: number): Promise<number> {
    // A read-only probe first: the engine calls this at every due time.
    const [probe] = await this.#rows(this.#pool, this.#sql.anyDue, [now]);
    if (!probe) return 0;
    const woke = await this.#write(async (db) => (await this.#query(db, this.#sql.wakeDue, [now])).rowCount ?? 0);
    if (woke) await this.#notify([Payload.ready]);
    return woke;
  }

  async signal(signal: NewSignal): Promise<{ delivered: boolean }> {
    const { runId, name, id, payload, now } = signal;
    return this.#tx({ runs: [runId] }, async (tx) => {
      const [run] = await this.#rows<RunRow & { status: RunStatus }>(tx.db, this.#sql.getRun, [runId]);
      if (run && !runAccepts("signal", run.status)) {
        // A retried delivery is answered the same way after the run finished.
        const [exists] = await this.#rows(tx.db, this.#sql.signalExists, [runId, id]);
        if (exists) return { delivered: false };
      }
      assertRunAccepts("signal", runId, run);
      const [row] = await this.#rows<{ delivered: boolean; readied: boolean }>(tx.db, this.#sql.signal, [runId, id, name, payload, now]);
      if (row?.readied) tx.notify.add(Payload.ready);
      return { delivered: row?.delivered ?? false };
    });
  }

  async pauseRun(runId: string, now: number): Promise<void> {
    await this.#tx({ runs: [runId] }, async (tx) => {
      const [run] = await this.#rows<RunRow & { status: RunStatus }>(tx.db, this.#sql.getRun, [runId]);
      assertRunAccepts("pause", runId, run);
      await this.#query(tx.db, this.#sql.pauseRun, [runId, now]);
    });
  }

  async resumeRun(runId: string, now: number): Promise<void> {
    await this.#tx({ runs: [runId] }, async (tx) => {
      const [run] = await this.#rows<RunRow & { status: RunStatus }>(tx.db, this.#sql.getRun, [runId]);
      assertRunAccepts("resume", runId, run);
      await this.#query(tx.db, this.#sql.resumeRun, [runId, now]);
      // Its steps may have finished while it was paused.
      await this.#finishRunsIfDone(tx, new Set([runId]), now);
      tx.notify.add(Payload.ready);
    });
  }

  async getEvents(runId: string): Promise<EventRecord[]> {
    return (await this.#rows<EventRow>(this.#pool, this.#sql.eventsOfRun, [runId])).map(toEvent);
  }

  async listFailedSteps(query: FailedStepsQuery): Promise<StepRecord[]> {
    let after: { finished_at: number | null; seq: number } | undefined;
    if (query.after !== undefined) {
      [after] = await this.#rows<{ finished_at: number | null; seq: number }>(this.#pool, this.#sql.failedCursor, [query.after.runId, query.after.stepId]);
      if (!after) throw new WorkflowError(ErrorCodes.notFound, `listFailedSteps: no failed step "${query.after.stepId}" in run "${query.after.runId}" to page after`);
    }
    const { text, values } = failedStepsQuery(this.#schema, query, after);
    const rows = await this.#byAge((db) => this.#rows<StepRow>(db, text, values));
    if (rows.length === 0) return [];
    const edges = await this.#rows<EdgeRow & { run_id: string }>(this.#pool, this.#sql.edgesOfSteps, [rows.map((r) => r.run_id), rows.map((r) => r.id)]);
    const deps = new Map<string, StoredDependency[]>();
    for (const e of edges) {
      const k = key(e.run_id, e.step_id);
      let list = deps.get(k);
      if (!list) deps.set(k, (list = []));
      list.push({ stepId: e.dep_id, on: e.on_state as DependencyOn });
    }
    return rows.map((row) => toStep(row, deps.get(key(row.run_id, row.id)) ?? []));
  }

  /**
   * A read of history in age order (failed steps, finished runs), with sorting
   * disabled: walking the partial index by age (steps_failed, runs_finished) and
   * stopping at the limit is then the plan, even without statistics, instead of
   * reading every row of a status and sorting them.
   */
  async #byAge<T>(read: (db: Db) => Promise<T>): Promise<T> {
    return this.#inTransaction(
      () => "BEGIN READ ONLY; SET LOCAL enable_sort = off",
      async (db) => ({ value: await read(db), commit: "COMMIT" }),
    );
  }

  async purge(finishedBefore: number, statuses: readonly RunStatus[], limit: number): Promise<PurgeResult> {
    if (limit <= 0 || statuses.length === 0) return { runs: 0, storedArtifacts: [] };
    const candidates = (await this.#byAge((db) => this.#rows<{ id: string }>(db, this.#sql.purgeable, [finishedBefore, [...statuses], limit]))).map((r) => r.id);
    if (candidates.length === 0) return { runs: 0, storedArtifacts: [] };
    // Under the runs' locks (an operator retry may be reopening one), rechecked.
    return this.#tx({ runs: candidates }, async (tx) => {
      const [row] = await this.#rows<{ n: number; stored: string[] }>(tx.db, this.#sql.purge, [candidates, finishedBefore, [...statuses]]);
      return { runs: row?.n ?? 0, storedArtifacts: row?.stored ?? [] };
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#listener.close();
    if (this.#ownsPool) await this.#pool.end();
  }

  // ---- operator retry ---------------------------------------------------------

  async #retryStep(tx: Tx, runId: string, stepId: string, now: number): Promise<void> {
    const { db } = tx;
    const [run] = await this.#rows<RunRow>(db, this.#sql.getRun, [runId]);
    if (!run) throw new WorkflowError(ErrorCodes.notFound, `no run "${runId}"`);
    const plan = planRetry(runId, stepId, await this.#stepsOf(db, runId));
    await this.#query(db, this.#sql.insertEvent, [runId, now, "operator_retry", stepId]);
    const { revived, skippedAgain } = plan;
    await this.#query(db, this.#sql.reviveSteps, [runId, revived.map((u) => u.id), revived.map((u) => u.status), revived.map((u) => u.waiting), now]);
    if (skippedAgain.length) {
      const skipped = await this.#rows<{ run_id: string; id: string }>(db, this.#sql.skipSteps, [skippedAgain.map(() => runId), skippedAgain, now]);
      await this.#propagate(tx, skipped.map((r) => ({ runId, stepId: r.id, status: "skipped" as const })), now);
    }
    await this.#query(db, this.#sql.reopenRun, [runId, now]);
    tx.notify.add(Payload.ready);
  }

  // ---- step counts (added last: the counts behind the queue gauges and rt.stats) ----

  async countSteps(): Promise<StepCount[]> {
    return foldStepCounts(await this.#rows<{ queue: string; status: string; n: number }>(this.#pool, stepCountsSql(`${quoteIdent(this.#schema)}.steps`)));
  }
}


/** [dep_id, on_state, [status, result, records, emitted_ids, error, completed_at] | null] */
type DependencyCell = [string, DependencyOn, [string, string | null, string | null, string | null, string | null, number | null] | null];

function prefetchedResults(deps: DependencyCell[]): Map<string, ResultRecord> | undefined {
  let results: Map<string, ResultRecord> | undefined;
  for (const [stepId, , outcome] of deps) {
    if (!outcome) continue;
    const [status, result, records, emitted_ids, error, completed_at] = outcome;
    const record = toResultRecord(stepId, { status, result, records, emitted_ids, error, completed_at }, []);
    if (record) (results ??= new Map()).set(stepId, record);
  }
  return results;
}

const DEFAULT_QUEUE = "default";

/** [queue, priority, first claimable ready_at, its seq, next future ready_at] of one (queue, priority) with ready steps. */
type HeadCell = [string, number, number | null, number | null, number | null];

/** A queue with ready steps: its first claimable one, if any. */
interface QueueScan {
  queue: string;
  head?: ClaimOrder;
}


/** A place in claim order: higher priority first, then readiness, then insertion. */
interface ClaimOrder {
  priority: number;
  readyAt: number;
  seq: number;
}

/** A step just claimed, with its place in claim order. */
interface Claimed extends ClaimOrder {
  claimed: ClaimedStep;
}

const byReadiness = (a: ClaimOrder, b: ClaimOrder) => b.priority - a.priority || a.readyAt - b.readyAt || a.seq - b.seq;

/** Code-unit order, the same in JS and for the lock order (which sorts hashes anyway). */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
