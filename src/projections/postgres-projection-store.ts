/**
 * Projections in PostgreSQL: one schema per projection name, so that workers on
 * every machine write to, and applications read, the same read models, with
 * nothing but the database they already share.
 */
import pg from "pg";
import { ErrorCodes, WorkflowError } from "../errors.js";
import { validateName } from "../names.js";
import { connectListening, SidePool } from "../store/postgres/connection.js";
import { asPgPool, type PgPool } from "../store/postgres/pool.js";
import { quoteIdent } from "../store/postgres/connection.js";
import type { Projection, ProjectionStore } from "./projection-store.js";

/** Options of `PostgresProjectionStore`: give `connectionString` or `pool`. */
export interface PostgresProjectionStoreConfig {
  /** `postgres://user@host:5432/db`; the store opens (and closes) its own pool. */
  connectionString?: string;
  /** An application's pool instead; the store borrows connections and never ends it. */
  pool?: PgPool;
  /** Prepended to a projection's name to make its schema (default `"projection_"`). */
  schemaPrefix?: string;
  /** Connections of the pool opened from `connectionString` (default 4). */
  poolSize?: number;
}

/** PostgreSQL's limit on an identifier, in bytes. */
const MAX_IDENTIFIER_BYTES = 63;
const INT8_OID = 20;

/** bigint columns (`count(*)`, `bigserial`) come back as numbers, as in SQLite; the pool's own parsers stay untouched. */
const TYPES = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === INT8_OID ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as "text")) as pg.CustomTypesConfig["getTypeParser"],
};

/**
 * A {@link ProjectionStore} keeping each projection in its own schema,
 * `<schemaPrefix><name>`, created on first use. A projection's statements run
 * with that schema as their `search_path`, so they name their tables plainly
 * (`CREATE TABLE totals ...`, `SELECT * FROM totals`), as in a SQLite
 * projection file.
 *
 * Names are validated with {@link validateName} and used as they are (quoted,
 * never rewritten), so one name is one schema; with its prefix it must fit
 * PostgreSQL's 63 bytes (`invalid_name` otherwise). Each `exec` / `query` is one
 * statement in a transaction of its own. Parameters are PostgreSQL's (`$1`,
 * `$2`, ...). Rows come back keyed by column name; `bigint` columns as numbers
 * (precise up to 2^53), `bytea` as `Buffer`. Any failure is `projection_error`
 * with the driver's error as the `cause` and the SQLSTATE in `details.sqlState`.
 */
export class PostgresProjectionStore implements ProjectionStore {
  readonly #pool: SidePool;
  readonly #prefix: string;
  /** Schemas known to exist: created once per store object. */
  readonly #created = new Map<string, Promise<void>>();

  constructor(config: PostgresProjectionStoreConfig) {
    const { connectionString, pool, schemaPrefix = "projection_", poolSize = 4 } = config ?? {};
    if ((connectionString === undefined) === (pool === undefined)) {
      throw new WorkflowError(ErrorCodes.invalidConfig, "PostgresProjectionStore: give exactly one of connectionString or pool");
    }
    if (typeof schemaPrefix !== "string" || schemaPrefix.includes("\u0000")) {
      throw new WorkflowError(ErrorCodes.invalidConfig, "PostgresProjectionStore: schemaPrefix must be a string without NUL");
    }
    this.#pool = new SidePool(pool && asPgPool(pool), { connectionString, max: poolSize, application_name: "trellis-projections" });
    this.#prefix = schemaPrefix;
  }

  async projection(name: string): Promise<Projection> {
    const checked = validateName(name, "projection name");
    const schema = this.#prefix + checked;
    if (Buffer.byteLength(schema, "utf8") > MAX_IDENTIFIER_BYTES) {
      throw new WorkflowError(ErrorCodes.invalidName, `projection name ${JSON.stringify(name)} makes a schema name over ${MAX_IDENTIFIER_BYTES} bytes`, {
        details: { name, reason: `schema name over ${MAX_IDENTIFIER_BYTES} bytes` },
      });
    }
    await this.#ensureSchema(schema); // now, so that a database that cannot be reached fails here
    return {
      exec: async (sql, ...args) => (await this.#run(schema, sql, args)).rowCount ?? 0,
      query: async <T>(sql: string, ...args: unknown[]) => (await this.#run(schema, sql, args)).rows as T[],
    };
  }

  /** Ends the pool the store opened (a borrowed one is left alone); the store may be used again afterwards. */
  async close(): Promise<void> {
    this.#created.clear();
    await this.#pool.end();
  }

  #ensureSchema(schema: string): Promise<void> {
    let created = this.#created.get(schema);
    if (!created) {
      created = this.#pool.get().query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`).then(
        () => undefined,
        (err: unknown) => {
          this.#created.delete(schema); // try again next time
          throw projectionError(`cannot create projection schema ${schema}`, err);
        },
      );
      this.#created.set(schema, created);
    }
    return created;
  }

  /** One statement in its own transaction, with the projection's schema as search_path. */
  async #run(schema: string, sql: string, args: unknown[]): Promise<pg.QueryResult> {
    const swallow = () => undefined; // the statement fails with the connection's error instead
    let client: pg.PoolClient;
    try {
      client = await connectListening(this.#pool.get(), swallow);
    } catch (err) {
      throw projectionError(`projection ${schema}`, err);
    }
    let broken: Error | undefined;
    try {
      await client.query(`BEGIN; SET LOCAL search_path TO ${quoteIdent(schema)}`);
      // The extended protocol takes one statement, as SQLite does: never a script.
      // (pg reads `queryMode`; its type definitions do not list it yet.)
      const result = await client.query({ text: sql, values: args, types: TYPES, queryMode: "extended" } as pg.QueryConfig);
      await client.query("COMMIT");
      return result;
    } catch (err) {
      await client.query("ROLLBACK").catch((e: Error) => {
        broken = e;
      });
      throw projectionError(`projection ${schema}`, err);
    } finally {
      client.removeListener("error", swallow);
      client.release(broken);
    }
  }
}

function projectionError(context: string, err: unknown): WorkflowError {
  const message = err instanceof Error ? err.message : String(err);
  const sqlState = (err as { code?: unknown } | null)?.code;
  return new WorkflowError(ErrorCodes.projectionError, `${context}: ${message}`, {
    cause: err,
    ...(typeof sqlState === "string" ? { details: { sqlState } } : {}),
  });
}
