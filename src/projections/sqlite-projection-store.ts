import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import type Database from "better-sqlite3";
import { ErrorCodes, WorkflowError } from "../errors.js";
import { validateName } from "../names.js";
import type { Projection, ProjectionStore } from "./projection-store.js";

// Code of every error raised by SQLite in a projection: a failing statement, a bad
// binding, a file that cannot be opened. The original error is the `cause`.
const PROJECTION_ERROR = ErrorCodes.projectionError;

/**
 * The driver, loaded at the first projection opened: importing trellis never
 * loads it, so an application on PostgreSQL only need not install it.
 */
let driver: typeof Database | undefined;
function sqliteDriver(): typeof Database {
  driver ??= createRequire(import.meta.url)("better-sqlite3") as typeof Database;
  return driver;
}

/**
 * A {@link ProjectionStore} keeping each projection in its own SQLite file,
 * `<rootDir>/<name>.db`, in WAL mode with a 5 s busy timeout so that several
 * processes (and readers next to a writer) can share it.
 *
 * Names are validated with {@link validateName} and used as they are (never
 * rewritten), so one name is one file and one cached handle. Files and the root
 * directory are created on first use.
 *
 * Statements run through better-sqlite3, one statement per call, each in its own
 * implicit transaction. Parameters bind positionally (`?`), or by name when a single
 * plain object is passed; SQLite accepts numbers, bigints, strings, `Uint8Array`s
 * and `null`. In rows, BLOBs come back as `Buffer` (a `Uint8Array`), not decoded to
 * strings as in the Go package; integers come back as `number` (precise up to 2^53).
 */
export class SQLiteProjectionStore implements ProjectionStore {
  /** Absolute, so a later `process.chdir` does not move the store. */
  readonly rootDir: string;
  private readonly handles = new Map<string, Database.Database>();

  /** @param rootDir directory holding one `.db` file per projection. */
  constructor(rootDir: string) {
    if (typeof rootDir !== "string" || rootDir.trim() === "") {
      throw new WorkflowError(ErrorCodes.invalidConfig, "sqlite projection store root is required");
    }
    this.rootDir = path.resolve(rootDir);
  }

  async projection(name: string): Promise<Projection> {
    const checked = validateName(name, "projection name");
    this.db(checked); // open now, so a file that cannot be opened fails here
    // The handle looks its database up on every call instead of holding it, so a
    // projection kept across `close()` reopens its file rather than failing.
    return {
      exec: async (sql, ...args) => this.run(checked, sql, (stmt) => stmt.run(...args).changes),
      query: async <T>(sql: string, ...args: unknown[]) =>
        this.run(checked, sql, (stmt) => {
          if (stmt.reader) return stmt.all(...args) as T[];
          // A statement without result columns (INSERT without RETURNING, DDL):
          // run it and report no rows, rather than better-sqlite3's TypeError.
          stmt.run(...args);
          return [];
        }),
    };
  }

  async close(): Promise<void> {
    const errors: unknown[] = [];
    for (const [name, db] of this.handles) {
      try {
        db.close();
      } catch (err) {
        errors.push(new Error(`projection ${name}: ${(err as Error).message}`, { cause: err }));
      }
    }
    this.handles.clear();
    if (errors.length > 0) {
      throw new WorkflowError(PROJECTION_ERROR, "cannot close projections", { cause: new AggregateError(errors) });
    }
  }

  private db(name: string): Database.Database {
    let db = this.handles.get(name);
    if (db?.open) return db;
    try {
      mkdirSync(this.rootDir, { recursive: true });
      const Driver = sqliteDriver();
      db = new Driver(path.join(this.rootDir, `${name}.db`), { timeout: 5000 });
    } catch (err) {
      throw projectionError(`cannot open projection ${name}`, err);
    }
    try {
      db.pragma("journal_mode = WAL");
      db.pragma("busy_timeout = 5000");
    } catch (err) {
      db.close();
      throw projectionError(`cannot open projection ${name}`, err);
    }
    this.handles.set(name, db);
    return db;
  }

  private run<R>(name: string, sql: string, fn: (stmt: Database.Statement<unknown[]>) => R): R {
    const db = this.db(name);
    try {
      return fn(db.prepare(sql));
    } catch (err) {
      throw projectionError(`projection ${name}`, err);
    }
  }
}

function projectionError(context: string, err: unknown): WorkflowError {
  const message = err instanceof Error ? err.message : String(err);
  // SQLite's own code (e.g. SQLITE_CONSTRAINT_UNIQUE) lets callers tell failures apart.
  const sqliteCode = (err as { code?: unknown } | null)?.code;
  return new WorkflowError(PROJECTION_ERROR, `${context}: ${message}`, {
    cause: err,
    ...(typeof sqliteCode === "string" ? { details: { sqliteCode } } : {}),
  });
}
