import { z } from "zod";
import { ErrorCodes, WorkflowError } from "../../errors.js";
import type { StoreConfig } from "../store.js";
import type { SqliteStoreOptions } from "./connection.js";

const optionsSchema = z.union([
  z.string().min(1),
  z.object({
    path: z.string().min(1),
    busyTimeout: z.number().int().min(0).optional(),
    cacheSizeMiB: z.number().positive().max(1 << 20).optional(),
  }).strict(),
]);

/**
 * The embedded default store: a SQLite file, created (with its directory) if
 * missing. Many runtimes, in this process or others on the same machine, may
 * share one file. `":memory:"` gives a private, non-durable store for tests.
 *
 * @example
 * const rt = await newRuntime({ store: sqliteStore("./var/app.db") });
 */
export function sqliteStore(options: string | SqliteStoreOptions): StoreConfig {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) {
    throw new WorkflowError(ErrorCodes.invalidConfig, `sqliteStore: ${parsed.error.issues[0]?.message ?? "invalid options"}`, {
      details: parsed.error.issues,
    });
  }
  const resolved = typeof parsed.data === "string" ? { path: parsed.data } : parsed.data;
  return {
    name: "sqlite",
    async open() {
      // The driver (a native module) loads here, the first time a SQLite store opens:
      // an application on PostgreSQL only never loads it, and need not install it.
      let open: typeof import("./sqlite-store.js").openSqliteStore;
      try {
        ({ openSqliteStore: open } = await import("./sqlite-store.js"));
      } catch (err) {
        throw new WorkflowError(ErrorCodes.storeError, `sqliteStore: cannot load better-sqlite3 (install it: npm install better-sqlite3): ${(err as Error).message}`, { cause: err });
      }
      try {
        return open(resolved);
      } catch (err) {
        if (err instanceof WorkflowError) throw err;
        throw new WorkflowError(ErrorCodes.storeError, `sqliteStore: cannot open "${resolved.path}": ${(err as Error).message}`, { cause: err });
      }
    },
  };
}
