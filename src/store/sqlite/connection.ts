/**
 * Opening the SQLite file: the connection's pragmas, the migrations, and the
 * helpers that run beside it (the checkpoint thread, the WAL watcher).
 *
 * - WAL, `synchronous=NORMAL`: a commit survives a process crash (not power loss)
 *   and readers never block the writer.
 * - `busy_timeout` makes a second process wait for the write lock instead of
 *   failing.
 */
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { BACKSTOP_CHECKPOINT_PAGES, Checkpointer } from "./checkpointer.js";
import { migrate } from "./migrate.js";
import { WalWatcher } from "./wal-watcher.js";

/** Options of `sqliteStore(...)` (a string is the `path`). */
export interface SqliteStoreOptions {
  /** The database file, created if missing (`:memory:` for a private in-memory database). */
  path: string;
  /** ms a writer waits for another process's write lock (default 5000). */
  busyTimeout?: number;
  /** SQLite's page cache of this process's connection, in MiB (default 4). */
  cacheSizeMiB?: number;
}

/**
 * The page cache a connection keeps by default. A worker's hot pages (the ready
 * index, the newest rows of each table, the upper levels of every B-tree) fit
 * in a few MiB; the operating system's file cache serves the rest. better-sqlite3
 * defaults to 16 MiB, which a long drain fills; 4 MiB keeps a long-running
 * worker's memory flat without slowing it (see docs/BENCHMARKS.md).
 */
export const DEFAULT_CACHE_SIZE_MIB = 4;

export interface OpenedDatabase {
  db: Database.Database;
  /** Absent for `:memory:`. */
  checkpointer?: Checkpointer;
  /** Absent for `:memory:`. */
  watcher?: WalWatcher;
}

export function openDatabase(options: SqliteStoreOptions): OpenedDatabase {
  const file = options.path;
  const onDisk = file !== ":memory:";
  if (onDisk) fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const db = new Database(file);
  // Set first, so that even switching to WAL waits for a concurrent opener.
  const busyTimeout = Math.max(0, Math.floor(options.busyTimeout ?? 5000));
  db.pragma(`busy_timeout = ${busyTimeout}`);
  if (onDisk) {
    whileBusy(busyTimeout, () => db.pragma("journal_mode = WAL"));
    db.pragma(`wal_autocheckpoint = ${BACKSTOP_CHECKPOINT_PAGES}`);
  }
  db.pragma("synchronous = NORMAL");
  db.pragma(`cache_size = ${-Math.ceil((options.cacheSizeMiB ?? DEFAULT_CACHE_SIZE_MIB) * 1024)}`); // negative: KiB
  // Temporary files in memory. The hot writes keep no statement journal (see "no
  // statement journals" in statements.ts), but the few that do (parking a step, a
  // signal, an operator's note) would write a file at each statement on the
  // default file-backed temp store: before the hot writes lost theirs, starting
  // 5000 runs took twice as long that way. Nothing here sorts more than a page.
  db.pragma("temp_store = MEMORY");
  whileBusy(busyTimeout, () => migrate(db, Date.now()));
  if (!onDisk) return { db };
  const resolved = path.resolve(file);
  return { db, checkpointer: new Checkpointer(resolved), watcher: new WalWatcher(`${resolved}-wal`) };
}

/**
 * Runs `step` again while it fails with SQLITE_BUSY, up to `timeoutMs`. The busy
 * timeout covers waiting for a lock, but not SQLite's deadlock answer: processes
 * opening a new file at once, each holding a read lock and wanting the write lock
 * (to switch it to WAL, or to migrate it), get SQLITE_BUSY at once, without
 * waiting. Both steps are safe to repeat (the switch is idempotent, a migration is
 * one transaction). Seen under load in the concurrent-open test.
 */
function whileBusy<T>(timeoutMs: number, step: () => T): T {
  const deadline = Date.now() + timeoutMs;
  for (let pause = 2; ; pause = Math.min(pause * 2, 50)) {
    try {
      return step();
    } catch (err) {
      if (!String((err as { code?: string }).code).startsWith("SQLITE_BUSY") || Date.now() >= deadline) throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, pause); // opening is synchronous: a blocking pause
    }
  }
}
