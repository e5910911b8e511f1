/**
 * The projection conformance suite: what every `ProjectionStore` must show,
 * whatever database holds the read models. Statements are written in the SQL
 * both built-in stores share; only parameter placeholders differ, so the
 * target says how to write the n-th one.
 *
 * @example
 * describeProjectionConformance({ name: "my-projections", makeStore: () => new MyProjectionStore(url), param: (n) => `$${n}` }, vitest);
 */
import { describe, expect, it, useRunner, type ConformanceRunner } from "./runner.js";
import { outcomeCode, withFreshStores } from "./harness.js";
import type { ProjectionStore } from "../projections/projection-store.js";

/** The `ProjectionStore` the projection suite runs against, and how to write its SQL. */
export interface ProjectionConformanceTarget {
  /** Shown in the suite's name. */
  name: string;
  /** A store over a fresh, empty database. Called twice in a test, the two must share it (two processes). */
  makeStore(): ProjectionStore | Promise<ProjectionStore>;
  /** The n-th (1-based) parameter placeholder: `?` for SQLite, `$n` for PostgreSQL. */
  param(n: number): string;
  /** Called after each test. */
  cleanup?(): void | Promise<void>;
}

/** Names that could address something other than one projection. */
export const BAD_PROJECTION_NAMES = ["..", "a/b", "a\\b", "a\u0000b", "", "   ", ".", "x".repeat(201)];

/** Registers the suite with the test runner (`runner`, or Jest's globals when omitted; see `describeStoreConformance`). */
export function describeProjectionConformance(target: ProjectionConformanceTarget, runner?: ConformanceRunner): void {
  useRunner(runner, "describeProjectionConformance");
  describe(`projection conformance: ${target.name}`, () => {
    const $ = target.param;
    const withStores = (n: number, body: (...stores: ProjectionStore[]) => Promise<void>) => withFreshStores(target, n, body);

    it("exec returns the change count and query returns rows keyed by column", () =>
      withStores(1, async (store) => {
        const p = await store.projection("orders");
        await p.exec("CREATE TABLE orders (id INTEGER PRIMARY KEY, name TEXT, total REAL)");
        expect(await p.exec(`INSERT INTO orders (id, name, total) VALUES (${$(1)}, ${$(2)}, ${$(3)})`, 1, "a", 1.5)).toBe(1);
        expect(await p.exec("INSERT INTO orders (id, name, total) VALUES (2, 'b', 2), (3, 'c', 3)")).toBe(2);
        expect(await p.exec(`UPDATE orders SET total = total * 2 WHERE total > ${$(1)}`, 1)).toBe(3);
        expect(await p.query("SELECT id, name, total FROM orders ORDER BY id")).toEqual([
          { id: 1, name: "a", total: 3 },
          { id: 2, name: "b", total: 4 },
          { id: 3, name: "c", total: 6 },
        ]);
        expect(await p.query(`SELECT * FROM orders WHERE id = ${$(1)}`, 99)).toEqual([]);
        // A statement without result columns runs and yields no rows; counts are numbers.
        expect(await p.query(`DELETE FROM orders WHERE id = ${$(1)}`, 3)).toEqual([]);
        expect(await p.query("SELECT count(*) AS n FROM orders")).toEqual([{ n: 2 }]);
        // Idempotent writes, as executors should make them.
        const upsert = `INSERT INTO orders (id, name, total) VALUES (${$(1)}, ${$(2)}, ${$(3)}) ON CONFLICT (id) DO UPDATE SET total = excluded.total`;
        await p.exec(upsert, 1, "a", 10);
        await p.exec(upsert, 1, "a", 10);
        expect(await p.query(`SELECT total FROM orders WHERE id = ${$(1)}`, 1)).toEqual([{ total: 10 }]);
      }));

    it("keeps each projection apart: the same table name in two projections holds two tables", () =>
      withStores(1, async (store) => {
        const a = await store.projection("alpha");
        const b = await store.projection(" beta ");
        await a.exec("CREATE TABLE t (v TEXT)");
        await a.exec("INSERT INTO t VALUES ('from a')");
        expect(await outcomeCode(b.query("SELECT v FROM t"))).toBe("projection_error");
        await b.exec("CREATE TABLE t (v TEXT)");
        expect(await b.query("SELECT v FROM t")).toEqual([]);
        expect(await a.query("SELECT v FROM t")).toEqual([{ v: "from a" }]);
        // " beta " is "beta": names are trimmed, nothing else.
        expect(await (await store.projection("beta")).query("SELECT v FROM t")).toEqual([]);
      }));

    it("persists across close(), for a handle kept across it, the same store and another one", () =>
      withStores(2, async (store, other) => {
        const s = store;
        const p = await s.projection("ledger");
        await p.exec("CREATE TABLE entries (amount INTEGER)");
        await p.exec(`INSERT INTO entries VALUES (${$(1)})`, 42);
        expect(await (await other.projection("ledger")).query("SELECT amount FROM entries")).toEqual([{ amount: 42 }]);
        await s.close?.();
        expect(await (await s.projection("ledger")).query("SELECT amount FROM entries")).toEqual([{ amount: 42 }]);
      }));

    it("fails a statement with projection_error, the driver's error as its cause", () =>
      withStores(1, async (store) => {
        const p = await store.projection("errors");
        // One at a time: a statement is only sent when the one before has failed.
        for (const bad of [() => p.exec("SELEC nonsense"), () => p.query("SELECT * FROM missing_table"), () => p.exec("CREATE TABLE t (a INTEGER); CREATE TABLE u (b INTEGER)")]) {
          const err = await bad().then(() => undefined, (e: unknown) => e);
          expect(err).toMatchObject({ code: "projection_error" });
          expect((err as Error).cause).toBeInstanceOf(Error);
        }
        await p.exec("CREATE TABLE k (id TEXT PRIMARY KEY)");
        await p.exec("INSERT INTO k VALUES ('x')");
        const unique = await p.exec("INSERT INTO k VALUES ('x')").then(() => undefined, (e: unknown) => e);
        expect(unique).toMatchObject({ code: "projection_error" });
        expect((unique as { details?: unknown }).details).toBeDefined(); // the database's own code
        // A failed statement leaves the projection usable.
        expect(await p.query("SELECT id FROM k")).toEqual([{ id: "x" }]);
      }));

    it("rejects names that could escape with invalid_name", () =>
      withStores(1, async (store) => {
        for (const name of BAD_PROJECTION_NAMES) expect({ [JSON.stringify(name)]: await outcomeCode(store.projection(name)) }).toEqual({ [JSON.stringify(name)]: "invalid_name" });
      }));
  });
}
