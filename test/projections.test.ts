import * as vitest from "vitest";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { describeProjectionConformance } from "../src/conformance/index.js";
import { WorkflowError } from "../src/errors.js";
import { PostgresProjectionStore } from "../src/projections/postgres-projection-store.js";
import { SQLiteProjectionStore } from "../src/projections/sqlite-projection-store.js";
import { pgUrl, uniqueSchema } from "./support/postgres.js";

const BAD_NAMES = ["..", "a/b", "a\\b", "a\0b", "", "   ", ".", "x".repeat(201)];

let parent: string;
let root: string;
let store: SQLiteProjectionStore;

beforeEach(() => {
  parent = fs.mkdtempSync(path.join(os.tmpdir(), "trellis-"));
  root = path.join(parent, "projections");
  store = new SQLiteProjectionStore(root);
});

afterEach(async () => {
  await store.close();
  fs.rmSync(parent, { recursive: true, force: true });
});

async function failure(p: Promise<unknown>): Promise<WorkflowError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowError);
  return err as WorkflowError;
}

describe("SQLiteProjectionStore", () => {
  it("exec returns the change count and query returns rows", async () => {
    const p = await store.projection("orders");
    expect(await p.exec("CREATE TABLE orders (id INTEGER PRIMARY KEY, name TEXT, total REAL, raw BLOB)")).toBe(0);
    expect(await p.exec("INSERT INTO orders (name, total, raw) VALUES (?, ?, ?)", "a", 1.5, new Uint8Array([7]))).toBe(1);
    expect(await p.exec("INSERT INTO orders (name, total) VALUES ('b', 2), ('c', 3)")).toBe(2);
    expect(await p.exec("UPDATE orders SET total = total * 2 WHERE total > ?", 1)).toBe(3);

    const rows = await p.query<{ id: number; name: string; total: number; raw: Uint8Array | null }>(
      "SELECT id, name, total, raw FROM orders ORDER BY id",
    );
    expect(rows.map(({ id, name, total }) => ({ id, name, total }))).toEqual([
      { id: 1, name: "a", total: 3 },
      { id: 2, name: "b", total: 4 },
      { id: 3, name: "c", total: 6 },
    ]);
    expect(rows[0]?.raw).toBeInstanceOf(Uint8Array);
    expect(Array.from(rows[0]?.raw ?? [])).toEqual([7]);
    expect(rows[1]?.raw).toBeNull();
    expect(await p.query("SELECT * FROM orders WHERE id = ?", 99)).toEqual([]);
    // A statement without result columns runs and yields no rows.
    expect(await p.query("DELETE FROM orders WHERE id = ?", 3)).toEqual([]);
    expect(await p.query("SELECT count(*) AS n FROM orders")).toEqual([{ n: 2 }]);
  });

  it("keeps each projection in its own file", async () => {
    const a = await store.projection("alpha");
    const b = await store.projection(" beta ");
    await a.exec("CREATE TABLE t (v TEXT)");
    await a.exec("INSERT INTO t VALUES ('from a')");
    expect(await failure(b.query("SELECT v FROM t"))).toMatchObject({ code: "projection_error" });
    await b.exec("CREATE TABLE t (v TEXT)");
    expect(await b.query("SELECT v FROM t")).toEqual([]);
    expect(await a.query("SELECT v FROM t")).toEqual([{ v: "from a" }]);
    const files = fs.readdirSync(root).filter((f) => f.endsWith(".db"));
    expect(files.sort()).toEqual(["alpha.db", "beta.db"]);
    expect(await (await store.projection("alpha")).query("PRAGMA journal_mode")).toEqual([{ journal_mode: "wal" }]);
  });

  it("persists across close() and reopen, by the same store and a new one", async () => {
    const p = await store.projection("ledger");
    await p.exec("CREATE TABLE entries (amount INTEGER)");
    await p.exec("INSERT INTO entries VALUES (?)", 42);
    await store.close();

    // A handle kept across close() reopens the file.
    expect(await p.query("SELECT amount FROM entries")).toEqual([{ amount: 42 }]);
    await store.close();

    expect(await (await store.projection("ledger")).query("SELECT amount FROM entries")).toEqual([{ amount: 42 }]);
    const other = new SQLiteProjectionStore(root);
    try {
      expect(await (await other.projection("ledger")).query("SELECT amount FROM entries")).toEqual([{ amount: 42 }]);
    } finally {
      await other.close();
    }
  });

  it("wraps SQL errors as projection_error", async () => {
    const p = await store.projection("errors");
    const syntax = await failure(p.exec("SELEC nonsense"));
    expect(syntax.code).toBe("projection_error");
    expect(syntax.cause).toBeInstanceOf(Error);
    expect((await failure(p.query("SELECT * FROM missing_table"))).code).toBe("projection_error");
    expect((await failure(p.exec("CREATE TABLE t (a); CREATE TABLE u (b)"))).code).toBe("projection_error");
    await p.exec("CREATE TABLE k (id TEXT PRIMARY KEY)");
    await p.exec("INSERT INTO k VALUES ('x')");
    const unique = await failure(p.exec("INSERT INTO k VALUES ('x')"));
    expect(unique.code).toBe("projection_error");
    expect(unique.details).toEqual({ sqliteCode: "SQLITE_CONSTRAINT_PRIMARYKEY" });
    expect((await failure(p.exec("INSERT INTO k VALUES (?)", { not: "bindable" }))).code).toBe("projection_error");
  });

  it("rejects bad names with invalid_name and writes nothing outside its root", async () => {
    for (const name of BAD_NAMES) {
      expect((await failure(store.projection(name))).code).toBe("invalid_name");
    }
    expect(fs.readdirSync(parent)).toEqual([]);
  });

  it("rejects an empty root with invalid_config", () => {
    expect(() => new SQLiteProjectionStore("")).toThrow(expect.objectContaining({ code: "invalid_config" }));
  });
});

// The behaviour every projection store shares, on both built-in ones.
describeProjectionConformance({
  name: "SQLiteProjectionStore",
  makeStore: () => new SQLiteProjectionStore(root),
  param: () => "?",
}, vitest);

const pgSchemas: string[] = [];
let prefix = "";
describeProjectionConformance({
  name: "PostgresProjectionStore",
  makeStore: () => {
    // One prefix per test: its schemas are dropped afterwards.
    if (!prefix) prefix = `${uniqueSchema("proj")}_`;
    return new PostgresProjectionStore({ connectionString: pgUrl(), schemaPrefix: prefix });
  },
  param: (n) => `$${n}`,
  cleanup: () => {
    pgSchemas.push(prefix);
    prefix = "";
  },
}, vitest);

describe("PostgresProjectionStore", () => {
  afterAll(async () => {
    const admin = new pg.Client({ connectionString: pgUrl() });
    await admin.connect();
    try {
      const { rows } = await admin.query<{ nspname: string }>("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'proj\\_%'");
      for (const { nspname } of rows) if (pgSchemas.some((p) => nspname.startsWith(p))) await admin.query(`DROP SCHEMA "${nspname}" CASCADE`);
    } finally {
      await admin.end();
    }
  });

  it("keeps each projection in a schema of its own, and refuses a name whose schema name would not fit", async () => {
    const schemaPrefix = `${uniqueSchema("proj")}_`;
    pgSchemas.push(schemaPrefix);
    const store = new PostgresProjectionStore({ connectionString: pgUrl(), schemaPrefix });
    try {
      const p = await store.projection("Orders 2026");
      await p.exec("CREATE TABLE t (v TEXT)");
      expect(await p.query("SELECT table_schema FROM information_schema.tables WHERE table_name = 't' AND table_schema = current_schema()")).toEqual([
        { table_schema: `${schemaPrefix}Orders 2026` },
      ]);
      expect((await store.projection("x".repeat(63 - schemaPrefix.length)).catch((e: unknown) => e)) instanceof WorkflowError).toBe(false);
      expect(await store.projection("x".repeat(64 - schemaPrefix.length)).catch((e: WorkflowError) => e.code)).toBe("invalid_name");
    } finally {
      await store.close();
    }
  });

  it("borrows an application's pool and leaves it open", async () => {
    const schemaPrefix = `${uniqueSchema("proj")}_`;
    pgSchemas.push(schemaPrefix);
    const pool = new pg.Pool({ connectionString: pgUrl(), max: 2 });
    try {
      const store = new PostgresProjectionStore({ pool, schemaPrefix });
      await (await store.projection("p")).exec("CREATE TABLE t (v INTEGER)");
      await store.close();
      expect((await pool.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
      // The borrowed connections came back without the projection's search_path.
      expect((await pool.query("SHOW search_path")).rows[0]?.search_path).not.toContain(schemaPrefix);
    } finally {
      await pool.end();
    }
  });

  it("refuses a config without exactly one of connectionString and pool", () => {
    expect(() => new PostgresProjectionStore({})).toThrow(expect.objectContaining({ code: "invalid_config" }));
  });
});
