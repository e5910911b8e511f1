import type { Migration } from "../../migration-ledger.js";

export const migration: Migration = {
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
};
