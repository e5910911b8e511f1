import type { Migration } from "../../migration-ledger.js";

export const migration: Migration = {
  version: 4,
  name: "004_run_package_version",
  // The version of its package a run started with (NULL: an unversioned package).
  sql: "ALTER TABLE {schema}.runs ADD COLUMN package_version text;",
};
