import type { Migration } from "../../migration-ledger.js";

export const migration: Migration = {
  version: 5,
  name: "005_run_package_version",
  sql: `
      -- The version of its package a run started with (NULL: an unversioned package).
      -- Operators list old-version runs by package (runs_by_package) and filter on it.
      ALTER TABLE runs ADD COLUMN package_version TEXT;
    `,
};
