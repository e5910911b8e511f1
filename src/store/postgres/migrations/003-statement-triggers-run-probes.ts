import type { Migration } from "../../migration-ledger.js";

export const migration: Migration = {
  version: 3,
  name: "003_statement_triggers_run_probes",
  sql: `
      -- The event log of 002, written by statement-level triggers over transition
      -- tables: one trigger call per statement instead of one plpgsql call per row
      -- (a fifth of the server's time on a drain of one-step runs).
      --
      -- Order. Each trigger logs its rows in the order the statement wrote them:
      -- a transition table is scanned in that order, and the update triggers,
      -- which join old and new rows, sort by the position in the new ones. A
      -- statement that writes two tables logs each table when the last of its
      -- writes to that table ends, so a statement that fuses writes to several
      -- tables must finish them in causal order (the store's fused statements read
      -- each CTE to its end in that order; see statements.ts).
      --
      -- A step leased when its run starts (a StartLease) is inserted running: it is
      -- logged step_ready, then step_claimed, as a step claimed later.

      -- "Has this run a failed (a canceled) step?", asked whenever a run finishes:
      -- a probe of an index as small as the failures, not a read of the run's steps.
      CREATE INDEX steps_unsuccessful_by_run ON {schema}.steps (run_id, status, id) WHERE status IN ('failed', 'canceled');
      DROP TRIGGER runs_started ON {schema}.runs;
      DROP TRIGGER runs_status ON {schema}.runs;
      DROP TRIGGER steps_created ON {schema}.steps;
      DROP TRIGGER steps_status ON {schema}.steps;
      DROP TRIGGER signals_received ON {schema}.signals;
      DROP FUNCTION {schema}.trellis_runs_started();
      DROP FUNCTION {schema}.trellis_runs_status();
      DROP FUNCTION {schema}.trellis_steps_created();
      DROP FUNCTION {schema}.trellis_steps_status();
      DROP FUNCTION {schema}.trellis_signals_received();

      CREATE FUNCTION {schema}.trellis_log_runs_inserted() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN
        INSERT INTO {schema}.events (run_id, at, type, data)
        SELECT n.id, n.created_at, 'run_started',
          CASE WHEN n.parent_run_id IS NULL THEN json_build_object('package', n.package)
               ELSE json_build_object('package', n.package, 'parentRunId', n.parent_run_id, 'parentStepId', n.parent_step_id) END::text
        FROM new_runs n;
        RETURN NULL;
      END $fn$;
      CREATE TRIGGER runs_inserted AFTER INSERT ON {schema}.runs REFERENCING NEW TABLE AS new_runs
        FOR EACH STATEMENT EXECUTE FUNCTION {schema}.trellis_log_runs_inserted();

      CREATE FUNCTION {schema}.trellis_log_runs_updated() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN
        INSERT INTO {schema}.events (run_id, at, type)
        SELECT n.id, n.updated_at, e.t
        FROM (SELECT r.*, row_number() OVER () AS ord FROM new_runs r) AS n
        JOIN old_runs o ON o.seq = n.seq
        CROSS JOIN LATERAL (SELECT CASE
            WHEN n.status = 'paused' THEN 'run_paused'
            WHEN n.status = 'running' AND o.status = 'paused' THEN 'run_resumed'
            WHEN n.status IN ('succeeded', 'failed', 'canceled') THEN 'run_' || n.status
          END AS t) AS e
        WHERE o.status <> n.status AND e.t IS NOT NULL
        ORDER BY n.ord;
        RETURN NULL;
      END $fn$;
      CREATE TRIGGER runs_updated AFTER UPDATE ON {schema}.runs REFERENCING OLD TABLE AS old_runs NEW TABLE AS new_runs
        FOR EACH STATEMENT EXECUTE FUNCTION {schema}.trellis_log_runs_updated();

      CREATE FUNCTION {schema}.trellis_log_steps_inserted() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN
        INSERT INTO {schema}.events (run_id, at, type, step_id, attempt, worker_id, data)
        SELECT n.run_id, CASE e.k WHEN 1 THEN n.created_at ELSE n.updated_at END, e.t, n.id,
          CASE e.k WHEN 2 THEN n.attempt END, CASE e.k WHEN 2 THEN n.lease_worker END,
          CASE WHEN e.k = 1 AND n.status <> 'skipped' AND n.ready_at > n.created_at THEN json_build_object('readyAt', n.ready_at)::text END
        FROM new_steps n
        CROSS JOIN LATERAL (VALUES
          (1, CASE n.status WHEN 'running' THEN 'step_ready' ELSE 'step_' || n.status END),
          (2, CASE n.status WHEN 'running' THEN 'step_claimed' END)) AS e(k, t)
        WHERE n.status IN ('ready', 'skipped', 'running') AND e.t IS NOT NULL;
        RETURN NULL;
      END $fn$;
      CREATE TRIGGER steps_inserted AFTER INSERT ON {schema}.steps REFERENCING NEW TABLE AS new_steps
        FOR EACH STATEMENT EXECUTE FUNCTION {schema}.trellis_log_steps_inserted();

      -- running -> ready is a reclaim (reclaims went up), a retry (the attempt
      -- stays spent) or a lease given back / a wait that found its child done
      -- (the attempt counter goes back down).
      CREATE FUNCTION {schema}.trellis_log_steps_updated() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN
        INSERT INTO {schema}.events (run_id, at, type, step_id, attempt, worker_id, error, data)
        SELECT n.run_id, n.updated_at, e.t, n.id,
          CASE WHEN e.t IN ('step_claimed', 'step_succeeded', 'step_failed', 'step_retry_scheduled') THEN n.attempt
               WHEN e.t = 'step_reclaimed' THEN o.attempt END,
          CASE WHEN e.t = 'step_claimed' THEN n.lease_worker
               WHEN e.t IN ('step_succeeded', 'step_failed', 'step_retry_scheduled', 'step_reclaimed', 'step_waiting') THEN o.lease_worker END,
          CASE WHEN e.t IN ('step_failed', 'step_retry_scheduled') THEN n.error END,
          CASE WHEN e.t = 'step_waiting' THEN json_build_object('wakeAt', n.wake_at, 'waitingFor', n.wait_for)::text
               WHEN e.t IN ('step_ready', 'step_retry_scheduled') AND n.ready_at > n.updated_at THEN json_build_object('readyAt', n.ready_at)::text END
        FROM (SELECT s.*, row_number() OVER () AS ord FROM new_steps s) AS n
        JOIN old_steps o ON o.seq = n.seq
        CROSS JOIN LATERAL (SELECT CASE n.status
            WHEN 'running'   THEN 'step_claimed'
            WHEN 'succeeded' THEN 'step_succeeded'
            WHEN 'failed'    THEN 'step_failed'
            WHEN 'skipped'   THEN 'step_skipped'
            WHEN 'canceled'  THEN 'step_canceled'
            WHEN 'waiting'   THEN 'step_waiting'
            WHEN 'ready' THEN CASE
              WHEN o.status <> 'running' THEN 'step_ready'
              WHEN n.reclaims > o.reclaims THEN 'step_reclaimed'
              WHEN n.attempt = o.attempt THEN 'step_retry_scheduled'
              ELSE 'step_ready' END
          END AS t) AS e
        WHERE o.status <> n.status AND e.t IS NOT NULL
        ORDER BY n.ord;
        RETURN NULL;
      END $fn$;
      CREATE TRIGGER steps_updated AFTER UPDATE ON {schema}.steps REFERENCING OLD TABLE AS old_steps NEW TABLE AS new_steps
        FOR EACH STATEMENT EXECUTE FUNCTION {schema}.trellis_log_steps_updated();

      CREATE FUNCTION {schema}.trellis_log_signals_inserted() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN
        INSERT INTO {schema}.events (run_id, at, type, data)
        SELECT n.run_id, n.created_at, 'signal_received', json_build_object('name', n.name, 'id', n.id)::text
        FROM new_signals n;
        RETURN NULL;
      END $fn$;
      CREATE TRIGGER signals_inserted AFTER INSERT ON {schema}.signals REFERENCING NEW TABLE AS new_signals
        FOR EACH STATEMENT EXECUTE FUNCTION {schema}.trellis_log_signals_inserted();
    `,
};
