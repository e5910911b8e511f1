import pg from "pg";

/**
 * A `pg.Pool`, as trellis's public types describe it: by the members trellis
 * calls, not by `pg`'s own declarations. An application then type-checks
 * trellis's declarations without `@types/pg`. Pass a real `new pg.Pool(...)`.
 */
export interface PgPool {
  /** `pool.connect()`: checks a client out (for transactions and LISTEN). */
  connect(...args: never[]): unknown;
  /** `pool.query(...)`: one statement on any client. */
  query(...args: never[]): unknown;
  /** `pool.end()`: called only on a pool trellis opened itself. */
  end(...args: never[]): unknown;
  /** `pool.on("error", ...)`: hears errors of idle clients. */
  on(...args: never[]): unknown;
}

/** The pool as the driver's type, inside trellis. */
export const asPgPool = (pool: PgPool): pg.Pool => pool as unknown as pg.Pool;

/** Whether a value looks like a pool (checked at runtime in every config that takes one). */
export const isPgPool = (value: unknown): value is PgPool =>
  typeof value === "object" && value !== null && typeof (value as PgPool).connect === "function" && typeof (value as PgPool).query === "function";

/**
 * The settings of every connection of a pool trellis opens (and of each
 * transaction it runs on an application's pool, see `beginSql`). A connection plans a
 * statement at its first executions, then keeps a generic plan made with the
 * table sizes of that moment for as long as it lives: planning one of the
 * store's statements costs more than running it (about 2 ms for a claim), so
 * the cached plan is what keeps a batch cheap. A connection that first ran
 * while the tables were nearly empty would keep sequential scans after they
 * had grown to millions of rows, until an ANALYZE (autovacuum, where it runs)
 * made it plan again. Every statement of the store reaches rows through an
 * index (test/postgres-plans.test.ts), so scans are kept out of its plans.
 */
export const STORE_SESSION_SETTINGS = { enable_seqscan: "off" } as const;

/**
 * The pool trellis opens from a connection string. `application_name` shows
 * trellis in pg_stat_activity (one in the connection string wins). The store's
 * settings are applied with `SET` in the pool's `onConnect` hook, which the pool
 * awaits before it hands a new connection out; not as a startup `options`
 * parameter, which poolers such as PgBouncer refuse.
 */
export function openOwnPool(connectionString: string, max: number): pg.Pool {
  return new pg.Pool({
    connectionString,
    max,
    application_name: "trellis",
    // Should the SET fail, the connection only plans as the server's defaults say.
    onConnect: (client) => client.query(SET_SETTINGS).then(ignore, ignore),
  });
}

const ignore = () => undefined;

/** The store's settings as statements: `SET` for a connection, `SET LOCAL` for one transaction. */
export function settingsSql(command: "SET" | "SET LOCAL"): string {
  return Object.entries(STORE_SESSION_SETTINGS)
    .map(([name, value]) => `${command} ${name} = ${value}`)
    .join("; ");
}

const SET_SETTINGS = settingsSql("SET");
