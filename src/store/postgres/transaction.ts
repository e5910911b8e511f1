/**
 * How the PostgreSQL store talks to the server: one `Session` per store holds
 * the pool, the schema's statements and lock keys, and the event observers, and
 * offers the three ways a command runs (READ COMMITTED throughout):
 *
 * - `write`: a write that needs no lock, straight on the pool; while events are
 *   observed, in a transaction of its own whose events are read back.
 * - `tx`: a transaction holding advisory locks taken first, the given runs'
 *   (sorted, so every transaction takes them in one order, which rules out
 *   deadlocks) or one queue's. `BEGIN` with its locks and, at the end, the
 *   notifications with `COMMIT` each go in one round trip.
 * - `byAge`: a read-only transaction that walks history in age order.
 */
import type pg from "pg";
import type { EventRecord } from "../store.js";
import { deliverEvents } from "../completion-rules.js";
import { type EventRow, toEvent } from "../rows.js";
import { encodeParams } from "./arrays.js";
import { checkout, type Db, preparedName, type Sql, TYPES } from "./connection.js";
import { quoteIdent } from "./connection.js";
import { commitPayloads } from "./listener.js";
import { operatorStatements } from "./operator-statements.js";
import { beginSql, commitSql, lockRunsSql, notifySql } from "./queries.js";
import { statements } from "./statements.js";

/** A transaction in progress: notifications are sent with its COMMIT. */
export interface Tx {
  readonly db: Db;
  /** Wake-ups for workers (`Payload`), sent with the COMMIT. */
  readonly notify: Set<string>;
  /** Runs this transaction changed in a way observers care about (finished, paused): see `commitPayloads`. */
  readonly changed: Set<string>;
  /** Whether the triggers copy this transaction's events aside for observers (see `Session.observeEvents`). */
  readonly capturing: boolean;
}

/** The map key of one step of one run. */
export const stepKey = (runId: string, stepId: string) => `${runId}\u0000${stepId}`;

export type Statements = ReturnType<typeof statements> & ReturnType<typeof operatorStatements>;

export class Session {
  readonly pool: pg.Pool;
  readonly schema: string;
  /** The LISTEN/NOTIFY channel of the schema. */
  readonly channel: string;
  readonly sql: Statements;
  readonly #lockKeys: { runs: number; queues: number };
  readonly #eventListeners = new Set<(events: EventRecord[]) => void>();

  /** Whether each transaction sets the store's settings itself: an application's pool, whose connections trellis does not set up. */
  readonly #localSettings: boolean;

  constructor(pool: pg.Pool, schema: string, lockKeys: { runs: number; queues: number }, ownsPool: boolean) {
    this.pool = pool;
    this.#localSettings = !ownsPool;
    this.schema = schema;
    this.channel = `trellis.${schema}`;
    this.sql = { ...statements(quoteIdent(schema)), ...operatorStatements(quoteIdent(schema)) };
    this.#lockKeys = lockKeys;
  }

  /**
   * Events are captured only while someone observes (see migration 2's
   * events_captured): every write then runs in a transaction of its own, whose
   * events are read before its COMMIT and delivered after it.
   */
  observeEvents(listener: (events: EventRecord[]) => void): () => void {
    this.#eventListeners.add(listener);
    return () => this.#eventListeners.delete(listener);
  }

  /** `{ prepared: text }`: parsed and planned once per connection (see `preparedName`). */
  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(db: pg.Pool | Db, sql: Sql, values?: unknown[]): Promise<pg.QueryResult<R>> {
    const encoded = values ? encodeParams(values) : [];
    if (typeof sql === "string") return db.query<R>({ text: sql, values: encoded, types: TYPES });
    return db.query<R>({ text: sql.prepared, name: preparedName(sql.prepared), values: encoded, types: TYPES });
  }

  async rows<R extends pg.QueryResultRow>(db: pg.Pool | Db, text: Sql, values?: unknown[]): Promise<R[]> {
    return (await this.query<R>(db, text, values)).rows;
  }

  /** A write that needs no lock: straight on the pool, or, while events are observed, in a transaction that captures them. */
  async write<T>(fn: (db: pg.Pool | Db) => Promise<T>): Promise<T> {
    if (this.#eventListeners.size === 0) return fn(this.pool);
    return this.tx({}, (tx) => fn(tx.db));
  }

  /** Runs `fn` in a transaction holding the runs' or the queue's advisory locks (see the file's comment). */
  async tx<T>(locks: { runs?: Iterable<string>; queue?: string }, fn: (tx: Tx) => Promise<T>): Promise<T> {
    const capture = this.#eventListeners.size > 0;
    let captured: EventRecord[] = [];
    const result = await this.#inTransaction(
      (db) => beginSql(db, this.schema, this.#lockKeys, { runs: [...new Set(locks.runs ?? [])], queue: locks.queue }, capture, this.#localSettings),
      async (db) => {
        const tx: Tx = { db, notify: new Set(), changed: new Set(), capturing: capture };
        const value = await fn(tx);
        if (capture) captured = (await this.rows<EventRow>(db, this.sql.capturedEvents)).map(toEvent);
        return { value, commit: commitSql(db, this.channel, commitPayloads(tx.notify, tx.changed)) };
      },
    );
    if (captured.length) deliverEvents(this.#eventListeners, captured);
    return result;
  }

  /** Takes more runs' locks inside a transaction (a cancel that found a child started meanwhile). */
  async lockRuns(db: Db, runIds: string[]): Promise<void> {
    await db.query(lockRunsSql(db, this.#lockKeys.runs, runIds));
  }

  /**
   * A read of history in age order (failed steps, finished runs), with sorting
   * disabled: walking the partial index by age (steps_failed, runs_finished) and
   * stopping at the limit is then the plan, even without statistics, instead of
   * reading every row of a status and sorting them.
   */
  async byAge<T>(read: (db: Db) => Promise<T>): Promise<T> {
    return this.#inTransaction(
      () => "BEGIN READ ONLY; SET LOCAL enable_sort = off",
      async (db) => ({ value: await read(db), commit: "COMMIT" }),
    );
  }

  /** Notifications outside a transaction (after a lock-free write). */
  async notify(payloads: string[]): Promise<void> {
    if (payloads.length === 0) return;
    await this.query(this.pool, notifySql, [this.channel, payloads]);
  }

  /**
   * One transaction on one checked-out client: `begin` (which may lock or set
   * things in the same round trip), the body, then its commit statement; on an
   * error a rollback, and a client whose rollback failed is discarded.
   */
  async #inTransaction<T>(begin: (db: Db) => string, body: (db: Db) => Promise<{ value: T; commit: string }>): Promise<T> {
    const db = await checkout(this.pool);
    let broken: Error | undefined;
    try {
      await db.query(begin(db));
      const { value, commit } = await body(db);
      await db.query(commit);
      return value;
    } catch (err) {
      await db.query("ROLLBACK").catch((e: Error) => {
        broken = e;
      });
      throw err;
    } finally {
      db.done(broken);
    }
  }
}
