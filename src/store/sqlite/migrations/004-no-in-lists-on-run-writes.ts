import type { Migration } from "../../migration-ledger.js";

export const migration: Migration = {
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
};
