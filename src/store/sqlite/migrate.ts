/**
 * Bringing a database up to date: the pending migrations of `migrations.ts`
 * applied in one immediate transaction (a second process opening the file
 * waits for it, then finds nothing left to apply).
 */
import type Database from "better-sqlite3";
import { pendingMigrations } from "../migration-ledger.js";
import { MIGRATIONS } from "./migrations.js";

/** Applies the migrations this database has not seen yet; returns the versions applied. */
export function migrate(db: Database.Database, now: number): number[] {
  const apply = db.transaction(() => {
    db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version    INTEGER PRIMARY KEY,
      name       TEXT    NOT NULL,
      applied_at INTEGER NOT NULL
    )`);
    const applied = new Set(
      (db.prepare("SELECT version FROM schema_migrations").all() as { version: number }[]).map((r) => r.version),
    );
    const record = db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)");
    const done: number[] = [];
    for (const m of pendingMigrations(MIGRATIONS, applied, "this database")) {
      db.exec(m.sql);
      record.run(m.version, m.name, now);
      done.push(m.version);
    }
    return done;
  });
  return apply.immediate();
}
