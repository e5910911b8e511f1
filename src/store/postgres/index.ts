import { z } from "zod";
import { ErrorCodes, WorkflowError } from "../../errors.js";
import type { StoreConfig } from "../store.js";
import { asPgPool, isPgPool, openOwnPool, type PgPool } from "./pool.js";
import { openPostgresStore } from "./postgres-store.js";

/** Options of `postgresStore(...)`: give `connectionString` or `pool`. */
export interface PostgresStoreConfig {
  /** `postgres://user@host:5432/db`; trellis opens (and closes) its own pool. */
  connectionString?: string;
  /** An application's pool instead; trellis borrows connections and never ends it. */
  pool?: PgPool;
  /** The schema holding every trellis table, created if missing (default `"trellis"`). */
  schema?: string;
  /**
   * Connections of the pool trellis opens from `connectionString` (default 5:
   * four for commands, one held for LISTEN). Ignored with `pool`.
   */
  poolSize?: number;
}

const optionsSchema = z
  .object({
    connectionString: z.string().min(1).optional(),
    pool: z.custom<PgPool>(isPgPool, { message: "pool must be a pg.Pool" }).optional(),
    // Plain identifiers only: the channel name `trellis.<schema>` must stay under 64 bytes.
    schema: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]{0,47}$/, "schema must be a plain SQL identifier of at most 48 characters")
      .default("trellis"),
    poolSize: z.number().int().min(2).max(1000).default(5),
  })
  .strict()
  .refine((o) => (o.connectionString === undefined) !== (o.pool === undefined), { message: "give exactly one of connectionString or pool" });

/**
 * The PostgreSQL store: many processes on many machines share one database, with
 * the same semantics as the embedded SQLite store. Migrations run at open, under
 * an advisory lock, so processes may start together.
 *
 * @example
 * const rt = await newRuntime({ store: postgresStore({ connectionString: process.env.DATABASE_URL }) });
 */
export function postgresStore(options: PostgresStoreConfig): StoreConfig {
  const parsed = optionsSchema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.join(".");
    throw new WorkflowError(ErrorCodes.invalidConfig, `postgresStore: ${field ? `${field}: ` : ""}${issue?.message ?? "invalid options"}`, {
      details: parsed.error.issues,
    });
  }
  const { connectionString, pool, schema, poolSize } = parsed.data;
  return {
    name: "postgres",
    async open() {
      const ownsPool = pool === undefined;
      const thePool = pool ? asPgPool(pool) : openOwnPool(connectionString as string, poolSize);
      // An idle client of our own pool that loses its connection must not crash the process.
      if (ownsPool) thePool.on("error", () => undefined);
      try {
        return await openPostgresStore({ pool: thePool, ownsPool, schema });
      } catch (err) {
        if (ownsPool) await thePool.end().catch(() => undefined);
        if (err instanceof WorkflowError) throw err;
        throw new WorkflowError(ErrorCodes.storeError, `postgresStore: cannot open schema "${schema}": ${(err as Error).message}`, { cause: err });
      }
    },
  };
}
