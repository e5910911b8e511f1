import path from "node:path";
import { ErrorCodes, WorkflowError } from "../errors.js";
import type { StoreConfig } from "../store/store.js";

/** Where the CLI keeps its state when `--store` is not given. */
export const DEFAULT_STORE_URL = "sqlite:./var/trellis.db";

/**
 * Turns a `--store` value into a store config: `sqlite:<path>` (relative to `cwd`)
 * or a `postgres://` / `postgresql://` URL. Each driver is imported only when its
 * scheme is used, so a SQLite-only install never loads `pg` and the other way round.
 */
export async function storeFromUrl(url: string, cwd: string): Promise<StoreConfig> {
  if (url.startsWith("sqlite:")) {
    const file = url.slice("sqlite:".length);
    if (file === "") throw new WorkflowError(ErrorCodes.invalidArgument, `--store ${url}: give a file after "sqlite:", e.g. sqlite:./var/trellis.db`);
    const { sqliteStore } = await import("../store/sqlite/index.js");
    return sqliteStore(file === ":memory:" ? file : path.resolve(cwd, file));
  }
  if (/^postgres(ql)?:\/\//.test(url)) {
    const { postgresStore } = await import("../store/postgres/index.js");
    const parsed = new URL(url);
    // ?schema=name picks the trellis schema; the rest of the URL goes to pg untouched.
    const schema = parsed.searchParams.get("schema") ?? undefined;
    parsed.searchParams.delete("schema");
    return postgresStore({ connectionString: parsed.toString(), ...(schema ? { schema } : {}) });
  }
  throw new WorkflowError(ErrorCodes.invalidArgument, `--store ${url}: expected sqlite:<path> or a postgres:// URL`);
}
