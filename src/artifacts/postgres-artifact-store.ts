/**
 * Artifacts in PostgreSQL, so that workers on many machines share them through
 * the database they already use. A body is kept as chunks (rows of at most
 * `chunkBytes`), written in one transaction and read back one chunk at a time:
 * neither side ever holds a large body as one value, in Node or in the server.
 */
import { randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import pg from "pg";
import { ErrorCodes, WorkflowError, isWorkflowError } from "../errors.js";
import { validateName } from "../names.js";
import { connectListening, SidePool } from "../store/postgres/connection.js";
import { asPgPool, type PgPool } from "../store/postgres/pool.js";
import { quoteIdent } from "../store/postgres/connection.js";
import type { ArtifactObject, ArtifactRef, ArtifactStore } from "./artifact-store.js";
import { artifactFields } from "./fields.js";

/** Where a `PostgresArtifactStore` keeps its tables; give `connectionString` or `pool`. */
export interface PostgresArtifactStoreConfig {
  /** `postgres://user@host:5432/db`; the store opens (and closes) its own pool. */
  connectionString?: string;
  /** An application's pool instead; the store borrows connections and never ends it. */
  pool?: PgPool;
  /** The schema of the two artifact tables, created if missing (default `"trellis_artifacts"`). */
  schema?: string;
  /** Largest chunk a body is cut into, in bytes (default 1 MiB). */
  chunkBytes?: number;
}

const SCHEMA = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/**
 * An {@link ArtifactStore} in PostgreSQL: table `artifacts` holds each
 * artifact's {@link ArtifactRef}, table `artifact_chunks` its body. A `put` of
 * an existing id replaces it in one transaction. An `open` streams the body it
 * found in one snapshot (a `REPEATABLE READ` transaction held while the stream
 * is read), so a reader never mixes two versions, even while a `put` replaces
 * the artifact; destroy or finish the stream to give its connection back.
 */
export class PostgresArtifactStore implements ArtifactStore {
  /** The schema its tables are in. */
  readonly schema: string;
  readonly #pool: SidePool;
  readonly #chunkBytes: number;
  #ready: Promise<void> | undefined;

  constructor(config: PostgresArtifactStoreConfig) {
    const { connectionString, pool, schema = "trellis_artifacts", chunkBytes = 1024 * 1024 } = config ?? {};
    if ((connectionString === undefined) === (pool === undefined)) {
      throw new WorkflowError(ErrorCodes.invalidConfig, "PostgresArtifactStore: give exactly one of connectionString or pool");
    }
    if (typeof schema !== "string" || !SCHEMA.test(schema)) {
      throw new WorkflowError(ErrorCodes.invalidConfig, "PostgresArtifactStore: schema must be a plain SQL identifier");
    }
    if (!Number.isInteger(chunkBytes) || chunkBytes < 1024 || chunkBytes > 64 * 1024 * 1024) {
      throw new WorkflowError(ErrorCodes.invalidConfig, "PostgresArtifactStore: chunkBytes must be an integer from 1 KiB to 64 MiB");
    }
    this.schema = schema;
    this.#pool = new SidePool(pool && asPgPool(pool), { connectionString, max: 4, application_name: "trellis-artifacts" });
    this.#chunkBytes = chunkBytes;
  }

  async put(a: ArtifactObject): Promise<ArtifactRef> {
    if (a === null || typeof a !== "object") throw new WorkflowError(ErrorCodes.invalidInput, "artifact must be an object");
    const id = validateName(a.id === undefined ? randomUUID() : a.id, "artifact id");
    if (!(a.body instanceof Uint8Array)) throw new WorkflowError(ErrorCodes.invalidInput, `artifact ${id}: body must be a Uint8Array`);
    const { name, contentType, kind, metadata } = artifactFields(a, `artifact ${id}`);
    const ref: ArtifactRef = { id, uri: this.#uri(id), name, kind, contentType, ...(metadata ? { metadata } : {}), size: a.body.byteLength };
    const t = this.#tables();
    await this.#transaction("READ COMMITTED", async (db) => {
      // Replacing: the old body goes with the old ref, in the same transaction.
      await db.query(`DELETE FROM ${t.chunks} WHERE id = $1`, [id]);
      const body = Buffer.from(a.body.buffer, a.body.byteOffset, a.body.byteLength); // a view, not a copy
      for (let seq = 0, at = 0; at < body.length || seq === 0; seq++, at += this.#chunkBytes) {
        await db.query(`INSERT INTO ${t.chunks} (id, seq, data) VALUES ($1, $2, $3)`, [id, seq, body.subarray(at, at + this.#chunkBytes)]);
      }
      await db.query(
        `INSERT INTO ${t.artifacts} (id, ref) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET ref = excluded.ref`,
        [id, JSON.stringify(ref)],
      );
    });
    return ref;
  }

  async open(id: string): Promise<{
    /** The body's bytes, streamed. */
    stream: NodeJS.ReadableStream;
    /** What the artifact is and where it lives. */
    ref: ArtifactRef;
  }> {
    const checked = validateName(id, "artifact id");
    const t = this.#tables();
    await this.#ensureTables();
    const swallow = () => undefined; // a lost connection fails the query under way instead
    const db = await connectListening(this.#pool.get(), swallow).catch((err: unknown) => {
      throw storeError(`cannot open artifact ${checked}`, err);
    });
    let released = false;
    const release = (err?: Error) => {
      if (released) return;
      released = true;
      db.removeListener("error", swallow);
      db.release(err);
    };
    try {
      await db.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
      const { rows } = await db.query<{ ref: string; chunks: number }>(
        `SELECT a.ref, (SELECT count(*)::int FROM ${t.chunks} c WHERE c.id = a.id) AS chunks FROM ${t.artifacts} a WHERE a.id = $1`,
        [checked],
      );
      const row = rows[0];
      if (!row) {
        await db.query("ROLLBACK");
        release();
        throw new WorkflowError(ErrorCodes.notFound, `no artifact ${checked}`);
      }
      const ref = JSON.parse(row.ref) as ArtifactRef;
      async function* chunks() {
        try {
          for (let seq = 0; seq < row!.chunks; seq++) {
            const { rows: chunk } = await db.query<{ data: Buffer }>(`SELECT data FROM ${t.chunks} WHERE id = $1 AND seq = $2`, [checked, seq]);
            if (!chunk[0]) throw new WorkflowError(ErrorCodes.storeError, `artifact ${checked}: chunk ${seq} is missing`);
            if (chunk[0].data.length > 0) yield chunk[0].data;
          }
          await db.query("COMMIT");
          release();
        } catch (err) {
          release(err instanceof Error ? err : new Error(String(err)));
          throw isWorkflowError(err) ? err : storeError(`cannot read artifact ${checked}`, err);
        } finally {
          // Destroyed before the end: the transaction is only read, so dropping the connection ends it.
          release(new Error("artifact stream closed early"));
        }
      }
      return { stream: Readable.from(chunks(), { objectMode: false }), ref };
    } catch (err) {
      release(err instanceof Error ? err : new Error(String(err)));
      throw isWorkflowError(err) ? err : storeError(`cannot open artifact ${checked}`, err);
    }
  }

  /** Removes artifacts (and their bodies); ids that do not exist are ignored. Returns how many were removed. */
  async delete(ids: readonly string[]): Promise<number> {
    const checked = ids.map((id) => validateName(id, "artifact id"));
    if (checked.length === 0) return 0;
    const t = this.#tables();
    return this.#transaction("READ COMMITTED", async (db) => {
      await db.query(`DELETE FROM ${t.chunks} WHERE id = ANY($1::text[])`, [checked]);
      return (await db.query(`DELETE FROM ${t.artifacts} WHERE id = ANY($1::text[])`, [checked])).rowCount ?? 0;
    });
  }

  /** Ends the pool the store opened (a borrowed one is left alone); the store may be used again afterwards. */
  async close(): Promise<void> {
    this.#ready = undefined;
    await this.#pool.end();
  }

  #uri(id: string): string {
    return `trellis-postgres-artifact:${this.schema}/${encodeURIComponent(id)}`;
  }

  #tables() {
    const s = quoteIdent(this.schema);
    return { artifacts: `${s}.artifacts`, chunks: `${s}.artifact_chunks` };
  }

  /** The tables, created once per store object (under a lock: processes may start together). */
  #ensureTables(): Promise<void> {
    const t = this.#tables();
    this.#ready ??= this.#transaction("READ COMMITTED", async (db) => {
      await db.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`trellis:artifacts:${this.schema}`]);
      await db.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(this.schema)}`);
      await db.query(`CREATE TABLE IF NOT EXISTS ${t.artifacts} (id text PRIMARY KEY, ref text NOT NULL)`);
      await db.query(`CREATE TABLE IF NOT EXISTS ${t.chunks} (id text NOT NULL, seq integer NOT NULL, data bytea NOT NULL, PRIMARY KEY (id, seq))`);
    }, false).catch((err: unknown) => {
      this.#ready = undefined; // try again next time
      throw err;
    });
    return this.#ready;
  }

  async #transaction<T>(isolation: string, body: (db: pg.PoolClient) => Promise<T>, ensure = true): Promise<T> {
    if (ensure) await this.#ensureTables();
    const swallow = () => undefined;
    let db: pg.PoolClient;
    try {
      db = await connectListening(this.#pool.get(), swallow);
    } catch (err) {
      throw storeError("cannot reach the artifact store", err);
    }
    let broken: Error | undefined;
    try {
      await db.query(`BEGIN ISOLATION LEVEL ${isolation}`);
      const value = await body(db);
      await db.query("COMMIT");
      return value;
    } catch (err) {
      await db.query("ROLLBACK").catch((e: Error) => {
        broken = e;
      });
      throw isWorkflowError(err) ? err : storeError("the artifact store failed", err);
    } finally {
      db.removeListener("error", swallow);
      db.release(broken);
    }
  }
}

function storeError(message: string, err: unknown): WorkflowError {
  const detail = err instanceof Error ? err.message : String(err);
  return new WorkflowError(ErrorCodes.storeError, `${message}: ${detail}`, { cause: err, retryable: true });
}
