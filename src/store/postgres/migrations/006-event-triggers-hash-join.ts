import type { Migration } from "../../migration-ledger.js";

export const migration: Migration = {
  version: 6,
  name: "006_event_triggers_hash_join",
  // The update triggers of migration 3 pair each row's old and new versions
  // (old_steps with new_steps, old_runs with new_runs) by seq. PL/pgSQL plans
  // that INSERT once per connection, at its first firing, and keeps the plan:
  // a transition table has no statistics, so a first firing on a one-row
  // statement estimates one row, picks a nested loop, and every later claim of
  // hundreds of steps compares every old row with every new one (a claim of 240
  // steps: 57 600 comparisons, several ms). With nested loops off inside these
  // two functions the pairing is a hash join, at any size.
  sql: `
      ALTER FUNCTION {schema}.trellis_log_steps_updated() SET enable_nestloop = off;
      ALTER FUNCTION {schema}.trellis_log_runs_updated() SET enable_nestloop = off;`,
};
