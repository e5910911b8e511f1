import type { Migration } from "../../migration-ledger.js";

export const migration: Migration = {
  version: 3,
  name: "003_narrow_triggers_run_probes",
  sql: `
      -- The same log as the triggers of 002, written by one narrow trigger per
      -- transition: SQLite checks each trigger's WHEN and runs only the one that
      -- matches, a plain INSERT ... VALUES, instead of one trigger computing the
      -- event type with CASE in a SELECT for every status change. About a tenth
      -- of a claim-and-complete cycle, measured on a drain of one-step runs.
      DROP TRIGGER steps_status;

      -- "Has this run a failed (a canceled) step?", asked whenever a run finishes:
      -- a probe of an index as small as the failures, not a read of the run's steps.
      CREATE INDEX steps_failed_by_run ON steps (run_id, id) WHERE status = 'failed';
      CREATE INDEX steps_canceled_by_run ON steps (run_id) WHERE status = 'canceled';

      CREATE TRIGGER steps_claimed AFTER UPDATE OF status ON steps WHEN new.status = 'running' AND old.status <> 'running' BEGIN
        INSERT INTO events (run_id, at, type, step_id, attempt, worker_id)
        VALUES (new.run_id, new.updated_at, 'step_claimed', new.id, new.attempt, new.lease_worker);
      END;
      CREATE TRIGGER steps_succeeded AFTER UPDATE OF status ON steps WHEN new.status = 'succeeded' AND old.status <> 'succeeded' BEGIN
        INSERT INTO events (run_id, at, type, step_id, attempt, worker_id)
        VALUES (new.run_id, new.updated_at, 'step_succeeded', new.id, new.attempt, old.lease_worker);
      END;
      CREATE TRIGGER steps_failed AFTER UPDATE OF status ON steps WHEN new.status = 'failed' AND old.status <> 'failed' BEGIN
        INSERT INTO events (run_id, at, type, step_id, attempt, worker_id, error)
        VALUES (new.run_id, new.updated_at, 'step_failed', new.id, new.attempt, old.lease_worker, new.error);
      END;
      CREATE TRIGGER steps_ended AFTER UPDATE OF status ON steps
        WHEN new.status IN ('skipped', 'canceled') AND old.status <> new.status BEGIN
        INSERT INTO events (run_id, at, type, step_id) VALUES (new.run_id, new.updated_at, 'step_' || new.status, new.id);
      END;
      CREATE TRIGGER steps_waiting AFTER UPDATE OF status ON steps WHEN new.status = 'waiting' AND old.status <> 'waiting' BEGIN
        INSERT INTO events (run_id, at, type, step_id, worker_id, data)
        VALUES (new.run_id, new.updated_at, 'step_waiting', new.id, old.lease_worker, json_object('wakeAt', new.wake_at, 'waitingFor', new.wait_for));
      END;
      -- Dependencies met (from pending), a retry or wait ended (from waiting, failed,
      -- canceled, skipped): step_ready. From running: a reclaim (reclaims went up),
      -- a retry (the attempt stays spent), or a lease given back / a wait that found
      -- its child done (the attempt counter goes back down): step_ready again.
      CREATE TRIGGER steps_ready AFTER UPDATE OF status ON steps WHEN new.status = 'ready' AND old.status <> 'ready' BEGIN
        INSERT INTO events (run_id, at, type, step_id, attempt, worker_id, error, data)
        SELECT new.run_id, new.updated_at, t, new.id,
          CASE t WHEN 'step_retry_scheduled' THEN new.attempt WHEN 'step_reclaimed' THEN old.attempt END,
          CASE WHEN t IN ('step_retry_scheduled', 'step_reclaimed') THEN old.lease_worker END,
          CASE WHEN t = 'step_retry_scheduled' THEN new.error END,
          CASE WHEN t <> 'step_reclaimed' AND new.ready_at > new.updated_at THEN json_object('readyAt', new.ready_at) END
        FROM (SELECT CASE
            WHEN old.status <> 'running' THEN 'step_ready'
            WHEN new.reclaims > old.reclaims THEN 'step_reclaimed'
            WHEN new.attempt = old.attempt THEN 'step_retry_scheduled'
            ELSE 'step_ready' END AS t);
      END;

      DROP TRIGGER runs_status;
      CREATE TRIGGER runs_finished AFTER UPDATE OF status ON runs
        WHEN new.status IN ('succeeded', 'failed', 'canceled') AND old.status <> new.status BEGIN
        INSERT INTO events (run_id, at, type) VALUES (new.id, new.updated_at, 'run_' || new.status);
      END;
      CREATE TRIGGER runs_paused AFTER UPDATE OF status ON runs WHEN new.status = 'paused' AND old.status <> 'paused' BEGIN
        INSERT INTO events (run_id, at, type) VALUES (new.id, new.updated_at, 'run_paused');
      END;
      CREATE TRIGGER runs_resumed AFTER UPDATE OF status ON runs WHEN new.status = 'running' AND old.status = 'paused' BEGIN
        INSERT INTO events (run_id, at, type) VALUES (new.id, new.updated_at, 'run_resumed');
      END;
    `,
};
