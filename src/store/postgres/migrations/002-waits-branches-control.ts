import type { Migration } from "../../migration-ledger.js";

export const migration: Migration = {
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
};
