/**
 * Talking to the server: per-query type parsing, prepared-statement names,
 * checked-out clients that cannot crash the process, and literals for the few
 * statements sent as plain text.
 */
import { createHash } from "node:crypto";
import pg from "pg";

// bigint columns hold epoch milliseconds, well inside a double's exact range.
// Per query, so that an application's own pg type parsers stay untouched.
const INT8_OID = 20;
export const TYPES = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === INT8_OID ? Number : pg.types.getTypeParser(oid, format as "text")) as pg.CustomTypesConfig["getTypeParser"],
};

/** A statement's text; `{ prepared }` for one worth preparing on each connection. */
export type Sql = string | { prepared: string };

/**
 * The name of a prepared statement: derived from its text, so that stores on
 * different schemas sharing one pool never reuse a name for another text. Only
 * the hot statements are prepared (a start, the default claim, a batch of plain
 * successes): their plans are index probes by construction, the same for any
 * values, and parsing and planning such big statements every time was a
 * visible part of a run's latency (about 1 ms each).
 */
const preparedNames = new Map<string, string>();
export function preparedName(text: string): string {
  let name = preparedNames.get(text);
  if (!name) preparedNames.set(text, (name = `trellis_${createHash("sha1").update(text).digest("hex").slice(0, 16)}`));
  return name;
}

/** A client checked out with `checkout`: `done()` gives it back. */
export type Db = pg.PoolClient & { done(err?: Error): void };


/**
 * A pooled client with an 'error' listener from the moment the pool hands it
 * over. pg emits a connection error of a checked-out client as an 'error' event,
 * which crashes the process where nobody listens; the pool's own listener is
 * off while the client is out. The listener must be on at once: a new
 * connection's first data can hold both its ReadyForQuery (which hands the
 * client over) and the server's "terminating connection" error, parsed in the
 * same turn, before the continuation of a `pool.connect()` promise could run.
 * Hence the callback form. `onError` receives what the client emits.
 */
export function connectListening(pool: pg.Pool, onError: (err: Error) => void): Promise<pg.PoolClient> {
  return new Promise((resolve, reject) => {
    pool.connect((err, client) => {
      if (err || !client) {
        reject(err ?? new Error("the pool returned no client"));
        return;
      }
      client.on("error", onError);
      resolve(client);
    });
  });
}

/**
 * A pooled client for a multi-statement piece of work. Its connection errors
 * are swallowed while it is out (the work's own query fails with them instead);
 * `done()` puts it back (or destroys it after an error) and takes the listener off.
 */
export async function checkout(pool: pg.Pool): Promise<Db> {
  const swallow = () => undefined;
  const client = await connectListening(pool, swallow);
  return Object.assign(client, {
    done(err?: Error) {
      client.removeListener("error", swallow);
      client.release(err);
    },
  });
}

/**
 * The pool of a side store (projections, artifacts): an application's, borrowed
 * and never ended, or one of our own, made on first use, ended by `end()` and
 * made again if the store is used after that. Our own never crashes the
 * process over an idle connection that is lost.
 */
export class SidePool {
  readonly #borrowed: pg.Pool | undefined;
  readonly #config: pg.PoolConfig;
  #own: pg.Pool | undefined;

  constructor(borrowed: pg.Pool | undefined, config: pg.PoolConfig) {
    this.#borrowed = borrowed;
    this.#config = config;
  }

  get(): pg.Pool {
    if (this.#borrowed) return this.#borrowed;
    if (!this.#own) {
      this.#own = new pg.Pool(this.#config);
      this.#own.on("error", () => undefined);
    }
    return this.#own;
  }

  async end(): Promise<void> {
    const own = this.#own;
    this.#own = undefined;
    await own?.end();
  }
}

/** `ARRAY['a','b']` with every element escaped: for the one-round-trip `BEGIN; lock` query. */
export function literalArray(db: Db, values: string[]): string {
  return `ARRAY[${values.map((v) => db.escapeLiteral(v)).join(",")}]`;
}

/** A quoted SQL identifier. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
