/**
 * What both built-in adapters do with their migrations ledger: decide which
 * migrations are missing, and refuse a database migrated by a newer trellis.
 */
import { ErrorCodes, WorkflowError } from "../errors.js";

/** One versioned, append-only schema change. Never edit a released one: add the next. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/**
 * The migrations not applied yet, in order.
 *
 * @param where names the database in the error, e.g. `this database`, `schema "trellis"`
 * @throws WorkflowError `schema_too_new` when a version this trellis does not know was applied
 */
export function pendingMigrations(migrations: readonly Migration[], applied: ReadonlySet<number>, where: string): Migration[] {
  const newest = Math.max(0, ...applied);
  const known = migrations[migrations.length - 1]?.version ?? 0;
  if (newest > known) {
    throw new WorkflowError(ErrorCodes.schemaTooNew, `${where} has schema version ${newest}, newer than this trellis knows (${known}); upgrade trellis`);
  }
  return migrations.filter((m) => !applied.has(m.version));
}
