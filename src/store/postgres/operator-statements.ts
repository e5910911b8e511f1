/**
 * The statements of operator control (pause, resume, cancel, the notes an
 * operator leaves), of reading a run and its event log, and of retention,
 * for schema `s` (quoted). The write, claim and completion path is in
 * `statements.ts`.
 */
import { runWithCounts } from "./queries.js";

export function operatorStatements(s: string) {
  /** Run alias \`r\` has no parent run, or its parent has finished. */
  const parentFinished = (r: string) => `(${r}.parent_run_id IS NULL OR NOT EXISTS (SELECT 1 FROM ${s}.runs p
      WHERE p.id = ${r}.parent_run_id AND p.status IN ('pending', 'running', 'paused')))`;
  return {
    readRun: `SELECT ${runWithCounts(s)} FROM ${s}.runs r WHERE r.id = $1`,
    // An operator's note (JSON $1) merged into the data of the event a trigger
    // just logged for the action: run $2's newest event of type $3 (the run's
    // lock is held, so it is this transaction's). Returns it for the capture.
    noteEvent: `UPDATE ${s}.events SET data = (coalesce(data, '{}')::jsonb || $1::jsonb)::text
                WHERE run_id = $2 AND seq = (SELECT max(seq) FROM ${s}.events WHERE run_id = $2 AND type = $3)
                RETURNING seq, data`,
    // The same change to the copy the capture trigger took when the row was inserted.
    noteCapturedEvent: "UPDATE pg_temp.trellis_captured_events SET data = $2 WHERE seq = $1",
    // ---- operator control ----
    insertEvent: `INSERT INTO ${s}.events (run_id, at, type, step_id, data) VALUES ($1, $2, $3, $4, $5)`,
    pauseRun: `WITH p AS (INSERT INTO ${s}.paused_runs (run_id) VALUES ($1) ON CONFLICT DO NOTHING)
               UPDATE ${s}.runs SET status = 'paused', updated_at = $2 WHERE id = $1`,
    resumeRun: `WITH p AS (DELETE FROM ${s}.paused_runs WHERE run_id = $1)
                UPDATE ${s}.runs SET status = 'running', updated_at = $2 WHERE id = $1`,
    // An operator retry reopens the run, unless it is paused (it stays paused).
    reopenRun: `UPDATE ${s}.runs SET status = 'running', updated_at = $2 WHERE id = $1 AND status <> 'paused'`,
    // The unfinished runs below run $1, through every level of unfinished child runs.
    // (Children through runs_children, their status checked after: OFFSET 0 keeps
    // the planner from AND-ing runs_by_status, as large as the history, into it.)
    descendants: `WITH RECURSIVE d(id) AS (
                    SELECT c.id FROM (SELECT id, status FROM ${s}.runs WHERE parent_run_id = $1 OFFSET 0) AS c
                    WHERE c.status IN ('running', 'pending', 'paused')
                    UNION
                    SELECT c.id FROM d
                    CROSS JOIN LATERAL (SELECT id, status FROM ${s}.runs WHERE parent_run_id = d.id OFFSET 0) AS c
                    WHERE c.status IN ('running', 'pending', 'paused'))
                  SELECT id FROM d`,
    cancelRuns: `WITH p AS (DELETE FROM ${s}.paused_runs WHERE run_id = ANY($1::text[]))
                 UPDATE ${s}.runs r SET status = 'canceled', updated_at = $2
                 WHERE r.seq = ANY(ARRAY(SELECT x.seq FROM unnest($1::text[]) AS k(id)
                                         CROSS JOIN LATERAL (SELECT seq FROM ${s}.runs WHERE id = k.id LIMIT 1) AS x))
                 RETURNING r.id, r.parent_run_id`,

    // ---- reading the log and the dead letters; retention ----
    eventsOfRun: `SELECT * FROM ${s}.events WHERE run_id = $1 ORDER BY seq`,
    // The events this transaction wrote while capturing (see migration 2's events_captured), taken out of the capture table.
    capturedEvents: `WITH c AS (DELETE FROM pg_temp.trellis_captured_events RETURNING *) SELECT * FROM c ORDER BY seq`,
    failedCursor: `SELECT finished_at, seq FROM ${s}.steps WHERE run_id = $1 AND id = $2 AND status = 'failed'`,
    edgesOfSteps: `SELECT e.run_id, e.step_id, e.dep_id, e.on_state FROM unnest($1::text[], $2::text[]) AS k(run_id, id)
                   CROSS JOIN LATERAL (SELECT run_id, step_id, dep_id, on_state FROM ${s}.step_deps
                                       WHERE run_id = k.run_id AND step_id = k.id ORDER BY dep_id) AS e`,
    // Up to $3 runs finished (status in $2) before $1, oldest first: read through
    // runs_finished (run with enable_sort off: see \`purge\` in the store).
    // A child run whose parent has not finished stays: the parent's step may still read it.
    purgeable: `SELECT id FROM ${s}.runs c WHERE status IN ('succeeded', 'failed', 'canceled') AND status = ANY($2::text[])
                  AND updated_at < $1 AND ${parentFinished("c")} ORDER BY updated_at LIMIT $3`,
    // Deletes runs $1 (rechecked: status in $3, finished before $2) with everything
    // they hold, each table's rows found by a probe per run (ctid: plan-robust);
    // returns the ids of their artifacts kept in an ArtifactStore, to delete there.
    purge: `WITH doomed AS (
              SELECT r.id FROM unnest($1::text[]) AS k(id)
              CROSS JOIN LATERAL (SELECT id, status, updated_at, parent_run_id FROM ${s}.runs WHERE id = k.id LIMIT 1) AS r
              WHERE r.status IN ('succeeded', 'failed', 'canceled') AND r.status = ANY($3::text[]) AND r.updated_at < $2
                AND ${parentFinished("r")}),
            ev AS (DELETE FROM ${s}.events WHERE ctid = ANY(ARRAY(SELECT x.ctid FROM doomed CROSS JOIN LATERAL (SELECT ctid FROM ${s}.events WHERE run_id = doomed.id OFFSET 0) AS x))),
            sg AS (DELETE FROM ${s}.signals WHERE ctid = ANY(ARRAY(SELECT x.ctid FROM doomed CROSS JOIN LATERAL (SELECT ctid FROM ${s}.signals WHERE run_id = doomed.id OFFSET 0) AS x))),
            ar AS (DELETE FROM ${s}.artifacts WHERE ctid = ANY(ARRAY(SELECT x.ctid FROM doomed CROSS JOIN LATERAL (SELECT ctid FROM ${s}.artifacts WHERE run_id = doomed.id OFFSET 0) AS x)) RETURNING id, uri),
            ed AS (DELETE FROM ${s}.step_deps WHERE ctid = ANY(ARRAY(SELECT x.ctid FROM doomed CROSS JOIN LATERAL (SELECT ctid FROM ${s}.step_deps WHERE run_id = doomed.id OFFSET 0) AS x))),
            st AS (DELETE FROM ${s}.steps WHERE ctid = ANY(ARRAY(SELECT x.ctid FROM doomed CROSS JOIN LATERAL (SELECT ctid FROM ${s}.steps WHERE run_id = doomed.id OFFSET 0) AS x))),
            pr AS (DELETE FROM ${s}.paused_runs WHERE ctid = ANY(ARRAY(SELECT x.ctid FROM doomed CROSS JOIN LATERAL (SELECT ctid FROM ${s}.paused_runs WHERE run_id = doomed.id OFFSET 0) AS x))),
            ru AS (DELETE FROM ${s}.runs WHERE ctid = ANY(ARRAY(SELECT x.ctid FROM doomed CROSS JOIN LATERAL (SELECT ctid FROM ${s}.runs WHERE id = doomed.id OFFSET 0) AS x)) RETURNING 1)
            SELECT (SELECT count(*)::int FROM ru) AS n, ARRAY(SELECT id FROM ar WHERE uri IS NOT NULL) AS stored`,
  };
}
