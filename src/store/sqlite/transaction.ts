/**
 * How the SQLite store runs its commands. Every command that writes runs in one
 * `BEGIN IMMEDIATE` transaction: it takes the write lock up front, so two
 * processes never deadlock upgrading a read lock, and a claim is exclusive
 * without row locks. One writer at a time also makes event capture simple:
 * the event rows after the last seq seen before the body are all this
 * transaction's.
 */
import type Database from "better-sqlite3";
import { deliverEvents } from "../completion-rules.js";
import { type EventRow, toEvent } from "../rows.js";
import type { EventRecord } from "../store.js";
import { prepareStatements, type Statements } from "./statements.js";

export class Session {
  readonly db: Database.Database;
  readonly sql: Statements;
  /** Statements whose text is built per call (see `cached`). */
  readonly #built = new Map<string, Database.Statement>();
  readonly #eventListeners = new Set<(events: EventRecord[]) => void>();
  /** Events the current transaction wrote, while someone observes them. */
  #captured: EventRow[] | undefined;
  /** Runs a body in a write transaction: for the commands that are not hot (those get their own `writer`). */
  readonly write: <T>(body: () => T) => T;

  constructor(db: Database.Database) {
    this.db = db;
    this.sql = prepareStatements(db);
    this.write = this.writer(<T>(body: () => T): T => body()) as <T>(body: () => T) => T;
  }

  observeEvents(listener: (events: EventRecord[]) => void): () => void {
    this.#eventListeners.add(listener);
    return () => this.#eventListeners.delete(listener);
  }

  /**
   * Wraps a transaction body: `BEGIN IMMEDIATE`, and, while someone observes
   * events, the events it wrote, delivered after the commit. Prepared once per
   * command (better-sqlite3 compiles the wrapper).
   */
  writer<A extends unknown[], R>(body: (...args: A) => R): (...args: A) => R {
    const tx = this.db.transaction((...args: A): R => {
      if (this.#eventListeners.size === 0) return body(...args);
      const from = (this.sql.lastEventSeq.get() as { seq: number | null }).seq ?? 0;
      const result = body(...args);
      this.#captured = this.sql.eventsAfter.all(from) as EventRow[];
      return result;
    });
    return (...args: A): R => {
      this.#captured = undefined;
      const result = tx.immediate(...args);
      const captured = this.#captured as EventRow[] | undefined;
      this.#captured = undefined;
      if (captured?.length) deliverEvents(this.#eventListeners, captured.map(toEvent));
      return result;
    };
  }

  /** A statement built per call (its text depends on the filters): prepared once per text. */
  cached(sql: string): Database.Statement {
    let statement = this.#built.get(sql);
    if (!statement) this.#built.set(sql, (statement = this.db.prepare(sql)));
    return statement;
  }
}
