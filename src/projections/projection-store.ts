/**
 * One named read model (a SQL database) that steps write to and applications read.
 * Writes are immediate: they are not part of a step's commit, so executors should
 * write idempotently (e.g. `INSERT ... ON CONFLICT DO UPDATE`).
 */
export interface Projection {
  /** Runs one statement and resolves to the number of rows it changed. */
  exec(sql: string, ...args: unknown[]): Promise<number>;
  /** Runs one statement and resolves to its rows, one object per row keyed by column name. */
  query<T = Record<string, unknown>>(sql: string, ...args: unknown[]): Promise<T[]>;
}

/** Hands out projections by name. */
export interface ProjectionStore {
  /** The projection called `name`, created on first use. */
  projection(name: string): Promise<Projection>;
  /** Releases every open handle; the store may be used again afterwards. */
  close?(): Promise<void>;
}
