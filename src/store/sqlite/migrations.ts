/**
 * SQLite schema, as versioned, append-only migrations. Never edit a released
 * migration: add the next one. `migrate.ts` applies the missing ones inside
 * one `BEGIN IMMEDIATE` transaction, so several processes opening the same file
 * at once serialise on SQLite's write lock and each migration runs exactly once.
 *
 * Times are integer epoch milliseconds. Values are superjson text.
 */
import type { Migration } from "../migration-ledger.js";

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "001_core",
    sql: `
      CREATE TABLE runs (
        seq        INTEGER PRIMARY KEY,           -- creation order, for newest-first paging
        id         TEXT    NOT NULL UNIQUE,
        package    TEXT    NOT NULL,
        name       TEXT    NOT NULL,
        status     TEXT    NOT NULL,
        input      TEXT    NOT NULL,
        metadata   TEXT    NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
      CREATE INDEX runs_by_status  ON runs (status, seq);
      CREATE INDEX runs_by_package ON runs (package, seq);

      CREATE TABLE steps (
        seq               INTEGER PRIMARY KEY,    -- insertion order: FIFO tie-break
        run_id            TEXT    NOT NULL,
        id                TEXT    NOT NULL,
        kind              TEXT    NOT NULL,
        queue             TEXT    NOT NULL,
        status            TEXT    NOT NULL,
        input             TEXT    NOT NULL,
        -- The edges themselves live in step_deps only: a join over thousands of
        -- steps would otherwise carry them in a row rewritten at every edge.
        deps_total        INTEGER NOT NULL DEFAULT 0, -- dependency edges of this step
        deps_waiting      INTEGER NOT NULL DEFAULT 0, -- dependency edges not yet satisfied
        retry             TEXT    NOT NULL,       -- JSON ResolvedRetryPolicy
        max_attempts      INTEGER NOT NULL,
        attempt           INTEGER NOT NULL DEFAULT 0,
        reclaims          INTEGER NOT NULL DEFAULT 0,
        priority          INTEGER NOT NULL DEFAULT 0,
        parent_id         TEXT,
        dedup_key         TEXT,
        site              TEXT,
        metadata          TEXT    NOT NULL,
        ready_at          INTEGER,                -- while ready: not claimable before this
        started_at        INTEGER,
        finished_at       INTEGER,
        created_at        INTEGER NOT NULL,
        updated_at        INTEGER NOT NULL,
        lease_worker      TEXT,
        lease_token       TEXT,
        lease_acquired_at INTEGER,
        lease_expires_at  INTEGER,
        result            TEXT,                   -- last successful result (superjson)
        records           TEXT,                   -- superjson RecordWrite[]
        emitted_ids       TEXT,                   -- JSON string[]
        has_artifacts     INTEGER NOT NULL DEFAULT 0, -- the last success wrote artifacts
        error             TEXT,                   -- JSON StepErrorRecord of the last failed attempt
        error_code        TEXT,
        completed_at      INTEGER,                -- when the last attempt finished
        UNIQUE (run_id, id)
      );
      -- Every index below is partial, and chosen so that a status change touches as
      -- few of them as possible: a claim moves a row from steps_ready to
      -- steps_running, a completion takes it out of steps_running and steps_active.
      -- Claiming, in readiness order within a queue; as small as the backlog,
      -- however much history accumulates.
      CREATE INDEX steps_ready ON steps (queue, ready_at) WHERE status = 'ready';
      -- Counting a queue's running steps, and finding expired leases (a scan of
      -- running steps only: there are never more than the workers).
      CREATE INDEX steps_running ON steps (queue, lease_expires_at) WHERE status = 'running';
      -- "Has this run finished?" in one probe. Keyed on finished_at, which only
      -- terminal transitions write, so claims and retries leave it alone.
      CREATE INDEX steps_active ON steps (run_id) WHERE finished_at IS NULL;
      CREATE UNIQUE INDEX steps_dedup ON steps (run_id, dedup_key) WHERE dedup_key IS NOT NULL;

      -- Dependency edges, keyed for the lookup "who waits for this step", with an
      -- index for "what does this step wait for".
      CREATE TABLE step_deps (
        run_id   TEXT    NOT NULL,
        dep_id   TEXT    NOT NULL,
        step_id  TEXT    NOT NULL,
        required INTEGER NOT NULL,
        PRIMARY KEY (run_id, dep_id, step_id)
      ) WITHOUT ROWID;
      CREATE INDEX step_deps_forward ON step_deps (run_id, step_id);

      CREATE TABLE artifacts (
        run_id       TEXT    NOT NULL,
        id           TEXT    NOT NULL,
        step_id      TEXT    NOT NULL,
        name         TEXT    NOT NULL,
        kind         TEXT    NOT NULL,
        content_type TEXT    NOT NULL,
        metadata     TEXT    NOT NULL,
        uri          TEXT,                        -- set for artifacts kept in an ArtifactStore
        size         INTEGER NOT NULL,
        body         BLOB    NOT NULL,            -- empty for artifacts kept in an ArtifactStore
        created_at   INTEGER NOT NULL,
        PRIMARY KEY (run_id, id)
      ) WITHOUT ROWID;
      CREATE INDEX artifacts_by_step ON artifacts (run_id, step_id);

      -- Token buckets of rate-limited queues, shared by every process on the file.
      CREATE TABLE queue_buckets (
        queue       TEXT    PRIMARY KEY,
        tokens      REAL    NOT NULL,
        refilled_at INTEGER NOT NULL
      );
    `,
  },
  {
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
  },
  {
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
  },
  {
    version: 4,
    name: "004_no_in_lists_on_run_writes",
    sql: `
      -- SQLite evaluates "x IN (three or more constants)" by building a temporary
      -- B-tree of the constants, once per statement: a pager, a page cache and
      -- zeroed pages. A partial index's predicate is evaluated on every insert and
      -- on every update of its columns (for the old row and the new one), and a
      -- trigger's WHEN on every firing; written as IN lists, they made a run's
      -- insert build one such tree and its finish three. Comparisons joined with OR
      -- build none: the finish of a one-step run took 61k instructions instead of
      -- 110k (callgrind). Queries that use runs_finished repeat its predicate as
      -- written here, so that SQLite still matches it.
      DROP INDEX runs_finished;
      CREATE INDEX runs_finished ON runs (updated_at) WHERE status = 'succeeded' OR status = 'failed' OR status = 'canceled';
      DROP TRIGGER runs_finished;
      CREATE TRIGGER runs_finished AFTER UPDATE OF status ON runs
        WHEN (new.status = 'succeeded' OR new.status = 'failed' OR new.status = 'canceled') AND old.status <> new.status BEGIN
        INSERT INTO events (run_id, at, type) VALUES (new.id, new.updated_at, 'run_' || new.status);
      END;
    `,
  },  {
    version: 5,
    name: "005_run_package_version",
    sql: `
      -- The version of its package a run started with (NULL: an unversioned package).
      -- Operators list old-version runs by package (runs_by_package) and filter on it.
      ALTER TABLE runs ADD COLUMN package_version TEXT;
    `,
  },
  {
    version: 6,
    name: "006_schedules",
    sql: `
      -- Durable cron schedules (rt.schedule). next_fire_at is the tick to fire
      -- next: workers compare-and-set it from the tick they fired to the one
      -- after, so two processes never both advance a schedule; NULL once the
      -- expression has no future tick.
      CREATE TABLE schedules (
        id            TEXT    PRIMARY KEY,
        cron          TEXT    NOT NULL,
        timezone      TEXT    NOT NULL,
        package       TEXT    NOT NULL,
        input         TEXT    NOT NULL,       -- superjson
        overlap       TEXT    NOT NULL,       -- allow | skip | cancel-previous
        catch_up      TEXT    NOT NULL,       -- none | latest | all
        paused        INTEGER NOT NULL DEFAULT 0,
        next_fire_at  INTEGER,
        last_tick_at  INTEGER,                -- the last tick handled, fired or not
        last_outcome  TEXT,                   -- started | skipped | failed
        last_run_id   TEXT,                   -- the run the last started tick started
        last_error    TEXT,
        skipped_ticks INTEGER NOT NULL DEFAULT 0,
        created_at    INTEGER NOT NULL,
        updated_at    INTEGER NOT NULL
      ) WITHOUT ROWID;
      -- What is due, and the earliest fire time the claim reports as due.
      CREATE INDEX schedules_due ON schedules (next_fire_at) WHERE paused = 0;
    `,
  },
  {
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
  },
];
