/**
 * PostgreSQL schema, as versioned, append-only migrations: one file each in
 * `migrations/`, listed here in order. Never edit a released migration: add the
 * next file and append it below. Every object lives in the configured schema; the
 * SQL names it through `{schema}`, replaced by the quoted schema name.
 *
 * `migrate.ts` applies them. Times are integer epoch milliseconds (bigint);
 * values are superjson text, as in the SQLite store.
 */
import type { Migration } from "../migration-ledger.js";
import { migration as m001 } from "./migrations/001-core.js";
import { migration as m002 } from "./migrations/002-waits-branches-control.js";
import { migration as m003 } from "./migrations/003-statement-triggers-run-probes.js";
import { migration as m004 } from "./migrations/004-run-package-version.js";
import { migration as m005 } from "./migrations/005-schedules.js";
import { migration as m006 } from "./migrations/006-event-triggers-hash-join.js";

export const MIGRATIONS: readonly Migration[] = [m001, m002, m003, m004, m005, m006];
