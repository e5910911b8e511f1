import type { Migration } from "../../migration-ledger.js";

export const migration: Migration = {
  version: 2,
  name: "002_waits_branches_control",
  sql: `
      -- Child runs and run output.
      ALTER TABLE runs ADD COLUMN parent_run_id  TEXT;    -- a child run: the run and step that started it
      ALTER TABLE runs ADD COLUMN parent_step_id TEXT;
      ALTER TABLE runs ADD COLUMN output_step    TEXT;    -- the step whose result is the run's output
      CREATE INDEX runs_children ON runs (parent_run_id) WHERE parent_run_id IS NOT NULL;
      -- Retention: finished runs by finish time (a finished run's updated_at is when it finished).
      CREATE INDEX runs_finished ON runs (updated_at) WHERE status IN ('succeeded', 'failed', 'canceled');

      -- Timers, timeouts and built-in waits.
      ALTER TABLE steps ADD COLUMN not_before INTEGER;              -- runAt: ready_at is at least this
      ALTER TABLE steps ADD COLUMN delay_ms   INTEGER NOT NULL DEFAULT 0; -- added to the instant the step becomes ready
      ALTER TABLE steps ADD COLUMN timeout_ms INTEGER;              -- per attempt, enforced by the engine
      ALTER TABLE steps ADD COLUMN wait_for   TEXT;                 -- 'signal:<name>' | 'run:<child run id>'
      ALTER TABLE steps ADD COLUMN wake_at    INTEGER;              -- while waiting: when the wait ends by itself
      -- Claiming by priority, then readiness, within a queue (all-zero priorities
      -- make this the plain FIFO index it replaces).
      DROP INDEX steps_ready;
      CREATE INDEX steps_ready ON steps (queue, priority DESC, ready_at) WHERE status = 'ready';
      -- Waits with a deadline, by deadline: what the next timer is, which are due.
      CREATE INDEX steps_waiting ON steps (wake_at) WHERE status = 'waiting';
      -- The dead-letter view, newest failure first.
      CREATE INDEX steps_failed ON steps (finished_at) WHERE status = 'failed';

      -- Conditional dependencies: the state the dependency must reach.
      ALTER TABLE step_deps ADD COLUMN on_state TEXT NOT NULL DEFAULT 'succeeded';
      UPDATE step_deps SET on_state = 'completed' WHERE required = 0;

      -- Durable signals; a signal is consumed by at most one waiting step.
      CREATE TABLE signals (
        seq         INTEGER PRIMARY KEY,
        run_id      TEXT    NOT NULL,
        id          TEXT    NOT NULL,     -- idempotency key (generated when the sender gives none)
        name        TEXT    NOT NULL,
        payload     TEXT    NOT NULL,     -- superjson
        created_at  INTEGER NOT NULL,
        consumed_by TEXT,                 -- the step that took it
        consumed_at INTEGER,
        UNIQUE (run_id, id)
      );
      CREATE INDEX signals_unconsumed ON signals (run_id, name, seq) WHERE consumed_by IS NULL;

      -- Paused runs: claims skip their steps. A separate table, so a claim checks a
      -- handful of rows rather than joining every candidate to its run.
      CREATE TABLE paused_runs (run_id TEXT PRIMARY KEY) WITHOUT ROWID;

      -- The append-only event log. Written by triggers, so every transition is
      -- logged in the transaction that makes it, whichever code path makes it.
      CREATE TABLE events (
        seq       INTEGER PRIMARY KEY,
        run_id    TEXT    NOT NULL,
        at        INTEGER NOT NULL,
        type      TEXT    NOT NULL,
        step_id   TEXT,
        attempt   INTEGER,
        worker_id TEXT,
        error     TEXT,                   -- JSON StepErrorRecord
        data      TEXT                    -- JSON
      );
      CREATE INDEX events_by_run ON events (run_id, seq);

      CREATE TRIGGER runs_started AFTER INSERT ON runs BEGIN
        INSERT INTO events (run_id, at, type, data) VALUES (new.id, new.created_at, 'run_started',
          CASE WHEN new.parent_run_id IS NULL THEN json_object('package', new.package)
               ELSE json_object('package', new.package, 'parentRunId', new.parent_run_id, 'parentStepId', new.parent_step_id) END);
      END;

      CREATE TRIGGER runs_status AFTER UPDATE OF status ON runs WHEN old.status <> new.status BEGIN
        INSERT INTO events (run_id, at, type)
        SELECT new.id, new.updated_at, t FROM (SELECT CASE
            WHEN new.status = 'paused' THEN 'run_paused'
            WHEN new.status = 'running' AND old.status = 'paused' THEN 'run_resumed'
            WHEN new.status IN ('succeeded', 'failed', 'canceled') THEN 'run_' || new.status
          END AS t) WHERE t IS NOT NULL;
      END;

      CREATE TRIGGER steps_created AFTER INSERT ON steps WHEN new.status IN ('ready', 'skipped') BEGIN
        INSERT INTO events (run_id, at, type, step_id, data) VALUES (new.run_id, new.created_at, 'step_' || new.status, new.id,
          CASE WHEN new.status = 'ready' AND new.ready_at > new.created_at THEN json_object('readyAt', new.ready_at) END);
      END;

      -- running -> ready is a reclaim (reclaims went up), a retry (the attempt
      -- stays spent) or a lease given back / a wait that found its child done
      -- (the attempt counter goes back down).
      CREATE TRIGGER steps_status AFTER UPDATE OF status ON steps WHEN old.status <> new.status BEGIN
        INSERT INTO events (run_id, at, type, step_id, attempt, worker_id, error, data)
        SELECT new.run_id, new.updated_at, t, new.id,
          CASE WHEN t IN ('step_claimed', 'step_succeeded', 'step_failed', 'step_retry_scheduled') THEN new.attempt
               WHEN t = 'step_reclaimed' THEN old.attempt END,
          CASE WHEN t = 'step_claimed' THEN new.lease_worker
               WHEN t IN ('step_succeeded', 'step_failed', 'step_retry_scheduled', 'step_reclaimed', 'step_waiting') THEN old.lease_worker END,
          CASE WHEN t IN ('step_failed', 'step_retry_scheduled') THEN new.error END,
          CASE WHEN t = 'step_waiting' THEN json_object('wakeAt', new.wake_at, 'waitingFor', new.wait_for)
               WHEN t IN ('step_ready', 'step_retry_scheduled') AND new.ready_at > new.updated_at THEN json_object('readyAt', new.ready_at) END
        FROM (SELECT CASE new.status
            WHEN 'running'   THEN 'step_claimed'
            WHEN 'succeeded' THEN 'step_succeeded'
            WHEN 'failed'    THEN 'step_failed'
            WHEN 'skipped'   THEN 'step_skipped'
            WHEN 'canceled'  THEN 'step_canceled'
            WHEN 'waiting'   THEN 'step_waiting'
            WHEN 'ready' THEN CASE
              WHEN old.status <> 'running' THEN 'step_ready'
              WHEN new.reclaims > old.reclaims THEN 'step_reclaimed'
              WHEN new.attempt = old.attempt THEN 'step_retry_scheduled'
              ELSE 'step_ready' END
          END AS t) WHERE t IS NOT NULL;
      END;

      CREATE TRIGGER signals_received AFTER INSERT ON signals BEGIN
        INSERT INTO events (run_id, at, type, data)
        VALUES (new.run_id, new.created_at, 'signal_received', json_object('name', new.name, 'id', new.id));
      END;
    `,
};
