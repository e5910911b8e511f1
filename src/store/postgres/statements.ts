/**
 * The PostgreSQL store's SQL, in one place. See the docblock of `statements`.
 */
import { finishedRunStatusSql } from "../graph-rules.js";
import { CLAIMED_STEP_COLUMNS } from "../rows.js";
import { scheduleStatements } from "./schedules.js";

/**
 * A claimed step's dependencies come with their outcomes (up to this many, and
 * not those with artifacts): executors read their dependencies' results, and
 * on a server each read would be a round trip.
 */
export const PREFETCH_MAX_DEPS = 16;

// Positions of the extra columns a claim returns after CLAIMED_STEP_COLUMNS.
const CLAIMED_COLUMN_COUNT = CLAIMED_STEP_COLUMNS.split(",").length;
export const CLAIM_TOKEN = CLAIMED_COLUMN_COUNT;
export const CLAIM_DEPS = CLAIMED_COLUMN_COUNT + 1;
export const CLAIM_SEQ = CLAIMED_COLUMN_COUNT + 2;
export const CLAIM_READY_AT = CLAIMED_STEP_COLUMNS.split(",").findIndex((c) => c.trim() === "s.ready_at");

/**
 * The statements, for schema `s` (quoted). Every batch statement reaches its rows
 * through unique keys: `seq = ANY(ARRAY(...))` over a LATERAL lookup per key, so
 * the plan is a handful of index probes whatever the table statistics say (a
 * freshly loaded table has none, and a hash join over the whole table would
 * cost as much as the history).
 */
export function statements(s: string) {
  // Lease up to $5 ready steps of queue $4 and kinds $6 (null: any) for worker $1 at $2 until $3;
  // return them with their runs, lease token, dependencies (with outcomes) and seq.
  const returned = [
    ...CLAIMED_STEP_COLUMNS.split(",").map((c) => c.trim()),
    "s.lease_token",
    `CASE WHEN s.deps_total > 0 THEN
       (SELECT json_agg(json_build_array(e.dep_id, e.on_state,
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
        SELECT c.seq FROM ${s}.steps c WHERE c.status = 'ready' AND c.queue = $4 AND c.ready_at <= $2
          AND NOT EXISTS (SELECT 1 FROM ${s}.paused_runs p WHERE p.run_id = c.run_id)
          AND ($6::text[] IS NULL OR c.kind = ANY($6::text[]))
        ORDER BY c.priority DESC, c.ready_at, c.seq LIMIT $5 FOR UPDATE OF c SKIP LOCKED))
      AND r.id = s.run_id
    RETURNING ${returned.map((c, i) => `${c} AS c${i}`).join(", ")}`;
  /**
   * CTEs qp (the distinct (queue, priority) pairs of ready steps: a skip scan of
   * steps_ready, priorities being few) and heads: per pair, the first step
   * claimable at \`now\` (its ready_at and seq, null if none) and the next
   * readiness after \`now\`. Every lookup is one probe of steps_ready.
   */
  const queueScan = (now: string) => `qp(queue, priority) AS (
      (SELECT queue, priority FROM ${s}.steps WHERE status = 'ready' ORDER BY queue, priority DESC LIMIT 1)
      UNION ALL
      SELECT n.queue, n.priority FROM qp
      CROSS JOIN LATERAL (
        (SELECT queue, priority FROM ${s}.steps WHERE status = 'ready' AND queue = qp.queue AND priority < qp.priority
         ORDER BY priority DESC LIMIT 1)
        UNION ALL
        (SELECT queue, priority FROM ${s}.steps WHERE status = 'ready' AND queue > qp.queue ORDER BY queue, priority DESC LIMIT 1)
        LIMIT 1) AS n),
    heads AS (
      SELECT qp.queue, qp.priority, h.ready_at, h.seq,
        (SELECT n.ready_at FROM ${s}.steps n WHERE n.status = 'ready' AND n.queue = qp.queue AND n.priority = qp.priority
           AND n.ready_at > ${now} ORDER BY n.ready_at LIMIT 1) AS next
      FROM qp
      LEFT JOIN LATERAL (SELECT ready_at, seq FROM ${s}.steps o WHERE o.status = 'ready' AND o.queue = qp.queue
                           AND o.priority = qp.priority AND o.ready_at <= ${now}
                         ORDER BY ready_at, seq LIMIT 1) AS h ON true)`;
  /**
   * The earliest lease expiry: per queue with running steps (a skip scan of
   * steps_running), its first expiry in index order. Ordered index scans mark the
   * entries of rows no longer running dead as they pass them, so later scans skip
   * them; a plain `min()` here is planned as a bitmap scan, which never does, and
   * read every lease since the last vacuum (a third of a claim's time late in a
   * drain of 5 000 runs).
   */
  const leaseMin = `(WITH RECURSIVE rq(queue) AS (
      (SELECT queue FROM ${s}.steps WHERE status = 'running' ORDER BY queue LIMIT 1)
      UNION ALL
      SELECT (SELECT queue FROM ${s}.steps WHERE status = 'running' AND queue > rq.queue ORDER BY queue LIMIT 1)
      FROM rq WHERE rq.queue IS NOT NULL)
    SELECT min((SELECT lease_expires_at FROM ${s}.steps WHERE status = 'running' AND queue = rq.queue
                ORDER BY lease_expires_at LIMIT 1)) FROM rq)`;
  /** The earliest lease expiry, timer of a waiting step, and future tick of an unpaused schedule. */
  const timers = (now: string) => `${leaseMin} AS lease_min,
                  (SELECT min(wake_at) FROM ${s}.steps WHERE status = 'waiting') AS wake_min,
                  (SELECT min(next_fire_at) FROM ${s}.schedules WHERE NOT paused AND next_fire_at > ${now}) AS fire_min`;
  /** When a step that becomes ready at \`now\` (of row alias \`t\`) may be claimed: its delay after now, not before its runAt. */
  const readyAt = (now: string) => `GREATEST(${now} + t.delay_ms, coalesce(t.not_before, 0))`;
  /**
   * Run \`run\` has a failed step nothing handled: no on_state failed/completed
   * edge out of it leads to a step that ran (was not skipped). A probe of
   * steps_unsuccessful_by_run (usually nothing for the run); written as
   * \`IN (...) AND <> 'canceled'\` so that only that index matches: a plain
   * \`status = 'failed'\` would let the planner walk steps_failed (every failure
   * of history) instead.
   */
  const unhandledFailure = (run: string) => `(SELECT true FROM ${s}.steps f WHERE f.run_id = ${run}
      AND f.status IN ('failed', 'canceled') AND f.status <> 'canceled'
      AND NOT EXISTS (SELECT 1 FROM ${s}.step_deps h
                      CROSS JOIN LATERAL (SELECT status FROM ${s}.steps WHERE run_id = h.run_id AND id = h.step_id LIMIT 1) AS handler
                      WHERE h.run_id = f.run_id AND h.dep_id = f.id AND h.on_state IN ('failed', 'completed') AND handler.status <> 'skipped')
      LIMIT 1) IS NOT NULL`;
  const anyCanceled = (run: string) => `(SELECT true FROM ${s}.steps c WHERE c.run_id = ${run} AND c.status = 'canceled' LIMIT 1) IS NOT NULL`;
  /** INSERT of steps from 22 parallel arrays (see `stepRowValues`) starting at parameter $from; only for runs in CTE `onlyRunsIn`, if given. */
  // With `leaseFrom`: a lease token per step ($leaseFrom, null for most) and the
  // lease's worker, acquisition and expiry ($leaseFrom + 1..3). A step with a token
  // is inserted running, leased (a StartLease): attempt 1.
  const insertSteps = (from: number, onlyRunsIn?: string, leaseFrom?: number) => {
    const types = ["text", "text", "text", "text", "text", "text", "int", "int", "text", "int", "int", "text", "text", "text", "text",
      "bigint", "bigint", "bigint", "bigint", "int", "int", "text"];
    const arrays = types.map((t, i) => `$${from + i}::${t}[]`).join(", ");
    const leased = (value: string) => `CASE WHEN lease_token IS NULL THEN NULL ELSE ${value} END`;
    return `INSERT INTO ${s}.steps (run_id, id, kind, queue, status, input, deps_total, deps_waiting, retry, max_attempts,
              priority, parent_id, dedup_key, site, metadata, ready_at, finished_at, created_at, updated_at,
              not_before, delay_ms, timeout_ms, wait_for
              ${leaseFrom ? ", attempt, lease_token, lease_worker, lease_acquired_at, lease_expires_at, started_at" : ""})
            SELECT run_id, id, kind, queue, status, input, deps_total, deps_waiting, retry, max_attempts,
              priority, parent_id, dedup_key, site, metadata, ready_at, finished_at, now,
              ${leaseFrom ? `coalesce(${leased(`$${leaseFrom + 2}::bigint`)}, now)` : "now"},
              not_before, delay_ms, timeout_ms, wait_for
              ${leaseFrom ? `, CASE WHEN lease_token IS NULL THEN 0 ELSE 1 END, lease_token, ${leased(`$${leaseFrom + 1}::text`)},
                ${leased(`$${leaseFrom + 2}::bigint`)}, ${leased(`$${leaseFrom + 3}::bigint`)}, ${leased(`$${leaseFrom + 2}::bigint`)}` : ""}
            FROM unnest(${arrays}${leaseFrom ? `, $${leaseFrom}::text[]` : ""}) AS u(run_id, id, kind, queue, status, input, deps_total, deps_waiting, retry, max_attempts,
              priority, parent_id, dedup_key, site, metadata, ready_at, finished_at, now, not_before, delay_ms, timeout_ms, wait_for
              ${leaseFrom ? ", lease_token" : ""})
            ${onlyRunsIn ? `WHERE u.run_id IN (SELECT id FROM ${onlyRunsIn})` : ""}`;
  };
  /** INSERT of edges from 4 parallel arrays (run, dep, step, on_state) starting at parameter $from. */
  const insertEdges = (from: number, onlyRunsIn?: string) =>
    `INSERT INTO ${s}.step_deps (run_id, dep_id, step_id, required, on_state)
     SELECT run_id, dep_id, step_id, on_state <> 'completed', on_state
     FROM unnest($${from}::text[], $${from + 1}::text[], $${from + 2}::text[], $${from + 3}::text[]) AS e(run_id, dep_id, step_id, on_state)
     ${onlyRunsIn ? `WHERE e.run_id IN (SELECT id FROM ${onlyRunsIn})` : ""}`;
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
    // $1..$11 runs, $12..$33 steps (see stepRowValues), $34..$37 edges, $38 channel, $39 payload, $40..$43 start leases, $44 runs' package versions.
    createRuns: `WITH ins AS (
                   INSERT INTO ${s}.runs (id, package, name, status, input, metadata, created_at, updated_at, parent_run_id, parent_step_id, output_step,
                                          package_version)
                   SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::bigint[],
                                        $9::text[], $10::text[], $11::text[], $44::text[])
                   ON CONFLICT (id) DO NOTHING RETURNING id),
                 st AS (${insertSteps(12, "ins", 40)} RETURNING status),
                 ed AS (${insertEdges(34, "ins")})
                 -- The runs are written to their end first (st reads all of ins), so they are logged before their steps.
                 -- created: null when every run was (the common case: no thousands of ids to send back).
                 SELECT CASE WHEN (SELECT count(*) FROM ins) = cardinality($1::text[]) THEN NULL ELSE ARRAY(SELECT id FROM ins) END AS created,
                   (SELECT pg_notify($38, $39) FROM (SELECT 1 FROM st WHERE status = 'ready' LIMIT 1) AS ready) AS notified`,
    runsByIds: `SELECT * FROM ${s}.runs WHERE id = ANY($1::text[])`,
    getRun: `SELECT * FROM ${s}.runs WHERE id = $1`,
    runSeq: `SELECT seq FROM ${s}.runs WHERE id = $1`,
    // Runs with no unfinished step left. Each check is a LIMIT 1 probe of one run
    // (a hashed anti-join over every unfinished step is what the planner picks
    // otherwise, whenever its statistics are stale).
    finishableRuns: `SELECT r.id, ${unhandledFailure("r.id")} AS failed, ${anyCanceled("r.id")} AS canceled
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
                   edges AS (
                     SELECT e.run_id, e.step_id, e.on_state FROM done
                     CROSS JOIN LATERAL (SELECT run_id, step_id, on_state FROM ${s}.step_deps WHERE run_id = done.run_id AND dep_id = done.id OFFSET 0) AS e),
                   -- A success satisfies succeeded/completed edges; failed ones skip their dependent (returned, for #propagate).
                   counts AS (
                     SELECT run_id, step_id, count(*)::int AS n FROM edges WHERE on_state <> 'failed' GROUP BY run_id, step_id),
                   targets AS (
                     SELECT x.seq, c.n FROM counts c
                     CROSS JOIN LATERAL (SELECT seq FROM ${s}.steps WHERE run_id = c.run_id AND id = c.step_id LIMIT 1) AS x),
                   readied AS (
                     UPDATE ${s}.steps t SET deps_waiting = t.deps_waiting - c.n,
                       status   = CASE WHEN t.deps_waiting <= c.n THEN 'ready' ELSE t.status END,
                       ready_at = CASE WHEN t.deps_waiting <= c.n THEN ${readyAt("$7::bigint")} ELSE t.ready_at END,
                       updated_at = $7
                     FROM targets c
                     WHERE t.seq = ANY(ARRAY(SELECT seq FROM targets)) AND t.seq = c.seq AND t.status = 'pending'
                     RETURNING t.status = 'ready' AS ready),
                   finishable AS (
                     SELECT r.seq, ${unhandledFailure("r.id")} AS failed, ${anyCanceled("r.id")} AS canceled
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
                     RETURNING r.id, r.parent_run_id)
                   -- Read in causal order, each write to its end (the event log's order
                   -- across tables, see migration 003): the steps finished and readied, then the runs.
                   SELECT ARRAY(SELECT run_id FROM done) AS run_ids, ARRAY(SELECT id FROM done) AS ids,
                     (SELECT count(*) FROM readied WHERE ready) > 0 AS readied,
                     EXISTS (SELECT 1 FROM ${s}.steps WHERE status = 'ready' AND ready_at <= $7
                             AND queue = ANY(ARRAY(SELECT DISTINCT queue FROM done))) AS more,
                     ARRAY(SELECT id FROM finished WHERE parent_run_id IS NOT NULL) AS children, ARRAY(SELECT id FROM finished) AS finished,
                     ARRAY(SELECT run_id FROM edges WHERE on_state = 'failed') AS violated_runs,
                     ARRAY(SELECT step_id FROM edges WHERE on_state = 'failed') AS violated_steps`,
    // Only a running run finishes: a canceled one stays canceled.
    finishRuns: `UPDATE ${s}.runs r SET status = u.status, updated_at = $3
                 FROM unnest($1::text[], $2::text[]) AS u(id, status)
                 WHERE r.seq = ANY(ARRAY(SELECT x.seq FROM unnest($1::text[]) AS k(id)
                                         CROSS JOIN LATERAL (SELECT seq FROM ${s}.runs WHERE id = k.id LIMIT 1) AS x))
                   AND r.id = u.id AND r.status = 'running'
                 RETURNING r.id, r.parent_run_id`,

    insertSteps: insertSteps(1),
    insertEdges: insertEdges(1),
    stepsByIdsOrKeys: `SELECT id, status, dedup_key FROM ${s}.steps
                       WHERE run_id = $1 AND (id = ANY($2::text[]) OR dedup_key = ANY($3::text[]))`,
    stepsOfRun: `SELECT * FROM ${s}.steps WHERE run_id = $1 ORDER BY seq`,
    edgesOfRun: `SELECT step_id, dep_id, on_state FROM ${s}.step_deps WHERE run_id = $1 ORDER BY step_id, dep_id`,
    dependentsOf: `SELECT e.run_id, e.dep_id, e.step_id, e.on_state
                   FROM unnest($1::text[], $2::text[]) AS d(run_id, id)
                   CROSS JOIN LATERAL (SELECT * FROM ${s}.step_deps WHERE run_id = d.run_id AND dep_id = d.id OFFSET 0) AS e`,
    decrementWaiting: `UPDATE ${s}.steps t SET deps_waiting = t.deps_waiting - u.n,
                         status   = CASE WHEN t.deps_waiting <= u.n THEN 'ready' ELSE t.status END,
                         ready_at = CASE WHEN t.deps_waiting <= u.n THEN ${readyAt("$4::bigint")} ELSE t.ready_at END,
                         updated_at = $4
                       FROM unnest($1::text[], $2::text[], $3::int[]) AS u(run_id, id, n)
                       WHERE t.seq = ANY(${seqsOf("$1", "$2")}) AND t.run_id = u.run_id AND t.id = u.id AND t.status = 'pending'
                       RETURNING t.status = 'ready' AS ready`,
    skipSteps: `UPDATE ${s}.steps t SET status = 'skipped', finished_at = $3, updated_at = $3
                WHERE t.seq = ANY(${seqsOf("$1", "$2")}) AND t.status = 'pending'
                RETURNING t.run_id, t.id`,
    reviveSteps: `UPDATE ${s}.steps t SET status = u.status, deps_waiting = u.waiting,
                    ready_at = CASE WHEN u.status = 'ready' THEN ${readyAt("$5::bigint")} ELSE NULL END,
                    wake_at = NULL, finished_at = NULL, attempt = 0, reclaims = 0, updated_at = $5::bigint, ${clearLease}
                  FROM unnest($2::text[], $3::text[], $4::int[]) AS u(id, status, waiting)
                  WHERE t.seq = ANY(ARRAY(SELECT x.seq FROM unnest($2::text[]) AS k(id)
                                          CROSS JOIN LATERAL (SELECT seq FROM ${s}.steps WHERE run_id = $1 AND id = k.id LIMIT 1) AS x))
                    AND t.id = u.id`,
    // The unfinished steps of runs $1 (a probe of steps_active per run).
    cancelSteps: `UPDATE ${s}.steps t SET status = 'canceled', finished_at = $2, updated_at = $2, ${clearLease}
                  WHERE t.seq = ANY(ARRAY(SELECT x.seq FROM unnest($1::text[]) AS k(id)
                                          CROSS JOIN LATERAL (SELECT seq FROM ${s}.steps WHERE run_id = k.id AND finished_at IS NULL OFFSET 0) AS x))
                    AND t.status IN ('pending', 'ready', 'running', 'waiting')`,

    // Every (queue, priority) with ready steps, as [queue, priority, head ready_at,
    // head seq, next future ready_at] (see queueScan), with the earliest timers.
    readyQueues: `WITH RECURSIVE ${queueScan("$1")}
                  SELECT ${timers("$1")},
                    (SELECT json_agg(json_build_array(queue, priority, ready_at, seq, next)) FROM heads) AS queues`,
    // The default queue claimed (as \`claim\`) in the statement that scans the
    // queues: [queues, lease_min, wake_min, fire_min, ...claimed columns], one row
    // per claimed step, or one row of nulls after the first four. The scan reads the
    // snapshot before the claim: the default queue's heads are stale, its next is not.
    claimDefault: `WITH RECURSIVE claimed AS (${claimSql}), ${queueScan("$2")}
                   SELECT h.*, c.* FROM (
                     SELECT (SELECT json_agg(json_build_array(queue, priority, ready_at, seq, next)) FROM heads) AS queues,
                       ${timers("$2")}) AS h
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

    // ---- waits, signals, child runs ----
    // Locks the rows of wait outcomes whose lease is held (fenced), before their
    // signal or child run is looked at. Status untouched: no event.
    lockWaits: `UPDATE ${s}.steps t SET updated_at = u.now
                FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) AS u(run_id, id, token, now)
                WHERE t.seq = ANY(${seqsOf("$1", "$2")}) AND t.run_id = u.run_id AND t.id = u.id
                  AND t.lease_token = u.token
                RETURNING t.run_id, t.id`,
    // The oldest unconsumed signal $2 of run $1, taken by step $3 at $4.
    consumeSignal: `UPDATE ${s}.signals g SET consumed_by = $3, consumed_at = $4
                    WHERE g.seq = ANY(ARRAY(SELECT seq FROM ${s}.signals WHERE run_id = $1 AND name = $2 AND consumed_by IS NULL
                                            ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED))
                    RETURNING g.payload`,
    runStatuses: `SELECT r.id, r.status FROM unnest($1::text[]) AS k(id)
                  CROSS JOIN LATERAL (SELECT id, status FROM ${s}.runs WHERE id = k.id LIMIT 1) AS r`,
    // A wait whose child run has finished: back to ready at once, attempt not spent.
    readyWaits: `UPDATE ${s}.steps t SET status = 'ready', attempt = t.attempt - 1, ready_at = u.now, updated_at = u.now, ${clearLease}
                 FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) AS u(run_id, id, token, now)
                 WHERE t.seq = ANY(${seqsOf("$1", "$2")}) AND t.run_id = u.run_id AND t.id = u.id
                   AND t.lease_token = u.token
                 RETURNING t.run_id, t.id`,
    // A wait parked: waiting until woken (by wakeDue at wake_at, a signal, its child's end), attempt not spent.
    parkWaits: `UPDATE ${s}.steps t SET status = 'waiting', attempt = t.attempt - 1, wake_at = u.wake_at, updated_at = u.now, ${clearLease}
                FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[]) AS u(run_id, id, token, wake_at, now)
                WHERE t.seq = ANY(${seqsOf("$1", "$2")}) AND t.run_id = u.run_id AND t.id = u.id
                  AND t.lease_token = u.token
                RETURNING t.run_id, t.id, t.wake_at`,
    // The steps of parent runs waiting for the runs $1 that just finished: a
    // waiting one becomes ready; a running one is written (locked) all the same,
    // so that its wait outcome, racing this, sees the child finished.
    wakeParents: `UPDATE ${s}.steps t SET status = CASE WHEN t.status = 'waiting' THEN 'ready' ELSE t.status END,
                    ready_at = CASE WHEN t.status = 'waiting' THEN $2::bigint ELSE t.ready_at END, updated_at = $2
                  WHERE t.seq = ANY(ARRAY(SELECT x.seq FROM unnest($1::text[]) AS k(id)
                                          CROSS JOIN LATERAL (SELECT parent_run_id, parent_step_id FROM ${s}.runs WHERE id = k.id LIMIT 1) AS c
                                          CROSS JOIN LATERAL (SELECT seq FROM ${s}.steps
                                                              WHERE run_id = c.parent_run_id AND id = c.parent_step_id LIMIT 1) AS x))
                    AND t.status IN ('running', 'waiting')
                  RETURNING t.status = 'ready' AS ready`,
    anyDue: `SELECT 1 FROM ${s}.steps WHERE status = 'waiting' AND wake_at <= $1 LIMIT 1`,
    wakeDue: `UPDATE ${s}.steps SET status = 'ready', ready_at = $1, updated_at = $1
              WHERE seq = ANY(ARRAY(SELECT seq FROM ${s}.steps WHERE status = 'waiting' AND wake_at <= $1 FOR UPDATE SKIP LOCKED))`,
    // Stores signal $2 (id) named $3 for run $1 unless that id exists, and wakes
    // the run's steps waiting for it (running ones are locked: see wakeParents).
    signal: `WITH ins AS (
               INSERT INTO ${s}.signals (run_id, id, name, payload, created_at) VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (run_id, id) DO NOTHING RETURNING seq),
             woke AS (
               UPDATE ${s}.steps t SET status = CASE WHEN t.status = 'waiting' THEN 'ready' ELSE t.status END,
                 ready_at = CASE WHEN t.status = 'waiting' THEN $5::bigint ELSE t.ready_at END, updated_at = $5
               WHERE t.run_id = $1 AND t.wait_for = 'signal:' || $3 AND t.status IN ('running', 'waiting')
                 AND EXISTS (SELECT 1 FROM ins)
               RETURNING t.status = 'ready' AS ready)
             -- Each write read to its end, the signal first (the event log's order, see migration 003).
             SELECT (SELECT count(*) FROM ins) > 0 AS delivered, (SELECT count(*) FROM woke WHERE ready) > 0 AS readied`,

    signalExists: `SELECT 1 FROM ${s}.signals WHERE run_id = $1 AND id = $2`,
    schedules: scheduleStatements(s),
  };
}
