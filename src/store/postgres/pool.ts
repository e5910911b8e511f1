import type pg from "pg";

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
