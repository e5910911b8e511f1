/**
 * trellis on PostgreSQL: the store many processes on many machines share, and
 * the projection and artifact stores that keep a deployment's read models and
 * large bytes in the same database. Only this entry point loads the `pg`
 * driver, an optional peer dependency: install it beside trellis.
 *
 * @example
 * import { newRuntime } from "trellis";
 * import { postgresStore } from "trellis/postgres";
 *
 * const rt = await newRuntime({ store: postgresStore({ connectionString: process.env.DATABASE_URL }) });
 *
 * @module
 */
export { postgresStore, type PostgresStoreConfig } from "./store/postgres/index.js";
export type { PgPool } from "./store/postgres/pool.js";
export { PostgresArtifactStore, type PostgresArtifactStoreConfig } from "./artifacts/postgres-artifact-store.js";
export { PostgresProjectionStore, type PostgresProjectionStoreConfig } from "./projections/postgres-projection-store.js";
