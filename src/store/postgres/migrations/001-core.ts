import type { Migration } from "../../migration-ledger.js";

export const migration: Migration = {
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
};
