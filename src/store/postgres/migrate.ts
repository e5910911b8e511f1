/**
 * Bringing a schema up to date: the pending migrations of `migrations.ts`
 * applied in order, each in its own transaction, under a per-schema advisory
 * lock so that processes starting together apply each one once.
 */
import type pg from "pg";
import { pendingMigrations } from "../migration-ledger.js";
import { quoteIdent } from "./connection.js";
import { MIGRATIONS } from "./migrations.js";

/**
 * Applies the migrations the schema has not seen yet (creating the schema if
 * needed); returns the versions applied. Refuses a schema migrated by a newer
 * trellis with `schema_too_new`.
 */
export async function migrate(client: pg.ClientBase, schema: string, now: number): Promise<number[]> {
  const q = quoteIdent(schema);
  // One lock per schema: processes using other schemas do not wait for each other.
  const lockKey = `trellis:migrate:${schema}`;
  await client.query("SELECT pg_advisory_lock(hashtext($1))", [lockKey]);
  try {
    // Only if missing: CREATE SCHEMA needs the CREATE privilege on the database
    // even with IF NOT EXISTS, and an application's role may lack it.
    const exists = await client.query("SELECT 1 FROM pg_namespace WHERE nspname = $1", [schema]);
    if (exists.rowCount === 0) await client.query(`CREATE SCHEMA IF NOT EXISTS ${q}`);
    await client.query(`CREATE TABLE IF NOT EXISTS ${q}.schema_migrations (
      version    integer PRIMARY KEY,
      name       text    NOT NULL,
      applied_at bigint  NOT NULL
    )`);
    const { rows } = await client.query<{ version: number }>(`SELECT version FROM ${q}.schema_migrations`);
    const applied = new Set(rows.map((r) => r.version));
    const done: number[] = [];
    for (const m of pendingMigrations(MIGRATIONS, applied, `schema "${schema}"`)) {
      await client.query("BEGIN");
      try {
        await client.query(m.sql.replaceAll("{schema}", q));
        await client.query(`INSERT INTO ${q}.schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`, [m.version, m.name, now]);
        await client.query("COMMIT");
      } catch (err) {
        await client.query("ROLLBACK");
        throw err;
      }
      done.push(m.version);
    }
    return done;
  } finally {
    // A broken connection has dropped the lock already; its error is the one to report.
    await client.query("SELECT pg_advisory_unlock(hashtext($1))", [lockKey]).catch(() => undefined);
  }
}
