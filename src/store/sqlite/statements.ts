/**
 * The SQLite store's SQL, in one place: every statement the store prepares,
 * named by what it does, and the few built per call (by the number of values).
 */
import type Database from "better-sqlite3";
import { finishedRunStatusSql } from "../graph-rules.js";
import { CLAIMED_STEP_COLUMNS } from "../rows.js";
import type { FailedStepsQuery, ListRunsQuery } from "../store.js";

/**
 * A LIMIT bound per call. Written `LIMIT ?`, SQLite's planner reads the bound
 * value to plan with, and so marks the statement to be prepared again whenever
 * that parameter is bound anew, which better-sqlite3 does at every call: 15-20 µs
 * more for a small statement, about 50 µs for the claim's ready-step scan
 * (SQLite 3.53). As an expression the value stays opaque to the planner, and the
 * prepared plan is kept.
 */
export const BOUND_LIMIT = "LIMIT (? + 0)";

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
          ORDER BY updated_at ${BOUND_LIMIT}`;
}

/**
 * An event row as the store reads it. Since migration 7 the run_started trigger
 * stores no data (building JSON in a trigger cost every start a statement
 * journal): it is rebuilt here from the run row, whose package and parent never
 * change, as the trigger of migration 2 built it.
 */
const EVENT_COLUMNS = `seq, run_id, at, type, step_id, attempt, worker_id, error,
  coalesce(data, CASE WHEN type = 'run_started' THEN (SELECT CASE WHEN r.parent_run_id IS NULL THEN json_object('package', r.package)
    ELSE json_object('package', r.package, 'parentRunId', r.parent_run_id, 'parentStepId', r.parent_step_id) END
    FROM runs r WHERE r.id = events.run_id) END) AS data`;

/**
 * A run with how many of its steps are failed: a probe of the partial index
 * steps_failed_by_run, as small as the run's failures.
 */
const RUN_WITH_COUNTS = "runs.*, (SELECT count(*) FROM steps f WHERE f.run_id = runs.id AND f.status = 'failed') AS failed_steps";

/**
 * `listRuns`: newest first (runs' seq), every filter in the WHERE clause, so a
 * page is one statement that stops at the limit. A metadata pair is looked up
 * in the run's JSON with json_each (any key, no path syntax to escape); an id
 * prefix compares the id's first characters (LIKE would read `%` and `_` and
 * ignore case).
 */
export function listRunsQuery(query: ListRunsQuery, afterSeq: number | undefined): { sql: string; args: unknown[] } {
  const where: string[] = [];
  const args: unknown[] = [];
  const filter = (condition: string, ...values: unknown[]) => {
    where.push(condition);
    args.push(...values);
  };
  if (query.status !== undefined) filter("status = ?", query.status);
  if (query.package !== undefined) filter("package = ?", query.package);
  if (query.packageVersion !== undefined) filter("package_version = ?", query.packageVersion);
  if (query.createdFrom !== undefined) filter("created_at >= ?", query.createdFrom);
  if (query.createdTo !== undefined) filter("created_at <= ?", query.createdTo);
  for (const [key, value] of Object.entries(query.metadata ?? {})) {
    filter("EXISTS (SELECT 1 FROM json_each(runs.metadata) m WHERE m.key = ? AND m.type = 'text' AND m.value = ?)", key, value);
  }
  if (query.idPrefix !== undefined) filter("substr(id, 1, length(?)) = ?", query.idPrefix, query.idPrefix);
  if (afterSeq !== undefined) filter("seq < ?", afterSeq);
  args.push(query.limit);
  return { sql: `SELECT ${RUN_WITH_COUNTS} FROM runs ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY seq DESC ${BOUND_LIMIT}`, args };
}

/** `listFailedSteps`: the most recently failed first, filtered, after a cursor step. */
export function failedStepsQuery(query: FailedStepsQuery, after: { finished_at: number; seq: number } | undefined): { sql: string; args: unknown[] } {
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
  if (after) {
    where.push("(s.finished_at < ? OR (s.finished_at = ? AND s.seq < ?))");
    args.push(after.finished_at, after.finished_at, after.seq);
  }
  args.push(query.limit);
  const join = query.package !== undefined ? "JOIN runs r ON r.id = s.run_id" : "";
  return { sql: `SELECT s.* FROM steps s ${join} WHERE ${where.join(" AND ")} ORDER BY s.finished_at DESC, s.seq DESC ${BOUND_LIMIT}`, args };
}

/*
 * No statement journals: why every write below is `UPDATE OR FAIL` / `INSERT
 * OR FAIL`, and why no write, nor a trigger it fires, calls an SQL function.
 *
 * Inside a transaction, SQLite gives a statement a statement journal when it
 * may write several rows (any statement that fires a trigger does: the event
 * log) and may abort half-way: a NOT NULL or UNIQUE check under the default
 * ABORT, or any call of an SQL function. The journal lets SQLite undo that one
 * statement and keep the transaction; it copies every page the statement is
 * about to change, 4 KiB each, before changing it. The store never keeps a
 * transaction after a failed statement: every command is one transaction, and
 * better-sqlite3 rolls it back (or back to its savepoint) on any error. FAIL
 * stops at the failing row instead, which that rollback then undoes; and the
 * copies are gone: about a tenth of a drain of one-step runs (docs/BENCHMARKS.md).
 * The triggers of migration 7 follow the same rules; test/sqlite-statement-
 * journal.test.ts checks every write statement's compiled program, triggers
 * included, and names the few writes that may still abort, each with its reason.
 */

/** A prepared statement, under a name the declaration files can print. */
export interface PreparedStatement extends Database.Statement<unknown[], unknown> {}

/** Every fixed statement of the store, prepared once per connection (see "no statement journals" above). */
export function prepareStatements(db: Database.Database) {
  const p = (sql: string): PreparedStatement => db.prepare(sql);
  const clearLease = "lease_worker = NULL, lease_token = NULL, lease_acquired_at = NULL, lease_expires_at = NULL";
  const fenced = "WHERE run_id = ? AND id = ? AND lease_token = ? AND status = 'running'";
  // A step that just became ready: `delay` after now, not before `runAt`. A CASE,
  // not max(): a function call in a write would open a statement journal (see
  // "no statement journals" above); `now` is bound twice.
  const readyAt = (now: string) => `CASE WHEN coalesce(not_before, 0) > ${now} + delay_ms THEN not_before ELSE ${now} + delay_ms END`;
  // The run's failed steps that nothing handled: no failed/completed edge out of
  // them leads to a step that ran (see finishedRunStatus).
  const unhandledFailure = `EXISTS (SELECT 1 FROM steps f WHERE f.run_id = runs.id AND f.status = 'failed'
      AND NOT EXISTS (SELECT 1 FROM step_deps d JOIN steps h ON h.run_id = d.run_id AND h.id = d.step_id
                      WHERE d.run_id = f.run_id AND d.dep_id = f.id AND d.on_state IN ('failed', 'completed') AND h.status <> 'skipped'))`;
  const anyCanceled = "EXISTS (SELECT 1 FROM steps c WHERE c.run_id = runs.id AND c.status = 'canceled')";
  return {
    insertRun: p(`INSERT OR FAIL INTO runs (id, package, name, status, input, metadata, created_at, updated_at, parent_run_id, parent_step_id, output_step,
                    package_version)
                  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`),
    getRun: p("SELECT * FROM runs WHERE id = ?"),
    // The run as Store.getRun reads it for callers: with its failed-step count.
    readRun: p(`SELECT ${RUN_WITH_COUNTS} FROM runs WHERE id = ?`),
    runSeq: p("SELECT seq FROM runs WHERE id = ?"),
    setRunStatus: p("UPDATE OR FAIL runs SET status = ?, updated_at = ? WHERE id = ?"),
    // An operator retry reopens a finished run (a paused one stays paused).
    reopenRun: p("UPDATE OR FAIL runs SET status = 'running', updated_at = ? WHERE id = ? AND status <> 'paused'"),
    // A running run with no unfinished step left finishes, in one statement that
    // also decides its status; it returns the parent to wake if it is a child run.
    // Only a running run finishes: a canceled one stays canceled, a paused one
    // finishes when resumed.
    finishRun: p(`UPDATE OR FAIL runs SET status = ${finishedRunStatusSql(unhandledFailure, anyCanceled)}, updated_at = ?
                  WHERE id = ? AND status = 'running'
                    AND NOT EXISTS (SELECT 1 FROM steps a WHERE a.run_id = runs.id AND a.finished_at IS NULL)
                  RETURNING parent_run_id, parent_step_id`),
    // A child run finished: its parent's step waiting for it runs again (and reads the outcome).
    wakeParentStep: p("UPDATE OR FAIL steps SET status = 'ready', ready_at = ?, updated_at = ? WHERE run_id = ? AND id = ? AND status = 'waiting'"),
    cancelRunRow: p("UPDATE OR FAIL runs SET status = 'canceled', updated_at = ? WHERE id = ? RETURNING parent_run_id, parent_step_id"),
    activeChildren: p(`SELECT id FROM runs WHERE parent_run_id = ? AND status IN ('pending', 'running', 'paused')`),
    insertPaused: p("INSERT OR IGNORE INTO paused_runs (run_id) VALUES (?)"),
    deletePaused: p("DELETE FROM paused_runs WHERE run_id = ?"),

    insertStep: p(`INSERT OR FAIL INTO steps (run_id, id, kind, queue, status, input, deps_total, deps_waiting, retry, max_attempts,
                     priority, parent_id, dedup_key, site, metadata, ready_at, finished_at, created_at, updated_at,
                     not_before, delay_ms, timeout_ms, wait_for)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    insertEdge: p("INSERT OR FAIL INTO step_deps (run_id, dep_id, step_id, required, on_state) VALUES (?, ?, ?, ?, ?)"),
    stepStatus: p("SELECT status FROM steps WHERE run_id = ? AND id = ?"),
    stepByDedupKey: p("SELECT id FROM steps WHERE run_id = ? AND dedup_key = ?"),
    stepsOfRun: p("SELECT * FROM steps WHERE run_id = ? ORDER BY seq"),
    dependents: p("SELECT step_id, on_state FROM step_deps WHERE run_id = ? AND dep_id = ?"),
    depsOf: p("SELECT dep_id, on_state FROM step_deps WHERE run_id = ? AND step_id = ? ORDER BY dep_id"),
    edgesOfRun: p("SELECT step_id, dep_id, on_state FROM step_deps WHERE run_id = ? ORDER BY step_id, dep_id"),
    satisfyEdge: p(`UPDATE OR FAIL steps SET deps_waiting = deps_waiting - 1,
                      status   = CASE WHEN deps_waiting <= 1 THEN 'ready' ELSE status END,
                      ready_at = CASE WHEN deps_waiting <= 1 THEN ${readyAt("?")} ELSE ready_at END,
                      updated_at = ?
                    WHERE run_id = ? AND id = ? AND status = 'pending'`),
    skipStep: p("UPDATE OR FAIL steps SET status = 'skipped', finished_at = ?, updated_at = ? WHERE run_id = ? AND id = ? AND status = 'pending'"),
    reviveStep: p(`UPDATE OR FAIL steps SET status = ?, deps_waiting = ?, ready_at = ?, wake_at = NULL, finished_at = NULL, updated_at = ?, ${clearLease}
                   WHERE run_id = ? AND id = ?`),
    resetAttempts: p("UPDATE OR FAIL steps SET attempt = 0, reclaims = 0, updated_at = ? WHERE run_id = ? AND id = ?"),
    cancelSteps: p(`UPDATE OR FAIL steps SET status = 'canceled', finished_at = ?, updated_at = ?, ${clearLease}
                    WHERE run_id = ? AND status IN ('pending', 'ready', 'running', 'waiting')`),

    firstReadyQueue: p("SELECT queue FROM steps WHERE status = 'ready' ORDER BY queue LIMIT 1"),
    nextReadyQueue: p("SELECT queue FROM steps WHERE status = 'ready' AND queue > ? ORDER BY queue LIMIT 1"),
    // Steps of paused runs stay where they are; paused_runs is tiny, read once per statement.
    readyInQueue: p(`SELECT seq, priority, ready_at FROM steps WHERE status = 'ready' AND queue = ? AND ready_at <= ?
                       AND run_id NOT IN (SELECT run_id FROM paused_runs)
                     ORDER BY priority DESC, ready_at, seq ${BOUND_LIMIT}`),
    // The same for a worker that runs only some kinds (ClaimRequest.kinds, a JSON array): the
    // others are filtered within the scan of steps_ready, and stay for a worker that has them.
    readyInQueueOfKinds: p(`SELECT seq, priority, ready_at FROM steps WHERE status = 'ready' AND queue = ? AND ready_at <= ?
                       AND run_id NOT IN (SELECT run_id FROM paused_runs) AND kind IN (SELECT value FROM json_each(?))
                     ORDER BY priority DESC, ready_at, seq ${BOUND_LIMIT}`),
    anyReadyNow: p("SELECT 1 FROM steps WHERE status = 'ready' AND queue = ? AND ready_at <= ? LIMIT 1"),
    topPriority: p("SELECT priority FROM steps WHERE status = 'ready' AND queue = ? ORDER BY priority DESC LIMIT 1"),
    lowerPriority: p("SELECT priority FROM steps WHERE status = 'ready' AND queue = ? AND priority < ? ORDER BY priority DESC LIMIT 1"),
    nextReadyAt: p("SELECT min(ready_at) AS t FROM steps WHERE status = 'ready' AND queue = ? AND priority = ? AND ready_at > ?"),
    // Queues with running steps, one after the other: a queue's earliest lease expiry
    // and the next queue, two probes of steps_running in one statement (see
    // nextLeaseExpiry in claim.ts).
    firstRunningQueue: p("SELECT queue FROM steps WHERE status = 'running' ORDER BY queue LIMIT 1"),
    leaseExpiryIn: p(`SELECT (SELECT min(lease_expires_at) FROM steps WHERE status = 'running' AND queue = ?) AS t,
                             (SELECT queue FROM steps WHERE status = 'running' AND queue > ? ORDER BY queue LIMIT 1) AS next`),
    nextWakeAt: p("SELECT min(wake_at) AS t FROM steps WHERE status = 'waiting'"),
    // The earliest future tick of an unpaused schedule (a due one is the firing worker's to advance).
    nextFireAt: p("SELECT min(next_fire_at) AS t FROM schedules WHERE paused = 0 AND next_fire_at > ?"),
    runningInQueue: p("SELECT count(*) AS n FROM steps WHERE status = 'running' AND queue = ?"),
    getBucket: p("SELECT tokens, refilled_at FROM queue_buckets WHERE queue = ?"),
    putBucket: p(`INSERT OR FAIL INTO queue_buckets (queue, tokens, refilled_at) VALUES (?, ?, ?)
                  ON CONFLICT (queue) DO UPDATE SET tokens = excluded.tokens, refilled_at = excluded.refilled_at`),
    leaseStepById: p(`UPDATE OR FAIL steps SET status = 'running', attempt = attempt + 1, lease_worker = ?, lease_token = ?,
                        lease_acquired_at = ?, lease_expires_at = ?, started_at = ?, updated_at = ?
                      WHERE run_id = ? AND id = ? AND status = 'ready'`),
    leaseSteps: p(`UPDATE OR FAIL steps SET status = 'running', attempt = attempt + 1, lease_worker = ?, lease_token = ? || seq,
                    lease_acquired_at = ?, lease_expires_at = ?, started_at = ?, updated_at = ?
                  WHERE seq IN (SELECT value FROM json_each(?))`),
    claimedSteps: p(`SELECT ${CLAIMED_STEP_COLUMNS}, s.seq FROM steps s JOIN runs r ON r.id = s.run_id
                     WHERE s.seq IN (SELECT value FROM json_each(?))`).raw(true),

    markSucceeded: p(`UPDATE OR FAIL steps SET status = 'succeeded', result = ?, records = ?, emitted_ids = NULL, has_artifacts = 0,
                        completed_at = ?, finished_at = ?, updated_at = ?, ${clearLease} ${fenced}`),
    setEmittedAndArtifacts: p("UPDATE OR FAIL steps SET emitted_ids = ?, has_artifacts = ? WHERE run_id = ? AND id = ?"),
    markFailed: p(`UPDATE OR FAIL steps SET status = 'failed', error = ?, error_code = ?, completed_at = ?, finished_at = ?,
                     updated_at = ?, ${clearLease} ${fenced}`),
    scheduleRetry: p(`UPDATE OR FAIL steps SET status = 'ready', ready_at = ?, error = ?, error_code = ?, completed_at = ?,
                        updated_at = ?, ${clearLease} ${fenced}`),
    extendLease: p(`UPDATE OR FAIL steps SET lease_expires_at = ?, updated_at = ? ${fenced}`),
    // Giving a lease back or losing it is not an attempt: the attempt counter goes back down.
    releaseLease: p(`UPDATE OR FAIL steps SET status = 'ready', attempt = attempt - 1, ready_at = ?, updated_at = ?, ${clearLease} ${fenced}`),
    expired: p("SELECT run_id, id, reclaims FROM steps WHERE status = 'running' AND lease_expires_at <= ?"),
    reclaimLease: p(`UPDATE OR FAIL steps SET status = 'ready', attempt = attempt - 1, reclaims = reclaims + 1, ready_at = ?,
                       updated_at = ?, ${clearLease} WHERE run_id = ? AND id = ? AND status = 'running'`),
    expireStep: p(`UPDATE OR FAIL steps SET status = 'failed', error = ?, error_code = ?, completed_at = ?, finished_at = ?,
                     updated_at = ?, ${clearLease} WHERE run_id = ? AND id = ? AND status = 'running'`),

    // Built-in waits. Waiting is not an attempt: like a lease given back, the counter goes back down.
    holdsLease: p("SELECT 1 FROM steps WHERE run_id = ? AND id = ? AND lease_token = ? AND status = 'running'"),
    park: p(`UPDATE OR FAIL steps SET status = 'waiting', wake_at = ?, attempt = attempt - 1, updated_at = ?, ${clearLease} ${fenced}`),
    waitOver: p(`UPDATE OR FAIL steps SET status = 'ready', ready_at = ?, attempt = attempt - 1, updated_at = ?, ${clearLease} ${fenced}`),
    anyWaitDue: p("SELECT 1 FROM steps WHERE status = 'waiting' AND wake_at <= ? LIMIT 1"),
    wakeDue: p("UPDATE OR FAIL steps SET status = 'ready', ready_at = ?, updated_at = ? WHERE status = 'waiting' AND wake_at <= ?"),
    insertSignal: p(`INSERT OR FAIL INTO signals (run_id, id, name, payload, created_at) VALUES (?, ?, ?, ?, ?)
                     ON CONFLICT (run_id, id) DO NOTHING`),
    wakeSignaled: p("UPDATE OR FAIL steps SET status = 'ready', ready_at = ?, updated_at = ? WHERE run_id = ? AND wait_for = ? AND status = 'waiting'"),
    signalExists: p("SELECT 1 FROM signals WHERE run_id = ? AND id = ?"),
    oldestSignal: p("SELECT seq, payload FROM signals WHERE run_id = ? AND name = ? AND consumed_by IS NULL ORDER BY seq LIMIT 1"),
    consumeSignal: p("UPDATE OR FAIL signals SET consumed_by = ?, consumed_at = ? WHERE seq = ?"),

    // The event log (the triggers write the rest).
    insertEvent: p("INSERT OR FAIL INTO events (run_id, at, type, step_id, data) VALUES (?, ?, ?, ?, ?)"),
    // An operator's note (JSON) merged into the data of the event a trigger just
    // wrote for the action: the run's newest event of that type (the write lock
    // is held, so it is this transaction's).
    noteEvent: p(`UPDATE OR FAIL events SET data = json_patch(coalesce(data, '{}'), ?)
                  WHERE seq = (SELECT max(seq) FROM events WHERE run_id = ? AND type = ?)`),
    eventsOfRun: p(`SELECT ${EVENT_COLUMNS} FROM events WHERE run_id = ? ORDER BY seq`),
    lastEventSeq: p("SELECT max(seq) AS seq FROM events"),
    eventsAfter: p(`SELECT ${EVENT_COLUMNS} FROM events WHERE seq > ? ORDER BY seq`),

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
    insertArtifact: p(`INSERT OR FAIL INTO artifacts (run_id, id, step_id, name, kind, content_type, metadata, uri, size, body, created_at)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
  };
}

export type Statements = ReturnType<typeof prepareStatements>;
