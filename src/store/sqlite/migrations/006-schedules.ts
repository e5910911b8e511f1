import type { Migration } from "../../migration-ledger.js";

export const migration: Migration = {
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
};
