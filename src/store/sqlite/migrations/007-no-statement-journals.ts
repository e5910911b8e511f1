import type { Migration } from "../../migration-ledger.js";

export const migration: Migration = {
  version: 7,
  name: "007_no_statement_journals",
  sql: `
      -- The same event log, written so that the statements firing these triggers
      -- need no statement journal (see "no statement journals" in statements.ts):
      -- every INSERT is OR FAIL (the events' NOT NULL checks no longer abort), and
      -- no trigger a hot write fires calls an SQL function, since a call may abort
      -- too. A statement is compiled with every trigger that may fire for it, so
      -- one json_object() in one trigger gave every status change a journal.
      --
      -- run_started no longer stores its data: the package and parent are the
      -- run's own, never changed, and the store's event reads rebuild the same
      -- JSON from the run row (rows written before this migration keep theirs).
      DROP TRIGGER runs_started;
      CREATE TRIGGER runs_started AFTER INSERT ON runs BEGIN
        INSERT OR FAIL INTO events (run_id, at, type) VALUES (new.id, new.created_at, 'run_started');
      END;
      DROP TRIGGER runs_finished;
      CREATE TRIGGER runs_finished AFTER UPDATE OF status ON runs
        WHEN (new.status = 'succeeded' OR new.status = 'failed' OR new.status = 'canceled') AND old.status <> new.status BEGIN
        INSERT OR FAIL INTO events (run_id, at, type) VALUES (new.id, new.updated_at, 'run_' || new.status);
      END;
      DROP TRIGGER runs_paused;
      CREATE TRIGGER runs_paused AFTER UPDATE OF status ON runs WHEN new.status = 'paused' AND old.status <> 'paused' BEGIN
        INSERT OR FAIL INTO events (run_id, at, type) VALUES (new.id, new.updated_at, 'run_paused');
      END;
      DROP TRIGGER runs_resumed;
      CREATE TRIGGER runs_resumed AFTER UPDATE OF status ON runs WHEN new.status = 'running' AND old.status = 'paused' BEGIN
        INSERT OR FAIL INTO events (run_id, at, type) VALUES (new.id, new.updated_at, 'run_resumed');
      END;

      -- readyAt is an integer: its JSON is its text, no json_object() needed.
      DROP TRIGGER steps_created;
      CREATE TRIGGER steps_created AFTER INSERT ON steps WHEN new.status = 'ready' OR new.status = 'skipped' BEGIN
        INSERT OR FAIL INTO events (run_id, at, type, step_id, data) VALUES (new.run_id, new.created_at, 'step_' || new.status, new.id,
          CASE WHEN new.status = 'ready' AND new.ready_at > new.created_at THEN '{"readyAt":' || new.ready_at || '}' END);
      END;
      DROP TRIGGER steps_claimed;
      CREATE TRIGGER steps_claimed AFTER UPDATE OF status ON steps WHEN new.status = 'running' AND old.status <> 'running' BEGIN
        INSERT OR FAIL INTO events (run_id, at, type, step_id, attempt, worker_id)
        VALUES (new.run_id, new.updated_at, 'step_claimed', new.id, new.attempt, new.lease_worker);
      END;
      DROP TRIGGER steps_succeeded;
      CREATE TRIGGER steps_succeeded AFTER UPDATE OF status ON steps WHEN new.status = 'succeeded' AND old.status <> 'succeeded' BEGIN
        INSERT OR FAIL INTO events (run_id, at, type, step_id, attempt, worker_id)
        VALUES (new.run_id, new.updated_at, 'step_succeeded', new.id, new.attempt, old.lease_worker);
      END;
      DROP TRIGGER steps_failed;
      CREATE TRIGGER steps_failed AFTER UPDATE OF status ON steps WHEN new.status = 'failed' AND old.status <> 'failed' BEGIN
        INSERT OR FAIL INTO events (run_id, at, type, step_id, attempt, worker_id, error)
        VALUES (new.run_id, new.updated_at, 'step_failed', new.id, new.attempt, old.lease_worker, new.error);
      END;
      DROP TRIGGER steps_ended;
      CREATE TRIGGER steps_ended AFTER UPDATE OF status ON steps
        WHEN new.status IN ('skipped', 'canceled') AND old.status <> new.status BEGIN
        INSERT OR FAIL INTO events (run_id, at, type, step_id) VALUES (new.run_id, new.updated_at, 'step_' || new.status, new.id);
      END;
      DROP TRIGGER steps_ready;
      CREATE TRIGGER steps_ready AFTER UPDATE OF status ON steps WHEN new.status = 'ready' AND old.status <> 'ready' BEGIN
        INSERT OR FAIL INTO events (run_id, at, type, step_id, attempt, worker_id, error, data)
        SELECT new.run_id, new.updated_at, t, new.id,
          CASE t WHEN 'step_retry_scheduled' THEN new.attempt WHEN 'step_reclaimed' THEN old.attempt END,
          CASE WHEN t IN ('step_retry_scheduled', 'step_reclaimed') THEN old.lease_worker END,
          CASE WHEN t = 'step_retry_scheduled' THEN new.error END,
          CASE WHEN t <> 'step_reclaimed' AND new.ready_at > new.updated_at THEN '{"readyAt":' || new.ready_at || '}' END
        FROM (SELECT CASE
            WHEN old.status <> 'running' THEN 'step_ready'
            WHEN new.reclaims > old.reclaims THEN 'step_reclaimed'
            WHEN new.attempt = old.attempt THEN 'step_retry_scheduled'
            ELSE 'step_ready' END AS t);
      END;
      -- Its data holds waitingFor, text that needs json_object() to be quoted. So
      -- it fires on the wake_at column, which only the writes that park a step (or
      -- revive one) set, and stays out of every other status change.
      DROP TRIGGER steps_waiting;
      CREATE TRIGGER steps_waiting AFTER UPDATE OF wake_at ON steps WHEN new.status = 'waiting' AND old.status <> 'waiting' BEGIN
        INSERT OR FAIL INTO events (run_id, at, type, step_id, worker_id, data)
        VALUES (new.run_id, new.updated_at, 'step_waiting', new.id, old.lease_worker, json_object('wakeAt', new.wake_at, 'waitingFor', new.wait_for));
      END;
    `,
};
