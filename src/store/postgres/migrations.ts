/**
 * PostgreSQL schema, as versioned, append-only migrations. Never edit a released
 * migration: add the next one. Every object lives in the configured schema; the
 * SQL names it through `{schema}`, replaced by the quoted schema name.
 *
 * `migrate.ts` applies them. Times are integer epoch milliseconds (bigint);
 * values are superjson text, as in the SQLite store.
 */
import type { Migration } from "../migration-ledger.js";

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "001_core",
    sql: `
      CREATE TABLE {schema}.runs (
        seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, -- creation order, for newest-first paging
        id         text   NOT NULL UNIQUE,
        package    text   NOT NULL,
        name       text   NOT NULL,
        status     text   NOT NULL,
        input      text   NOT NULL,
        metadata   text   NOT NULL,
        created_at bigint NOT NULL,
        updated_at bigint NOT NULL
      );
      CREATE INDEX runs_by_status  ON {schema}.runs (status, seq);
      CREATE INDEX runs_by_package ON {schema}.runs (package, seq);

      CREATE TABLE {schema}.steps (
        seq               bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY, -- insertion order: FIFO tie-break
        run_id            text    NOT NULL,
        id                text    NOT NULL,
        kind              text    NOT NULL,
        queue             text    NOT NULL,
        status            text    NOT NULL,
        input             text    NOT NULL,
        deps_total        integer NOT NULL DEFAULT 0, -- dependency edges of this step (the edges: step_deps)
        deps_waiting      integer NOT NULL DEFAULT 0, -- dependency edges not yet satisfied
        retry             text    NOT NULL,           -- JSON ResolvedRetryPolicy
        max_attempts      integer NOT NULL,
        attempt           integer NOT NULL DEFAULT 0,
        reclaims          integer NOT NULL DEFAULT 0,
        priority          integer NOT NULL DEFAULT 0,
        parent_id         text,
        dedup_key         text,
        site              text,
        metadata          text    NOT NULL,
        ready_at          bigint,                     -- while ready: not claimable before this
        started_at        bigint,
        finished_at       bigint,
        created_at        bigint  NOT NULL,
        updated_at        bigint  NOT NULL,
        lease_worker      text,
        lease_token       text,
        lease_acquired_at bigint,
        lease_expires_at  bigint,
        result            text,                       -- last successful result (superjson)
        records           text,                       -- superjson RecordWrite[]
        emitted_ids       text,                       -- JSON string[]
        has_artifacts     boolean NOT NULL DEFAULT false,
        error             text,                       -- JSON StepErrorRecord of the last failed attempt
        error_code        text,
        completed_at      bigint,                     -- when the last attempt finished
        UNIQUE (run_id, id)
      );
      -- Partial indexes, as in SQLite: each stays as small as the live work it
      -- serves, however much history accumulates.
      -- Claiming, in readiness order within a queue.
      CREATE INDEX steps_ready ON {schema}.steps (queue, ready_at, seq) WHERE status = 'ready';
      -- Counting a queue's running steps; finding expired leases (a scan of the
      -- running steps: never more than the leases workers hold).
      CREATE INDEX steps_running ON {schema}.steps (queue, lease_expires_at) WHERE status = 'running';
      -- "Has this run finished?" in one probe.
      CREATE INDEX steps_active ON {schema}.steps (run_id) WHERE finished_at IS NULL;
      CREATE UNIQUE INDEX steps_dedup ON {schema}.steps (run_id, dedup_key) WHERE dedup_key IS NOT NULL;

      -- Dependency edges, keyed for "who waits for this step", indexed for "what does it wait for".
      CREATE TABLE {schema}.step_deps (
        run_id   text    NOT NULL,
        dep_id   text    NOT NULL,
        step_id  text    NOT NULL,
        required boolean NOT NULL,
        PRIMARY KEY (run_id, dep_id, step_id)
      );
      CREATE INDEX step_deps_forward ON {schema}.step_deps (run_id, step_id);

      CREATE TABLE {schema}.artifacts (
        run_id       text   NOT NULL,
        id           text   NOT NULL,
        step_id      text   NOT NULL,
        name         text   NOT NULL,
        kind         text   NOT NULL,
        content_type text   NOT NULL,
        metadata     text   NOT NULL,
        uri          text,                            -- set for artifacts kept in an ArtifactStore
        size         bigint NOT NULL,
        body         bytea  NOT NULL,                 -- empty for artifacts kept in an ArtifactStore
        created_at   bigint NOT NULL,
        PRIMARY KEY (run_id, id)
      );
      CREATE INDEX artifacts_by_step ON {schema}.artifacts (run_id, step_id);

      -- Token buckets of rate-limited queues, shared by every process.
      CREATE TABLE {schema}.queue_buckets (
        queue       text             PRIMARY KEY,
        tokens      double precision NOT NULL,
        refilled_at bigint           NOT NULL
      );
    `,
  },
  {
    version: 2,
    name: "002_waits_branches_control",
    sql: `
      -- Child runs and run output.
      ALTER TABLE {schema}.runs
        ADD COLUMN parent_run_id  text,   -- a child run: the run and step that started it
        ADD COLUMN parent_step_id text,
        ADD COLUMN output_step    text;   -- the step whose result is the run's output
      CREATE INDEX runs_children ON {schema}.runs (parent_run_id) WHERE parent_run_id IS NOT NULL;
      -- Retention: finished runs by finish time (a finished run's updated_at is when it finished).
      CREATE INDEX runs_finished ON {schema}.runs (updated_at) WHERE status IN ('succeeded', 'failed', 'canceled');

      -- Timers, timeouts and built-in waits.
      ALTER TABLE {schema}.steps
        ADD COLUMN not_before bigint,                     -- runAt: ready_at is at least this
        ADD COLUMN delay_ms   integer NOT NULL DEFAULT 0, -- added to the instant the step becomes ready
        ADD COLUMN timeout_ms integer,                    -- per attempt, enforced by the engine
        ADD COLUMN wait_for   text,                       -- 'signal:<name>' | 'run:<child run id>'
        ADD COLUMN wake_at    bigint;                     -- while waiting: when the wait ends by itself
      -- Claiming by priority, then readiness, within a queue (all-zero priorities
      -- make this the plain FIFO index it replaces).
      DROP INDEX {schema}.steps_ready;
      CREATE INDEX steps_ready ON {schema}.steps (queue, priority DESC, ready_at, seq) WHERE status = 'ready';
      -- Waits with a deadline, by deadline: what the next timer is, which are due.
      CREATE INDEX steps_waiting ON {schema}.steps (wake_at) WHERE status = 'waiting';
      -- The dead-letter view, newest failure first.
      CREATE INDEX steps_failed ON {schema}.steps (finished_at) WHERE status = 'failed';

      -- Conditional dependencies: the state the dependency must reach. "required"
      -- stays written (on_state <> 'completed').
      ALTER TABLE {schema}.step_deps ADD COLUMN on_state text NOT NULL DEFAULT 'succeeded';
      UPDATE {schema}.step_deps SET on_state = 'completed' WHERE NOT required;

      -- Durable signals; a signal is consumed by at most one waiting step.
      CREATE TABLE {schema}.signals (
        seq         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        run_id      text   NOT NULL,
        id          text   NOT NULL,      -- idempotency key (generated when the sender gives none)
        name        text   NOT NULL,
        payload     text   NOT NULL,      -- superjson
        created_at  bigint NOT NULL,
        consumed_by text,                 -- the step that took it
        consumed_at bigint,
        UNIQUE (run_id, id)
      );
      CREATE INDEX signals_unconsumed ON {schema}.signals (run_id, name, seq) WHERE consumed_by IS NULL;

      -- Paused runs: claims skip their steps. A separate table, so a claim checks a
      -- handful of rows rather than joining every candidate to its run.
      CREATE TABLE {schema}.paused_runs (run_id text PRIMARY KEY);

      -- The append-only event log. Written by triggers, so every transition is
      -- logged in the transaction that makes it, whichever code path makes it.
      -- Keyed by run: a run's log is one range of the key, and an event costs a heap
      -- row and one index entry (seq, from the identity, is unique on its own).
      CREATE TABLE {schema}.events (
        seq       bigint GENERATED ALWAYS AS IDENTITY,
        run_id    text   NOT NULL,
        at        bigint NOT NULL,
        type      text   NOT NULL,
        step_id   text,
        attempt   integer,
        worker_id text,
        error     text,                   -- JSON StepErrorRecord
        data      text,                   -- JSON
        PRIMARY KEY (run_id, seq)
      );

      -- The triggers: the same logic as SQLite's. Row triggers: within a statement
      -- they fire in the order its rows were written.
      CREATE FUNCTION {schema}.trellis_runs_started() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN
        INSERT INTO {schema}.events (run_id, at, type, data) VALUES (NEW.id, NEW.created_at, 'run_started',
          CASE WHEN NEW.parent_run_id IS NULL THEN json_build_object('package', NEW.package)
               ELSE json_build_object('package', NEW.package, 'parentRunId', NEW.parent_run_id, 'parentStepId', NEW.parent_step_id) END::text);
        RETURN NULL;
      END $fn$;
      CREATE TRIGGER runs_started AFTER INSERT ON {schema}.runs
        FOR EACH ROW EXECUTE FUNCTION {schema}.trellis_runs_started();

      CREATE FUNCTION {schema}.trellis_runs_status() RETURNS trigger LANGUAGE plpgsql AS $fn$
      DECLARE t text := CASE
          WHEN NEW.status = 'paused' THEN 'run_paused'
          WHEN NEW.status = 'running' AND OLD.status = 'paused' THEN 'run_resumed'
          WHEN NEW.status IN ('succeeded', 'failed', 'canceled') THEN 'run_' || NEW.status
        END;
      BEGIN
        IF t IS NOT NULL THEN
          INSERT INTO {schema}.events (run_id, at, type) VALUES (NEW.id, NEW.updated_at, t);
        END IF;
        RETURN NULL;
      END $fn$;
      CREATE TRIGGER runs_status AFTER UPDATE OF status ON {schema}.runs
        FOR EACH ROW WHEN (OLD.status <> NEW.status) EXECUTE FUNCTION {schema}.trellis_runs_status();

      CREATE FUNCTION {schema}.trellis_steps_created() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN
        INSERT INTO {schema}.events (run_id, at, type, step_id, data) VALUES (NEW.run_id, NEW.created_at, 'step_' || NEW.status, NEW.id,
          CASE WHEN NEW.status = 'ready' AND NEW.ready_at > NEW.created_at THEN json_build_object('readyAt', NEW.ready_at)::text END);
        RETURN NULL;
      END $fn$;
      CREATE TRIGGER steps_created AFTER INSERT ON {schema}.steps
        FOR EACH ROW WHEN (NEW.status IN ('ready', 'skipped')) EXECUTE FUNCTION {schema}.trellis_steps_created();

      -- running -> ready is a reclaim (reclaims went up), a retry (the attempt
      -- stays spent) or a lease given back / a wait that found its child done
      -- (the attempt counter goes back down).
      CREATE FUNCTION {schema}.trellis_steps_status() RETURNS trigger LANGUAGE plpgsql AS $fn$
      DECLARE t text := CASE NEW.status
          WHEN 'running'   THEN 'step_claimed'
          WHEN 'succeeded' THEN 'step_succeeded'
          WHEN 'failed'    THEN 'step_failed'
          WHEN 'skipped'   THEN 'step_skipped'
          WHEN 'canceled'  THEN 'step_canceled'
          WHEN 'waiting'   THEN 'step_waiting'
          WHEN 'ready' THEN CASE
            WHEN OLD.status <> 'running' THEN 'step_ready'
            WHEN NEW.reclaims > OLD.reclaims THEN 'step_reclaimed'
            WHEN NEW.attempt = OLD.attempt THEN 'step_retry_scheduled'
            ELSE 'step_ready' END
        END;
      BEGIN
        IF t IS NULL THEN RETURN NULL; END IF;
        INSERT INTO {schema}.events (run_id, at, type, step_id, attempt, worker_id, error, data) VALUES (
          NEW.run_id, NEW.updated_at, t, NEW.id,
          CASE WHEN t IN ('step_claimed', 'step_succeeded', 'step_failed', 'step_retry_scheduled') THEN NEW.attempt
               WHEN t = 'step_reclaimed' THEN OLD.attempt END,
          CASE WHEN t = 'step_claimed' THEN NEW.lease_worker
               WHEN t IN ('step_succeeded', 'step_failed', 'step_retry_scheduled', 'step_reclaimed', 'step_waiting') THEN OLD.lease_worker END,
          CASE WHEN t IN ('step_failed', 'step_retry_scheduled') THEN NEW.error END,
          CASE WHEN t = 'step_waiting' THEN json_build_object('wakeAt', NEW.wake_at, 'waitingFor', NEW.wait_for)::text
               WHEN t IN ('step_ready', 'step_retry_scheduled') AND NEW.ready_at > NEW.updated_at THEN json_build_object('readyAt', NEW.ready_at)::text END);
        RETURN NULL;
      END $fn$;
      CREATE TRIGGER steps_status AFTER UPDATE OF status ON {schema}.steps
        FOR EACH ROW WHEN (OLD.status <> NEW.status) EXECUTE FUNCTION {schema}.trellis_steps_status();

      CREATE FUNCTION {schema}.trellis_signals_received() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN
        INSERT INTO {schema}.events (run_id, at, type, data)
        VALUES (NEW.run_id, NEW.created_at, 'signal_received', json_build_object('name', NEW.name, 'id', NEW.id)::text);
        RETURN NULL;
      END $fn$;
      CREATE TRIGGER signals_received AFTER INSERT ON {schema}.signals
        FOR EACH ROW EXECUTE FUNCTION {schema}.trellis_signals_received();

      -- Capture for observeEvents: while a transaction runs with trellis.capture
      -- on, the seq of every event it writes goes to its session's temp table
      -- trellis_captured_events (created by the store first), read back before COMMIT.
      -- Off (the WHEN is false), it costs one setting lookup per event.
      CREATE FUNCTION {schema}.trellis_events_captured() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN
        INSERT INTO pg_temp.trellis_captured_events SELECT NEW.*;
        RETURN NULL;
      END $fn$;
      CREATE TRIGGER events_captured AFTER INSERT ON {schema}.events
        FOR EACH ROW WHEN (current_setting('trellis.capture', true) = 'on') EXECUTE FUNCTION {schema}.trellis_events_captured();
    `,
  },
  {
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
  },
  {
    version: 4,
    name: "004_run_package_version",
    // The version of its package a run started with (NULL: an unversioned package).
    sql: "ALTER TABLE {schema}.runs ADD COLUMN package_version text;",
  },
  {
    version: 5,
    name: "005_schedules",
    sql: `
      -- Durable cron schedules (rt.schedule). next_fire_at is the tick to fire
      -- next: workers compare-and-set it from the tick they fired to the one
      -- after, so two processes never both advance a schedule; NULL once the
      -- expression has no future tick.
      CREATE TABLE {schema}.schedules (
        id            text    PRIMARY KEY,
        cron          text    NOT NULL,
        timezone      text    NOT NULL,
        package       text    NOT NULL,
        input         text    NOT NULL,       -- superjson
        overlap       text    NOT NULL,       -- allow | skip | cancel-previous
        catch_up      text    NOT NULL,       -- none | latest | all
        paused        boolean NOT NULL DEFAULT false,
        next_fire_at  bigint,
        last_tick_at  bigint,                 -- the last tick handled, fired or not
        last_outcome  text,                   -- started | skipped | failed
        last_run_id   text,                   -- the run the last started tick started
        last_error    text,
        skipped_ticks bigint  NOT NULL DEFAULT 0,
        created_at    bigint  NOT NULL,
        updated_at    bigint  NOT NULL
      );
      -- What is due, and the earliest fire time the claim reports as due.
      CREATE INDEX schedules_due ON {schema}.schedules (next_fire_at) WHERE NOT paused;
    `,
  },
];
