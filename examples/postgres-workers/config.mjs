// What every process of this example shares: the database, the schema and the
// queue limits. Queue limits are global across processes, but each process
// enforces the limits of its own config, so all processes must agree on them:
// keeping them in one module is the simplest way.
import { postgresStore } from "../../dist/postgres.js";

export const DATABASE_URL = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

// A schema of its own, so the example never touches the tables of an application
// (or of the tests) that use the default schema "trellis" in the same database.
export const SCHEMA = "trellis_example";

export const QUEUES = {
  // The CDN in this story takes one upload at a time: at most one "publish" step
  // runs at any moment, whichever process runs it.
  cdn: { maxWorkers: 1 },
};

/**
 * The store config. A process that only starts runs needs no LISTEN connection,
 * so two connections are plenty for it; a worker process keeps the default of 5
 * (4 for commands, 1 for LISTEN).
 */
export function store({ poolSize } = {}) {
  return postgresStore({ connectionString: DATABASE_URL, schema: SCHEMA, ...(poolSize ? { poolSize } : {}) });
}

/** The connection string without its password, for printing. */
export function displayUrl() {
  try {
    const url = new URL(DATABASE_URL);
    if (url.password) url.password = "***";
    return url.toString();
  } catch {
    return "(DATABASE_URL)";
  }
}
