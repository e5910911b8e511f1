/**
 * SQLite schema, as versioned, append-only migrations: one file each in
 * `migrations/`, listed here in order. Never edit a released migration: add the
 * next file and append it below. `migrate.ts` applies the missing ones inside
 * one `BEGIN IMMEDIATE` transaction, so several processes opening the same file
 * at once serialise on SQLite's write lock and each migration runs exactly once.
 *
 * Times are integer epoch milliseconds. Values are superjson text.
 */
import type { Migration } from "../migration-ledger.js";
import { migration as m001 } from "./migrations/001-core.js";
import { migration as m002 } from "./migrations/002-waits-branches-control.js";
import { migration as m003 } from "./migrations/003-narrow-triggers-run-probes.js";
import { migration as m004 } from "./migrations/004-no-in-lists-on-run-writes.js";
import { migration as m005 } from "./migrations/005-run-package-version.js";
import { migration as m006 } from "./migrations/006-schedules.js";
import { migration as m007 } from "./migrations/007-no-statement-journals.js";

export const MIGRATIONS: readonly Migration[] = [m001, m002, m003, m004, m005, m006, m007];
