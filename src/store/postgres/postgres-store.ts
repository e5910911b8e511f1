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
 * by the engine and written set-wise (`unnest` arrays, `= ANY(ARRAY(...))`,
 * shapes whose plan cannot go bad), so a batch costs a handful of round trips
 * whatever its size. Statements are unnamed: planned with their real values.
 *
 * Wake-ups: writes that make work ready (or due, or canceled) `NOTIFY` the
 * schema's channel in their transaction; every process LISTENs (see `Listener`).
 */
import { createHash } from "node:crypto";
import pg from "pg";
import { ErrorCodes, WorkflowError, isWorkflowError } from "../../errors.js";
import type { Dependency, StepStatus } from "../../types.js";
import { edgeState, finishedRunStatus, finishedRunStatusSql, nextTokenAt, refillTokens } from "../graph-rules.js";
import { type ArtifactRow, CLAIMED_STEP_COLUMNS, type OutcomeRow, type RunRow, type StepRow, toArtifact, toClaimedStep, toResultRecord, toRun, toStep } from "../rows.js";
import { jsonOf, NO_STEPS, planSteps, type PlannedStep } from "../step-plan.js";
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
import { Listener, Payload } from "./listener.js";
import { migrate, quoteIdent } from "./migrations.js";

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

// bigint columns hold epoch milliseconds, well inside a double's exact range.
// Per query, so that an application's own pg type parsers stay untouched.
const INT8_OID = 20;
const TYPES = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === INT8_OID ? Number : pg.types.getTypeParser(oid, format as "text")) as pg.CustomTypesConfig["getTypeParser"],
};

const key = (runId: string, stepId: string) => `${runId}\u0000${stepId}`;

/** A statement's text; `{ prepared }` for one worth preparing on each connection. */
type Sql = string | { prepared: string };

/**
 * The name of a prepared statement: derived from its text, so that stores on
 * different schemas sharing one pool never reuse a name for another text. Only
 * the two latency-critical statements are prepared (a start, the default
 * claim): both are planned the same way whatever their values, and a big
 * statement's parse and plan are a visible part of one run's latency.
 */
const preparedNames = new Map<string, string>();
function preparedName(text: string): string {
  let name = preparedNames.get(text);
  if (!name) preparedNames.set(text, (name = `trellis_${createHash("sha1").update(text).digest("hex").slice(0, 16)}`));
  return name;
}

type Db = pg.PoolClient & { done(err?: Error): void };

/** A transaction in progress: notifications are sent with its COMMIT. */
interface Tx {
  db: Db;
  notify: Set<string>;
}

/**
 * A pooled client for a multi-statement piece of work. While checked out, a
 * client has no pool listener for connection errors, and pg emits them as an
 * 'error' event that would crash the process: the work's own query fails
 * instead, so the event is only swallowed here. `release` puts it back (or
 * destroys it after an error) and takes the listener off.
 */
export async function checkout(pool: pg.Pool): Promise<pg.PoolClient & { done(err?: Error): void }> {
  const client = await pool.connect();
  const swallow = () => undefined;
  client.on("error", swallow);
  return Object.assign(client, {
    done(err?: Error) {
      client.removeListener("error", swallow);
      client.release(err);
    },
  });
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
  /** Two completion batches at once: one's round trips overlap the other's. */
  readonly completeConcurrency = 2;
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

  get schema(): string {
    return this.#schema;
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
   * Runs `fn` in a transaction. `runIds` are locked first (advisory, sorted);
   * `BEGIN`, the locks, and at the end the notifications and `COMMIT`, each go in
   * one round trip.
   */
  async #tx<T>(runIds: Iterable<string>, fn: (tx: Tx) => Promise<T>): Promise<T> {
    const db = await checkout(this.#pool);
    const tx: Tx = { db, notify: new Set() };
    let broken: Error | undefined;
    try {
      const ids = [...new Set(runIds)];
      if (ids.length === 0) await db.query("BEGIN");
      else {
        // Sorted by lock key, so every transaction takes its locks in one order.
        await db.query(
          `BEGIN; SELECT pg_advisory_xact_lock(${this.#lockKeys.runs}, h)
           FROM (SELECT DISTINCT hashtext(id) AS h FROM unnest(${literalArray(db, ids)}::text[]) AS id ORDER BY h) AS l`,
        );
      }
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
    const db = await checkout(this.#pool);
    let broken: Error | undefined;
    try {
      await db.query(`BEGIN; SELECT pg_advisory_xact_lock(${this.#lockKeys.queues}, hashtext(${db.escapeLiteral(queue)}))`);
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
      await db.query("COMMIT");
      return nextDueAt === undefined ? { steps } : { steps, nextDueAt };
    } catch (err) {
      await db.query("ROLLBACK").catch((e: Error) => {
        broken = e;
      });
      throw err;
    } finally {
      db.done(broken);
    }
  }

  async complete(outcomes: StepOutcome[]): Promise<CompletionResult[]> {
    if (outcomes.length === 0) return [];
    return this.#tx(
      outcomes.map((o) => o.runId),
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
      leases.map((l) => l.runId),
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
      doomed.map((d) => d.run_id),
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
    const deps = new Map<string, Dependency[]>();
    for (const e of await this.#rows<{ step_id: string; dep_id: string; required: boolean }>(db, this.#sql.edgesOfRun, [runId])) {
      let list = deps.get(e.step_id);
      if (!list) deps.set(e.step_id, (list = []));
      list.push({ stepId: e.dep_id, required: e.required });
    }
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
    await this.#tx([runId], (tx) => this.#retryStep(tx, runId, stepId, now));
  }

  async cancelRun(runId: string, now: number): Promise<void> {
    await this.#tx([runId], async (tx) => {
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

/**
 * A claimed step's dependencies come with their outcomes (up to this many, and
 * not those with artifacts): executors read their dependencies' results, and
 * on a server each read would be a round trip.
 */
const PREFETCH_MAX_DEPS = 16;

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

/** Column arrays for one multi-row INSERT of steps (and one of their edges). */
interface StepRows {
  runId: string[]; id: string[]; kind: string[]; queue: string[]; status: string[]; input: string[];
  depsTotal: number[]; depsWaiting: number[]; retry: string[]; maxAttempts: number[]; priority: number[];
  parentId: (string | null)[]; dedupKey: (string | null)[]; site: (string | null)[]; metadata: string[];
  readyAt: (number | null)[]; finishedAt: (number | null)[]; now: number[];
  edgeRun: string[]; edgeDep: string[]; edgeStep: string[]; edgeRequired: boolean[];
}

function newStepRows(): StepRows {
  return {
    runId: [], id: [], kind: [], queue: [], status: [], input: [], depsTotal: [], depsWaiting: [], retry: [], maxAttempts: [],
    priority: [], parentId: [], dedupKey: [], site: [], metadata: [], readyAt: [], finishedAt: [], now: [],
    edgeRun: [], edgeDep: [], edgeStep: [], edgeRequired: [],
  };
}

/** The 18 parameters of `insertSteps`, in order. */
function stepRowValues(rows: StepRows): unknown[] {
  return [
    rows.runId, rows.id, rows.kind, rows.queue, rows.status, rows.input, rows.depsTotal, rows.depsWaiting, rows.retry,
    rows.maxAttempts, rows.priority, rows.parentId, rows.dedupKey, rows.site, rows.metadata, rows.readyAt, rows.finishedAt, rows.now,
  ];
}

function addStepRows(rows: StepRows, runId: string, planned: PlannedStep[], now: number, parentId: string | undefined): void {
  for (const { step, status, edges, waiting } of planned) {
    rows.runId.push(runId);
    rows.id.push(step.id);
    rows.kind.push(step.kind);
    rows.queue.push(step.queue);
    rows.status.push(status);
    rows.input.push(step.input);
    rows.depsTotal.push(edges.size);
    rows.depsWaiting.push(waiting);
    rows.retry.push(jsonOf(step.retry));
    rows.maxAttempts.push(step.retry.maxAttempts);
    rows.priority.push(step.priority);
    rows.parentId.push(step.parentId ?? parentId ?? null);
    rows.dedupKey.push(step.dedupKey ?? null);
    rows.site.push(step.site ?? null);
    rows.metadata.push(jsonOf(step.metadata));
    rows.readyAt.push(status === "ready" ? now : null);
    rows.finishedAt.push(status === "skipped" ? now : null);
    rows.now.push(now);
    for (const [target, required] of edges) {
      rows.edgeRun.push(runId);
      rows.edgeDep.push(target);
      rows.edgeStep.push(step.id);
      rows.edgeRequired.push(required);
    }
  }
}

/** Code-unit order, the same in JS and for the lock order (which sorts hashes anyway). */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** `ARRAY['a','b']` with every element escaped: for the one-round-trip `BEGIN; lock` query. */
function literalArray(db: Db, values: string[]): string {
  return `ARRAY[${values.map((v) => db.escapeLiteral(v)).join(",")}]`;
}

// Positions of the extra columns a claim returns after CLAIMED_STEP_COLUMNS.
const CLAIMED_COLUMN_COUNT = CLAIMED_STEP_COLUMNS.split(",").length;
const CLAIM_TOKEN = CLAIMED_COLUMN_COUNT;
const CLAIM_DEPS = CLAIMED_COLUMN_COUNT + 1;
const CLAIM_SEQ = CLAIMED_COLUMN_COUNT + 2;
const CLAIM_READY_AT = CLAIMED_STEP_COLUMNS.split(",").findIndex((c) => c.trim() === "s.ready_at");

/**
 * The statements, for schema `s` (quoted). Every batch statement reaches its rows
 * through unique keys: `seq = ANY(ARRAY(...))` over a LATERAL lookup per key, so
 * the plan is a handful of index probes whatever the table statistics say (a
 * freshly loaded table has none, and a hash join over the whole table would
 * cost as much as the history).
 */
export function statements(s: string) {
  // Lease up to $5 ready steps of queue $4 for worker $1 at $2 until $3; return
  // them with their runs, lease token, dependencies (with outcomes) and seq.
  const returned = [
    ...CLAIMED_STEP_COLUMNS.split(",").map((c) => c.trim()),
    "s.lease_token",
    `CASE WHEN s.deps_total > 0 THEN
       (SELECT json_agg(json_build_array(e.dep_id, e.required,
          CASE WHEN s.deps_total <= ${PREFETCH_MAX_DEPS} THEN
            (SELECT json_build_array(d.status, d.result, d.records, d.emitted_ids, d.error, d.completed_at)
             FROM ${s}.steps d WHERE d.run_id = e.run_id AND d.id = e.dep_id AND NOT d.has_artifacts LIMIT 1) END)
          ORDER BY e.dep_id)
        FROM ${s}.step_deps e WHERE e.run_id = s.run_id AND e.step_id = s.id) END`,
    "s.seq",
  ];
  const claimSql = `UPDATE ${s}.steps s SET status = 'running', attempt = s.attempt + 1, lease_worker = $1,
      lease_token = gen_random_uuid()::text, lease_acquired_at = $2, lease_expires_at = $3, started_at = $2, updated_at = $2
    FROM ${s}.runs r
    WHERE s.seq = ANY(ARRAY(
        SELECT seq FROM ${s}.steps WHERE status = 'ready' AND queue = $4 AND ready_at <= $2
        ORDER BY ready_at, seq LIMIT $5 FOR UPDATE SKIP LOCKED))
      AND r.id = s.run_id
    RETURNING ${returned.map((c, i) => `${c} AS c${i}`).join(", ")}`;
  /** CTEs q (distinct ready queues) and others (each but `except`, with its oldest and next readiness after `now`). */
  const queueScan = (now: string, except: string) => `q(queue) AS (
      (SELECT queue FROM ${s}.steps WHERE status = 'ready' ORDER BY queue LIMIT 1)
      UNION ALL
      SELECT (SELECT n.queue FROM ${s}.steps n WHERE n.status = 'ready' AND n.queue > q.queue ORDER BY n.queue LIMIT 1)
      FROM q WHERE q.queue IS NOT NULL),
    others AS (
      SELECT q.queue, o.ready_at AS oldest, o.seq AS oldest_seq,
        (SELECT n.ready_at FROM ${s}.steps n WHERE n.status = 'ready' AND n.queue = q.queue AND n.ready_at > ${now}
          ORDER BY n.ready_at LIMIT 1) AS next
      FROM q
      CROSS JOIN LATERAL (SELECT ready_at, seq FROM ${s}.steps o WHERE o.status = 'ready' AND o.queue = q.queue
                          ORDER BY ready_at, seq LIMIT 1) AS o
      WHERE q.queue IS NOT NULL AND q.queue <> ${except})`;
  /** INSERT of steps from 18 parallel arrays starting at parameter $from; only for runs in CTE `onlyRunsIn`, if given. */
  const insertSteps = (from: number, onlyRunsIn?: string) => {
    const types = ["text", "text", "text", "text", "text", "text", "int", "int", "text", "int", "int", "text", "text", "text", "text", "bigint", "bigint", "bigint"];
    const arrays = types.map((t, i) => `$${from + i}::${t}[]`).join(", ");
    return `INSERT INTO ${s}.steps (run_id, id, kind, queue, status, input, deps_total, deps_waiting, retry, max_attempts,
              priority, parent_id, dedup_key, site, metadata, ready_at, finished_at, created_at, updated_at)
            SELECT run_id, id, kind, queue, status, input, deps_total, deps_waiting, retry, max_attempts,
              priority, parent_id, dedup_key, site, metadata, ready_at, finished_at, now, now
            FROM unnest(${arrays}) AS u(run_id, id, kind, queue, status, input, deps_total, deps_waiting, retry, max_attempts,
              priority, parent_id, dedup_key, site, metadata, ready_at, finished_at, now)
            ${onlyRunsIn ? `WHERE u.run_id IN (SELECT id FROM ${onlyRunsIn})` : ""}`;
  };
  const clearLease = "lease_worker = NULL, lease_token = NULL, lease_acquired_at = NULL, lease_expires_at = NULL";
  // Fencing: a lease token is set exactly while a step is running (every way out
  // of running clears it), so "token matches" is the whole check. Testing the
  // status too would tempt the planner into the running-steps index, whose dead
  // entries it would then walk.
  /** The seqs of the steps named by two parallel text[] parameters (run ids, step ids). */
  const seqsOf = (runIds: string, ids: string) =>
    `ARRAY(SELECT x.seq FROM unnest(${runIds}::text[], ${ids}::text[]) AS k(run_id, id)
           CROSS JOIN LATERAL (SELECT seq FROM ${s}.steps WHERE run_id = k.run_id AND id = k.id LIMIT 1) AS x)`;
  return {
    // $1..$8 runs, $9..$26 steps (see stepRowValues), $27..$30 edges, $31 channel, $32 payload.
    createRuns: `WITH ins AS (
                   INSERT INTO ${s}.runs (id, package, name, status, input, metadata, created_at, updated_at)
                   SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::bigint[])
                   ON CONFLICT (id) DO NOTHING RETURNING id),
                 st AS (${insertSteps(9, "ins")} RETURNING status),
                 ed AS (INSERT INTO ${s}.step_deps (run_id, dep_id, step_id, required)
                        SELECT * FROM unnest($27::text[], $28::text[], $29::text[], $30::boolean[]) AS e(run_id, dep_id, step_id, required)
                        WHERE e.run_id IN (SELECT id FROM ins))
                 SELECT ARRAY(SELECT id FROM ins) AS created,
                   (SELECT pg_notify($31, $32) FROM (SELECT 1 FROM st WHERE status = 'ready' LIMIT 1) AS ready) AS notified`,
    runsByIds: `SELECT * FROM ${s}.runs WHERE id = ANY($1::text[])`,
    getRun: `SELECT * FROM ${s}.runs WHERE id = $1`,
    runSeq: `SELECT seq FROM ${s}.runs WHERE id = $1`,
    setRunStatus: `UPDATE ${s}.runs SET status = $1, updated_at = $2 WHERE id = $3`,
    // Runs with no unfinished step left. Each check is a LIMIT 1 probe of one run
    // (a hashed anti-join over every unfinished step is what the planner picks
    // otherwise, whenever its statistics are stale).
    finishableRuns: `SELECT r.id,
                       (SELECT true FROM ${s}.steps f WHERE f.run_id = r.id AND f.status = 'failed' LIMIT 1) IS NOT NULL AS failed,
                       (SELECT true FROM ${s}.steps c WHERE c.run_id = r.id AND c.status = 'canceled' LIMIT 1) IS NOT NULL AS canceled
                     FROM unnest($1::text[]) AS k(id)
                     CROSS JOIN LATERAL (SELECT id, status FROM ${s}.runs WHERE id = k.id LIMIT 1) AS r
                     CROSS JOIN LATERAL (SELECT count(*) AS n FROM (SELECT 1 FROM ${s}.steps a
                                         WHERE a.run_id = r.id AND a.finished_at IS NULL LIMIT 1) AS one) AS active
                     WHERE r.status = 'running' AND active.n = 0`,
    // Plain successes, in one statement: fenced by lease token, their dependents
    // satisfied, their runs finished when nothing else of them is unfinished. All
    // of it reads one snapshot taken after the run locks (an earlier statement of
    // the transaction), so the steps it just finished are told apart by seq.
    succeedPlain: `WITH u AS (
                     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[])
                       AS u(run_id, id, token, result, records, now)),
                   done AS (
                     UPDATE ${s}.steps t SET status = 'succeeded', result = u.result, records = u.records, emitted_ids = NULL,
                       has_artifacts = false, completed_at = u.now, finished_at = u.now, updated_at = u.now, ${clearLease}
                     FROM u
                     WHERE t.seq = ANY(${seqsOf("$1", "$2")}) AND t.run_id = u.run_id AND t.id = u.id
                       AND t.lease_token = u.token
                     RETURNING t.seq, t.run_id, t.id, t.queue),
                   counts AS (
                     SELECT e.run_id, e.step_id, count(*)::int AS n FROM done
                     CROSS JOIN LATERAL (SELECT run_id, step_id FROM ${s}.step_deps WHERE run_id = done.run_id AND dep_id = done.id OFFSET 0) AS e
                     GROUP BY e.run_id, e.step_id),
                   targets AS (
                     SELECT x.seq, c.n FROM counts c
                     CROSS JOIN LATERAL (SELECT seq FROM ${s}.steps WHERE run_id = c.run_id AND id = c.step_id LIMIT 1) AS x),
                   readied AS (
                     UPDATE ${s}.steps t SET deps_waiting = t.deps_waiting - c.n,
                       status   = CASE WHEN t.deps_waiting <= c.n THEN 'ready' ELSE t.status END,
                       ready_at = CASE WHEN t.deps_waiting <= c.n THEN $7::bigint ELSE t.ready_at END,
                       updated_at = $7
                     FROM targets c
                     WHERE t.seq = ANY(ARRAY(SELECT seq FROM targets)) AND t.seq = c.seq AND t.status = 'pending'
                     RETURNING t.status = 'ready' AS ready),
                   finishable AS (
                     SELECT r.seq,
                       (SELECT true FROM ${s}.steps f WHERE f.run_id = r.id AND f.status = 'failed' LIMIT 1) IS NOT NULL AS failed,
                       (SELECT true FROM ${s}.steps c WHERE c.run_id = r.id AND c.status = 'canceled' LIMIT 1) IS NOT NULL AS canceled
                     FROM (SELECT run_id, count(*) AS n FROM done GROUP BY run_id) AS d
                     CROSS JOIN LATERAL (SELECT seq, id, status FROM ${s}.runs WHERE id = d.run_id LIMIT 1) AS r
                     -- In this snapshot the steps just finished are still unfinished: the run
                     -- is done when they are all that is (counted up to one more than them).
                     CROSS JOIN LATERAL (SELECT count(*) AS n FROM (SELECT 1 FROM ${s}.steps a
                                         WHERE a.run_id = r.id AND a.finished_at IS NULL LIMIT d.n + 1) AS one) AS unfinished
                     WHERE r.status = 'running' AND unfinished.n = d.n),
                   finished AS (
                     UPDATE ${s}.runs r SET status = ${finishedRunStatusSql("f.failed", "f.canceled")}, updated_at = $7
                     FROM finishable f WHERE r.seq = ANY(ARRAY(SELECT seq FROM finishable)) AND r.seq = f.seq
                     RETURNING r.seq)
                   SELECT ARRAY(SELECT run_id FROM done) AS run_ids, ARRAY(SELECT id FROM done) AS ids,
                     EXISTS (SELECT 1 FROM readied WHERE ready) AS readied,
                     EXISTS (SELECT 1 FROM ${s}.steps WHERE status = 'ready' AND ready_at <= $7
                             AND queue = ANY(ARRAY(SELECT DISTINCT queue FROM done))) AS more,
                     (SELECT count(*) FROM finished) AS finished`,
    // Only a running run finishes: a canceled one stays canceled.
    finishRuns: `UPDATE ${s}.runs r SET status = u.status, updated_at = $3
                 FROM unnest($1::text[], $2::text[]) AS u(id, status)
                 WHERE r.seq = ANY(ARRAY(SELECT x.seq FROM unnest($1::text[]) AS k(id)
                                         CROSS JOIN LATERAL (SELECT seq FROM ${s}.runs WHERE id = k.id LIMIT 1) AS x))
                   AND r.id = u.id AND r.status = 'running'`,

    insertSteps: insertSteps(1),
    insertEdges: `INSERT INTO ${s}.step_deps (run_id, dep_id, step_id, required)
                  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::boolean[])`,
    stepsByIdsOrKeys: `SELECT id, status, dedup_key FROM ${s}.steps
                       WHERE run_id = $1 AND (id = ANY($2::text[]) OR dedup_key = ANY($3::text[]))`,
    stepsOfRun: `SELECT * FROM ${s}.steps WHERE run_id = $1 ORDER BY seq`,
    edgesOfRun: `SELECT step_id, dep_id, required FROM ${s}.step_deps WHERE run_id = $1 ORDER BY step_id, dep_id`,
    dependentsOf: `SELECT e.run_id, e.dep_id, e.step_id, e.required
                   FROM unnest($1::text[], $2::text[]) AS d(run_id, id)
                   CROSS JOIN LATERAL (SELECT * FROM ${s}.step_deps WHERE run_id = d.run_id AND dep_id = d.id OFFSET 0) AS e`,
    // A success satisfies every edge out of the step; a dependent becomes ready
    // when its last waiting edge is satisfied. Grouped: two finished steps of one
    // batch may share a dependent.
    satisfyDependents: `WITH counts AS (
                          SELECT e.run_id, e.step_id, count(*)::int AS n
                          FROM unnest($1::text[], $2::text[]) AS d(run_id, id)
                          CROSS JOIN LATERAL (SELECT run_id, step_id FROM ${s}.step_deps WHERE run_id = d.run_id AND dep_id = d.id OFFSET 0) AS e
                          GROUP BY e.run_id, e.step_id),
                        targets AS (
                          SELECT x.seq, c.n FROM counts c
                          CROSS JOIN LATERAL (SELECT seq FROM ${s}.steps WHERE run_id = c.run_id AND id = c.step_id LIMIT 1) AS x)
                        UPDATE ${s}.steps t SET deps_waiting = t.deps_waiting - c.n,
                          status   = CASE WHEN t.deps_waiting <= c.n THEN 'ready' ELSE t.status END,
                          ready_at = CASE WHEN t.deps_waiting <= c.n THEN $3::bigint ELSE t.ready_at END,
                          updated_at = $3
                        FROM targets c
                        WHERE t.seq = ANY(ARRAY(SELECT seq FROM targets)) AND t.seq = c.seq AND t.status = 'pending'
                        RETURNING t.status = 'ready' AS ready`,
    decrementWaiting: `UPDATE ${s}.steps t SET deps_waiting = t.deps_waiting - u.n,
                         status   = CASE WHEN t.deps_waiting <= u.n THEN 'ready' ELSE t.status END,
                         ready_at = CASE WHEN t.deps_waiting <= u.n THEN $4::bigint ELSE t.ready_at END,
                         updated_at = $4
                       FROM unnest($1::text[], $2::text[], $3::int[]) AS u(run_id, id, n)
                       WHERE t.seq = ANY(${seqsOf("$1", "$2")}) AND t.run_id = u.run_id AND t.id = u.id AND t.status = 'pending'
                       RETURNING t.status = 'ready' AS ready`,
    skipSteps: `UPDATE ${s}.steps t SET status = 'skipped', finished_at = $3, updated_at = $3
                WHERE t.seq = ANY(${seqsOf("$1", "$2")}) AND t.status = 'pending'
                RETURNING t.run_id, t.id`,
    reviveSteps: `UPDATE ${s}.steps t SET status = u.status, deps_waiting = u.waiting,
                    ready_at = CASE WHEN u.status = 'ready' THEN $5::bigint ELSE NULL END,
                    finished_at = NULL, attempt = 0, reclaims = 0, updated_at = $5::bigint, ${clearLease}
                  FROM unnest($2::text[], $3::text[], $4::int[]) AS u(id, status, waiting)
                  WHERE t.seq = ANY(ARRAY(SELECT x.seq FROM unnest($2::text[]) AS k(id)
                                          CROSS JOIN LATERAL (SELECT seq FROM ${s}.steps WHERE run_id = $1 AND id = k.id LIMIT 1) AS x))
                    AND t.id = u.id`,
    cancelSteps: `UPDATE ${s}.steps SET status = 'canceled', finished_at = $2, updated_at = $2, ${clearLease}
                  WHERE run_id = $1 AND status IN ('pending', 'ready', 'running')`,

    // Distinct queues with ready steps (a skip scan of steps_ready), each with its
    // oldest and next future readiness, plus the earliest lease expiry.
    // Queues with ready steps, other than $4 (a skip scan of steps_ready), each
    // as [queue, oldest ready_at, its seq, next future ready_at], in one row with
    // the earliest lease expiry.
    readyQueues: `WITH RECURSIVE ${queueScan("$1", "''")}
                  SELECT (SELECT min(lease_expires_at) FROM ${s}.steps WHERE status = 'running') AS lease_min,
                    (SELECT json_agg(json_build_array(queue, oldest, oldest_seq, next)) FROM others) AS queues`,
    // The default queue claimed (as \`claim\`) in the statement that scans for the
    // other queues: [others, lease_min, default's next due, ...claimed columns],
    // one row per claimed step, or one row of nulls after the first three.
    claimDefault: `WITH RECURSIVE claimed AS (${claimSql}), ${queueScan("$2", "$4")}
                   SELECT h.*, c.* FROM (
                     SELECT (SELECT json_agg(json_build_array(queue, oldest, oldest_seq, next)) FROM others) AS queues,
                       (SELECT min(lease_expires_at) FROM ${s}.steps WHERE status = 'running') AS lease_min,
                       (SELECT n.ready_at FROM ${s}.steps n WHERE n.status = 'ready' AND n.queue = $4 AND n.ready_at > $2
                        ORDER BY n.ready_at LIMIT 1) AS next) AS h
                   LEFT JOIN claimed AS c ON true`,
    claim: claimSql,
    queueState: `SELECT (SELECT count(*)::int FROM ${s}.steps WHERE status = 'running' AND queue = $1) AS running,
                   b.tokens, b.refilled_at
                 FROM (VALUES (1)) AS one LEFT JOIN ${s}.queue_buckets b ON b.queue = $1`,
    putBucket: `INSERT INTO ${s}.queue_buckets (queue, tokens, refilled_at) VALUES ($1, $2, $3)
                ON CONFLICT (queue) DO UPDATE SET tokens = excluded.tokens, refilled_at = excluded.refilled_at`,
    anyReadyIn: `SELECT EXISTS (SELECT 1 FROM ${s}.steps WHERE status = 'ready' AND queue = ANY($1::text[]) AND ready_at <= $2) AS any`,

    markSucceeded: `UPDATE ${s}.steps t SET status = 'succeeded', result = u.result, records = u.records, emitted_ids = NULL,
                      has_artifacts = false, completed_at = u.now, finished_at = u.now, updated_at = u.now, ${clearLease}
                    FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[]) AS u(run_id, id, token, result, records, now)
                    WHERE t.seq = ANY(${seqsOf("$1", "$2")}) AND t.run_id = u.run_id AND t.id = u.id
                      AND t.lease_token = u.token
                    RETURNING t.run_id, t.id, t.queue`,
    setEmittedAndArtifacts: `UPDATE ${s}.steps SET emitted_ids = $1, has_artifacts = $2 WHERE run_id = $3 AND id = $4`,
    markFailed: `UPDATE ${s}.steps t SET status = 'failed', error = u.error, error_code = u.code, completed_at = u.now,
                   finished_at = u.now, updated_at = u.now, ${clearLease}
                 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[]) AS u(run_id, id, token, error, code, now)
                 WHERE t.seq = ANY(${seqsOf("$1", "$2")}) AND t.run_id = u.run_id AND t.id = u.id
                      AND t.lease_token = u.token
                 RETURNING t.run_id, t.id, t.queue`,
    scheduleRetries: `UPDATE ${s}.steps t SET status = 'ready', ready_at = u.ready_at, error = u.error, error_code = u.code,
                        completed_at = u.now, updated_at = u.now, ${clearLease}
                      FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::bigint[])
                        AS u(run_id, id, token, ready_at, error, code, now)
                      WHERE t.seq = ANY(${seqsOf("$1", "$2")}) AND t.run_id = u.run_id AND t.id = u.id
                      AND t.lease_token = u.token
                      RETURNING t.run_id, t.id, t.queue, t.ready_at`,
    // Extends the leases still held and returns them. Rows another transaction is
    // writing are skipped, not waited for (no deadlock with a completion), and
    // still count as held if their token matched when this statement began.
    heartbeat: `WITH req AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) AS u(run_id, id, token)),
                held AS (SELECT t.seq, req.token FROM req
                         CROSS JOIN LATERAL (SELECT seq, lease_token, status FROM ${s}.steps
                                             WHERE run_id = req.run_id AND id = req.id LIMIT 1) AS t
                         WHERE t.lease_token = req.token AND t.status = 'running'),
                extended AS (UPDATE ${s}.steps t SET lease_expires_at = $4, updated_at = $5
                             WHERE t.seq = ANY(ARRAY(SELECT x.seq FROM ${s}.steps x
                                                     WHERE x.seq = ANY(ARRAY(SELECT seq FROM held)) FOR UPDATE SKIP LOCKED))
                               AND t.status = 'running')
                SELECT token FROM held`,
    // Giving a lease back or losing it is not an attempt: the attempt counter goes back down.
    releaseLeases: `UPDATE ${s}.steps t SET status = 'ready', attempt = t.attempt - 1, ready_at = $4, updated_at = $4, ${clearLease}
                    FROM unnest($1::text[], $2::text[], $3::text[]) AS u(run_id, id, token)
                    WHERE t.seq = ANY(${seqsOf("$1", "$2")}) AND t.run_id = u.run_id AND t.id = u.id
                      AND t.lease_token = u.token
                    RETURNING t.id`,
    anyExpired: `SELECT 1 FROM ${s}.steps WHERE status = 'running' AND lease_expires_at <= $1 LIMIT 1`,
    reclaim: `UPDATE ${s}.steps SET status = 'ready', attempt = attempt - 1, reclaims = reclaims + 1, ready_at = $1,
                updated_at = $1, ${clearLease}
              WHERE seq = ANY(ARRAY(SELECT seq FROM ${s}.steps WHERE status = 'running' AND lease_expires_at <= $1 AND reclaims < $2
                                    FOR UPDATE SKIP LOCKED))`,
    overReclaimed: `SELECT run_id, id, reclaims FROM ${s}.steps WHERE status = 'running' AND lease_expires_at <= $1 AND reclaims >= $2`,
    expireSteps: `UPDATE ${s}.steps t SET status = 'failed',
                    error = json_build_object('code', $5::text,
                      'message', 'the step''s lease expired ' || (t.reclaims + 1) || ' times (maxReclaims ' || $4::int
                        || '); its worker probably crashed while running it',
                      'retryable', false, 'occurredAt', $3::bigint)::text,
                    error_code = $5, completed_at = $3, finished_at = $3, updated_at = $3, ${clearLease}
                  WHERE t.seq = ANY(${seqsOf("$1", "$2")}) AND t.status = 'running' AND t.lease_expires_at <= $3 AND t.reclaims >= $4
                  RETURNING t.run_id, t.id, t.reclaims`,

    result: `SELECT status, result, records, emitted_ids, has_artifacts, error, completed_at FROM ${s}.steps WHERE run_id = $1 AND id = $2`,
    artifact: `SELECT * FROM ${s}.artifacts WHERE run_id = $1 AND id = $2`,
    artifactIdsTaken: `SELECT id FROM ${s}.artifacts WHERE run_id = $1 AND id = ANY($2::text[]) LIMIT 1`,
    artifactsOfStep: `SELECT id, step_id, name, kind, content_type, metadata, uri, size FROM ${s}.artifacts
                      WHERE run_id = $1 AND step_id = $2 ORDER BY id`,
    insertArtifacts: `INSERT INTO ${s}.artifacts (run_id, id, step_id, name, kind, content_type, metadata, uri, size, body, created_at)
                      SELECT $1, id, $2, name, kind, content_type, metadata, uri, size, body, $11
                      FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::bigint[], $10::bytea[])
                        AS u(id, name, kind, content_type, metadata, uri, size, body)`,
  };
}
