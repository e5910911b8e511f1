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
 * How it stays fast (see shared/LIMITS.md): claims and completions are batched
 * by the engine and written set-wise (array parameters, `= ANY(ARRAY(...))`,
 * shapes whose plan cannot go bad; see `statements.ts`), so a batch costs a
 * handful of round trips whatever its size: a start is one statement, the
 * default queue's claim is one, a batch of plain successes is three (lock,
 * write, commit).
 *
 * Wake-ups: writes that make work ready (or due, or canceled) `NOTIFY` the
 * schema's channel in their transaction; every process LISTENs (see `Listener`).
 *
 * Around it: `statements.ts` (the SQL), `connection.ts` (clients, type parsing,
 * prepared names), `arrays.ts` (array parameters), `step-rows.ts` (steps as
 * column arrays), `migrations.ts`, `listener.ts`.
 */
import type pg from "pg";
import { ErrorCodes, WorkflowError, isWorkflowError } from "../../errors.js";
import type { StepStatus } from "../../types.js";
import { edgeState, finishedRunStatus, nextTokenAt, refillTokens } from "../graph-rules.js";
import { type ArtifactRow, dependenciesByStep, type EdgeRow, type OutcomeRow, type RunRow, type StepRow, toArtifact, toClaimedStep, toResultRecord, toRun, toStep } from "../rows.js";
import { NO_STEPS, planSteps } from "../step-plan.js";
import type {
  ArtifactRecord,
  ClaimRequest,
  ClaimResult,
  ClaimedStep,
  CompletionResult,
  QueuePolicy,
  LeaseRef,
  ListRunsQuery,
  NewRun,
  NewStep,
  ReclaimResult,
  ResultRecord,
  RunRecord,
  StepErrorRecord,
  StepOutcome,
  StepRecord,
  Store,
  StoreEvent,
  StoredArtifact,
} from "../store.js";
import { encodeParams } from "./arrays.js";
import { checkout, type Db, literalArray, preparedName, type Sql, TYPES } from "./connection.js";
import { Listener, Payload } from "./listener.js";
import { migrate, quoteIdent } from "./migrations.js";
import { CLAIM_DEPS, CLAIM_READY_AT, CLAIM_SEQ, CLAIM_TOKEN, statements } from "./statements.js";
import { addStepRows, newStepRows, type StepRows, stepRowValues } from "./step-rows.js";

export interface PostgresStoreOptions {
  pool: pg.Pool;
  /** Ours to end at close (we created it from a connection string). */
  ownsPool: boolean;
  schema: string;
}

const APPLIED: CompletionResult = Object.freeze({ status: "applied" });
const STALE: CompletionResult = Object.freeze({ status: "stale" });

/** Codes that turn a step's success into a permanent failure instead of failing the batch. */
const GRAPH_CONFLICTS: ReadonlySet<string> = new Set([
  ErrorCodes.duplicateStep,
  ErrorCodes.unknownDependency,
  ErrorCodes.duplicateArtifact,
]);

const key = (runId: string, stepId: string) => `${runId}\u0000${stepId}`;

/** A transaction in progress: notifications are sent with its COMMIT. */
interface Tx {
  db: Db;
  notify: Set<string>;
}

export async function openPostgresStore(options: PostgresStoreOptions): Promise<PostgresStore> {
  const client = await checkout(options.pool);
  let keys: { runs: number; queues: number };
  try {
    await migrate(client, options.schema, Date.now());
    const { rows } = await client.query<{ runs: number; queues: number }>(
      "SELECT hashtext($1) AS runs, hashtext($2) AS queues",
      [`trellis:run:${options.schema}`, `trellis:queue:${options.schema}`],
    );
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

  constructor(options: PostgresStoreOptions, lockKeys: { runs: number; queues: number }) {
    this.#pool = options.pool;
    this.#ownsPool = options.ownsPool;
    this.#schema = options.schema;
    this.#channel = `trellis.${options.schema}`;
    this.#lockKeys = lockKeys;
    this.#sql = statements(quoteIdent(options.schema));
    this.#listener = new Listener(
      () => this.#pool.connect(),
      this.#channel,
      () => undefined, // a lost LISTEN costs latency, not correctness: the poll is the backstop
    );
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
    const db = await checkout(this.#pool);
    const tx: Tx = { db, notify: new Set() };
    let broken: Error | undefined;
    try {
      let begin = "BEGIN";
      const runIds = [...new Set(locks.runs ?? [])];
      if (runIds.length > 0) {
        begin += `; SELECT pg_advisory_xact_lock(${this.#lockKeys.runs}, h)
          FROM (SELECT DISTINCT hashtext(id) AS h FROM unnest(${literalArray(db, runIds)}::text[]) AS id ORDER BY h) AS l`;
      }
      if (locks.queue !== undefined) begin += `; SELECT pg_advisory_xact_lock(${this.#lockKeys.queues}, hashtext(${db.escapeLiteral(locks.queue)}))`;
      await db.query(begin);
      const result = await fn(tx);
      const notify = [...tx.notify].map((p) => `SELECT pg_notify(${db.escapeLiteral(this.#channel)}, ${db.escapeLiteral(p)}); `).join("");
      await db.query(`${notify}COMMIT`);
      return result;
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
    await this.#query(this.#pool, "SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p", [this.#channel, payloads]);
  }

  // ---- commands -------------------------------------------------------------

  /**
   * One statement (one round trip, one commit): the runs, the steps of those
   * actually inserted, their edges, and a NOTIFY if a step is ready. A run id
   * that exists already inserts nothing; it is read back afterwards.
   */
  async createRuns(runs: NewRun[]): Promise<{ created: boolean; run: RunRecord }[]> {
    if (runs.length === 0) return [];
    // A run id twice in one batch: the first one wins, like a race between two calls.
    const first = new Map<string, NewRun>();
    for (const r of runs) if (!first.has(r.run.id)) first.set(r.run.id, r);
    // Inserted in id order: two processes creating overlapping batches wait for
    // each other in one order instead of deadlocking.
    const unique = [...first.values()].sort((a, b) => compare(a.run.id, b.run.id));
    const rows = newStepRows();
    for (const { run, steps } of unique) addStepRows(rows, run.id, planSteps(run.id, steps, NO_STEPS), run.createdAt, undefined);
    const r = unique.map((x) => x.run);
    const [result] = await this.#rows<{ created: string[] }>(this.#pool, { prepared: this.#sql.createRuns }, [
      r.map((x) => x.id), r.map((x) => x.package), r.map((x) => x.name), r.map((x) => x.status), r.map((x) => x.input),
      r.map((x) => JSON.stringify(x.metadata)), r.map((x) => x.createdAt), r.map((x) => x.updatedAt),
      ...stepRowValues(rows), rows.edgeRun, rows.edgeDep, rows.edgeStep, rows.edgeRequired, this.#channel, Payload.ready,
    ]);
    const created = new Set(result?.created ?? []);
    const existing = new Map<string, RunRecord>();
    const missing = r.filter((x) => !created.has(x.id)).map((x) => x.id);
    if (missing.length) {
      for (const row of await this.#rows<RunRow>(this.#pool, this.#sql.runsByIds, [missing])) existing.set(row.id, toRun(row));
    }
    return runs.map(({ run }) => {
      if (first.get(run.id)?.run === run && created.has(run.id)) return { created: true, run };
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
    const { now } = request;
    let nextDueAt: number | undefined;
    const due = (t: number | null | undefined) => {
      if (t !== null && t !== undefined && (nextDueAt === undefined || t < nextDueAt)) nextDueAt = t;
    };
    const steps: Claimed[] = [];
    let others: QueueScan[];
    if (isUnlimited(request.policyFor(DEFAULT_QUEUE))) {
      // Other queues waiting last time get half of the batch: a backlog in the
      // default queue must not starve them.
      const limit = this.#othersWaiting ? Math.ceil(request.limit / 2) : request.limit;
      const { rows } = await this.#pool.query<unknown[]>({
        text: this.#sql.claimDefault,
        name: preparedName(this.#sql.claimDefault),
        values: [request.workerId, now, now + request.leaseDuration, DEFAULT_QUEUE, limit],
        types: TYPES,
        rowMode: "array",
      });
      const [head] = rows;
      others = (head?.[0] ?? []) as QueueScan[];
      due(head?.[1] as number | null);
      due(head?.[2] as number | null);
      if (head?.[3] !== null && head?.[3] !== undefined) steps.push(...this.#toClaimed(rows.map((row) => row.slice(3)), request));
    } else {
      const [head] = await this.#rows<{ lease_min: number | null; queues: QueueScan[] | null }>(this.#pool, this.#sql.readyQueues, [now]);
      due(head?.lease_min);
      others = head?.queues ?? [];
    }
    // Oldest work first across queues (readiness, then insertion order).
    others.sort((a, b) => a[1] - b[1] || a[2] - b[2]);
    this.#othersWaiting = others.some(([, oldest]) => oldest <= now);
    for (const [queue, oldest, , next] of others) {
      due(next);
      const remaining = request.limit - steps.length;
      if (remaining <= 0 || oldest > now) continue;
      const policy = request.policyFor(queue);
      if (isUnlimited(policy)) steps.push(...(await this.#claimFrom(this.#pool, queue, remaining, request)));
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
      const step = toClaimedStep(row, lease, () => deps.map(([stepId, required]) => ({ stepId, required })));
      const results = prefetchedResults(deps);
      if (results) step.dependencyResults = results;
      return {
        claimed: step,
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

  async #complete(tx: Tx, outcomes: StepOutcome[]): Promise<CompletionResult[]> {
    const results = new Map<string, CompletionResult>();
    const now = Math.max(...outcomes.map((o) => o.now));
    const succeeded: { runId: string; stepId: string }[] = [];
    const failed: { runId: string; stepId: string }[] = [];
    const finishedRuns = new Set<string>();
    const queues = new Set<string>();

    // Plain successes (most of them) go in one statement that also readies their
    // dependents and finishes their runs; the rest below, one kind at a time.
    const simple = outcomes.filter((o): o is Extract<StepOutcome, { status: "succeeded" }> => o.status === "succeeded" && o.emitted.length === 0 && o.artifacts.length === 0);
    if (simple.length) {
      const [row] = await this.#rows<{ run_ids: string[]; ids: string[]; readied: boolean; more: boolean }>(tx.db, { prepared: this.#sql.succeedPlain }, [
        simple.map((o) => o.runId), simple.map((o) => o.stepId), simple.map((o) => o.token),
        simple.map((o) => o.result), simple.map((o) => o.records ?? null), simple.map((o) => o.now), now,
      ]);
      if (row) {
        row.run_ids.forEach((runId, i) => results.set(key(runId, row.ids[i] as string), APPLIED));
        if (row.readied || row.more) tx.notify.add(Payload.ready);
      }
    }
    for (const o of outcomes) {
      if (o.status !== "succeeded" || (o.emitted.length === 0 && o.artifacts.length === 0)) continue;
      const result = await this.#succeedWithOutputs(tx, o, queues);
      results.set(key(o.runId, o.stepId), result);
      if (result.status === "applied") succeeded.push({ runId: o.runId, stepId: o.stepId });
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

    if (succeeded.length) {
      const ready = await this.#rows<{ ready: boolean }>(tx.db, this.#sql.satisfyDependents, [
        succeeded.map((s) => s.runId), succeeded.map((s) => s.stepId), now,
      ]);
      if (ready.some((r) => r.ready)) tx.notify.add(Payload.ready);
    }
    if (failed.length) await this.#propagate(tx, failed.map((f) => ({ ...f, status: "failed" as const })), now);
    for (const s of [...succeeded, ...failed]) finishedRuns.add(s.runId);
    await this.#finishRunsIfDone(tx.db, finishedRuns, now);
    // A finished step frees a slot of its queue: workers elsewhere waiting on a
    // queue limit may claim now.
    if (!tx.notify.has(Payload.ready) && queues.size) {
      const [row] = await this.#rows<{ any: boolean }>(tx.db, this.#sql.anyReadyIn, [[...queues], now]);
      if (row?.any) tx.notify.add(Payload.ready);
    }
    return outcomes.map((o) => results.get(key(o.runId, o.stepId)) ?? STALE);
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
    if (rows.edgeRun.length) await this.#query(db, this.#sql.insertEdges, [rows.edgeRun, rows.edgeDep, rows.edgeStep, rows.edgeRequired]);
    return rows.status.includes("ready");
  }

  /**
   * Tells the dependents of steps that finished without succeeding (failed,
   * skipped, canceled): optional edges are satisfied, required ones skip the
   * dependent, and skips cascade, one level per round trip.
   */
  async #propagate(tx: Tx, finished: { runId: string; stepId: string; status: StepStatus }[], now: number): Promise<void> {
    for (let level = finished; level.length > 0; ) {
      const statusOf = new Map(level.map((f) => [key(f.runId, f.stepId), f.status]));
      const edges = await this.#rows<{ run_id: string; dep_id: string; step_id: string; required: boolean }>(tx.db, this.#sql.dependentsOf, [
        level.map((f) => f.runId), level.map((f) => f.stepId),
      ]);
      const satisfied = new Map<string, { runId: string; stepId: string; n: number }>();
      const violated = new Map<string, { runId: string; stepId: string }>();
      for (const e of edges) {
        const verdict = edgeState(statusOf.get(key(e.run_id, e.dep_id)) as StepStatus, e.required);
        const k = key(e.run_id, e.step_id);
        if (verdict === "violated") violated.set(k, { runId: e.run_id, stepId: e.step_id });
        else if (verdict === "satisfied") {
          const s = satisfied.get(k);
          if (s) s.n++;
          else satisfied.set(k, { runId: e.run_id, stepId: e.step_id, n: 1 });
        }
      }
      let next: { runId: string; stepId: string; status: StepStatus }[] = [];
      if (violated.size) {
        const v = [...violated.values()];
        const skipped = await this.#rows<{ run_id: string; id: string }>(tx.db, this.#sql.skipSteps, [v.map((x) => x.runId), v.map((x) => x.stepId), now]);
        next = skipped.map((r) => ({ runId: r.run_id, stepId: r.id, status: "skipped" as const }));
      }
      if (satisfied.size) {
        const s = [...satisfied.values()];
        const ready = await this.#rows<{ ready: boolean }>(tx.db, this.#sql.decrementWaiting, [s.map((x) => x.runId), s.map((x) => x.stepId), s.map((x) => x.n), now]);
        if (ready.some((r) => r.ready)) tx.notify.add(Payload.ready);
      }
      level = next;
    }
  }

  /** Finishes the runs among `runIds` that have no unfinished step left (their locks held). */
  async #finishRunsIfDone(db: Db, runIds: Set<string>, now: number): Promise<void> {
    if (runIds.size === 0) return;
    const done = await this.#rows<{ id: string; failed: boolean; canceled: boolean }>(db, this.#sql.finishableRuns, [[...runIds]]);
    if (done.length === 0) return;
    await this.#query(db, this.#sql.finishRuns, [done.map((d) => d.id), done.map((d) => finishedRunStatus(d.failed, d.canceled)), now]);
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
    const reclaimed = (await this.#query(this.#pool, this.#sql.reclaim, [now, maxReclaims])).rowCount ?? 0;
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
        await this.#finishRunsIfDone(tx.db, new Set(expired.map((e) => e.run_id)), now);
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
    const where: string[] = [];
    const args: unknown[] = [];
    if (query.status !== undefined) {
      args.push(query.status);
      where.push(`status = $${args.length}`);
    }
    if (query.package !== undefined) {
      args.push(query.package);
      where.push(`package = $${args.length}`);
    }
    if (query.after !== undefined) {
      const [after] = await this.#rows<{ seq: number }>(this.#pool, this.#sql.runSeq, [query.after]);
      if (!after) throw new WorkflowError(ErrorCodes.notFound, `listRuns: no run "${query.after}" to page after`);
      args.push(after.seq);
      where.push(`seq < $${args.length}`);
    }
    args.push(query.limit);
    const sql = `SELECT * FROM ${quoteIdent(this.#schema)}.runs ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY seq DESC LIMIT $${args.length}`;
    return (await this.#rows<RunRow>(this.#pool, sql, args)).map(toRun);
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

  async cancelRun(runId: string, now: number): Promise<void> {
    await this.#tx({ runs: [runId] }, async (tx) => {
      const [run] = await this.#rows<RunRow>(tx.db, this.#sql.getRun, [runId]);
      if (!run) throw new WorkflowError(ErrorCodes.notFound, `no run "${runId}"`);
      if (run.status !== "running" && run.status !== "pending") {
        throw new WorkflowError(ErrorCodes.invalidState, `run "${runId}" is ${run.status}; only an unfinished run can be canceled`);
      }
      await this.#query(tx.db, this.#sql.cancelSteps, [runId, now]);
      await this.#query(tx.db, this.#sql.setRunStatus, ["canceled", now, runId]);
      // Workers running its steps in other processes abort them; slots free up.
      tx.notify.add(Payload.canceled(runId));
      tx.notify.add(Payload.ready);
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
    const steps = await this.#stepsOf(db, runId);
    const byId = new Map(steps.map((s) => [s.id, s]));
    const target = byId.get(stepId);
    if (!target) throw new WorkflowError(ErrorCodes.notFound, `no step "${stepId}" in run "${runId}"`);
    if (target.status !== "failed" && target.status !== "canceled") {
      throw new WorkflowError(ErrorCodes.invalidState, `step "${stepId}" is ${target.status}; only a failed or canceled step can be retried`);
    }
    const dependents = new Map<string, string[]>();
    for (const s of steps) for (const d of s.dependsOn) dependents.set(d.stepId, [...(dependents.get(d.stepId) ?? []), s.id]);

    // Everything downstream that was skipped or canceled comes back with it.
    const revived = new Set<string>([stepId]);
    const frontier = [stepId];
    for (let id = frontier.pop(); id !== undefined; id = frontier.pop()) {
      for (const next of dependents.get(id) ?? []) {
        const status = byId.get(next)?.status;
        if (!revived.has(next) && (status === "skipped" || status === "canceled")) {
          revived.add(next);
          frontier.push(next);
        }
      }
    }
    // Recount each revived step's waiting edges, treating the other revived steps as unfinished.
    const skippedAgain: string[] = [];
    const updates: { id: string; status: "pending" | "ready"; waiting: number }[] = [];
    for (const id of revived) {
      let waiting = 0;
      let violated: string | undefined;
      for (const d of byId.get(id)?.dependsOn ?? []) {
        const depStatus: StepStatus = revived.has(d.stepId) ? "pending" : (byId.get(d.stepId)?.status ?? "pending");
        const state = edgeState(depStatus, d.required);
        if (state === "waiting") waiting++;
        else if (state === "violated") violated = d.stepId;
      }
      if (violated !== undefined && id === stepId) {
        throw new WorkflowError(ErrorCodes.invalidState, `step "${stepId}" cannot run: its dependency "${violated}" did not succeed; retry that one`);
      }
      if (violated !== undefined) skippedAgain.push(id);
      updates.push({ id, status: waiting > 0 ? "pending" : "ready", waiting });
    }
    await this.#query(db, this.#sql.reviveSteps, [runId, updates.map((u) => u.id), updates.map((u) => u.status), updates.map((u) => u.waiting), now]);
    if (skippedAgain.length) {
      const skipped = await this.#rows<{ run_id: string; id: string }>(db, this.#sql.skipSteps, [skippedAgain.map(() => runId), skippedAgain, now]);
      await this.#propagate(tx, skipped.map((r) => ({ runId, stepId: r.id, status: "skipped" as const })), now);
    }
    await this.#query(db, this.#sql.setRunStatus, ["running", now, runId]);
    tx.notify.add(Payload.ready);
  }
}


/** [dep_id, required, [status, result, records, emitted_ids, error, completed_at] | null] */
type DependencyCell = [string, boolean, [string, string | null, string | null, string | null, string | null, number | null] | null];

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

/** [queue, oldest ready_at, its seq, next future ready_at] */
type QueueScan = [string, number, number, number | null];

const isUnlimited = (policy: QueuePolicy) => !Number.isFinite(policy.maxWorkers) && !policy.rateLimit;

/** A step just claimed, with its place in claim order. */
interface Claimed {
  claimed: ClaimedStep;
  readyAt: number;
  seq: number;
}

const byReadiness = (a: Claimed, b: Claimed) => a.readyAt - b.readyAt || a.seq - b.seq;

/** Code-unit order, the same in JS and for the lock order (which sorts hashes anyway). */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
