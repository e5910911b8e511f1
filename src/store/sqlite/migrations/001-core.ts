import type { Migration } from "../../migration-ledger.js";

export const migration: Migration = {
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
};
