import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { newPackage, newRuntime, sqliteStore } from "../src/index.js";
import { MIGRATIONS } from "../src/store/sqlite/migrations.js";
import { purgeableRunsSql } from "../src/store/sqlite/statements.js";
import { openConcurrently } from "./support/open-concurrently.js";

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "trellis-sqlite-"));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("the SQLite store", () => {
  it("lets a script whose last await is rt.close() finish: close settles before the process may exit", async () => {
    // The checkpoint thread is unref'd; seen under load: while it stopped, nothing held the loop open and node exited with code 13.
    const script = fileURLToPath(new URL("./fixtures/open-and-close.mjs", import.meta.url));
    const { stdout } = await promisify(execFile)(process.execPath, [script, path.join(dir, "script.db")], { timeout: 60_000 });
    expect(stdout.trim()).toBe("closed");
  });

  it("creates its directory and opens it in WAL mode (journal mode persists in the file)", async () => {
    const file = path.join(dir, "nested", "deeper", "app.db");
    const rt = await newRuntime({ store: sqliteStore(file) });
    await rt.close();
    const db = new Database(file, { readonly: true });
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(db.prepare("SELECT version, name FROM schema_migrations ORDER BY version").all()).toEqual(
      MIGRATIONS.map((m) => ({ version: m.version, name: m.name })),
    );
    db.close();
  });

  it("takes its page cache size in MiB, fractions too, and works with a small one", async () => {
    const file = path.join(dir, "cache.db");
    const rt = await newRuntime({ store: sqliteStore({ path: file, cacheSizeMiB: 0.5 }) });
    rt.registerPackage(newPackage("p").entrypoint((run, n) => void run.step("s", n, { kind: "k" })).build());
    await rt.startRuns("p", Array.from({ length: 50 }, (_, i) => ({ input: i })));
    expect(await rt.listRuns({ limit: 100 })).toHaveLength(50);
    await rt.close();
  });

  it("writes runs without building temporary B-trees for IN lists, and purges through the partial index runs_finished", async () => {
    const file = path.join(dir, "plans.db");
    const rt = await newRuntime({ store: sqliteStore(file) });
    await rt.close();
    const db = new Database(file);
    const ephemerals = (sql: string, ...params: unknown[]) =>
      (db.prepare(`EXPLAIN ${sql}`).all(...params) as { opcode: string }[]).filter((op) => op.opcode === "OpenEphemeral").length;
    // A run's insert and its status changes evaluate the partial index's predicate and the triggers' WHEN.
    expect(ephemerals("INSERT INTO runs (id, package, name, status, input, metadata, created_at, updated_at) VALUES ('r', 'p', 'p', 'running', 'null', '{}', 1, 1)")).toBe(0);
    expect(ephemerals("UPDATE runs SET status = 'succeeded', updated_at = 2 WHERE id = 'r'")).toBe(0);
    const plan = (db.prepare(`EXPLAIN QUERY PLAN ${purgeableRunsSql(2)}`).all("succeeded", "failed", 10, 5) as { detail: string }[]).map((r) => r.detail);
    expect(plan[0]).toMatch(/^SEARCH c USING INDEX runs_finished \(updated_at<\?\)$/);
    expect(plan.join("\n")).not.toMatch(/TEMP B-TREE/); // read in index order, up to the limit
    db.close();
  });

  it("migrates exactly once when several processes open a new file at the same moment", async () => {
    const file = path.join(dir, "shared.db");
    expect((await openConcurrently(file)).filter((r) => !r.ok)).toEqual([]);
    const db = new Database(file, { readonly: true });
    expect((db.prepare("SELECT count(*) AS n FROM schema_migrations").get() as { n: number }).n).toBe(MIGRATIONS.length);
    db.close();
  });

  it("checkpoints the WAL on a background thread, not in the writers' commits", async () => {
    const file = path.join(dir, "ckpt.db");
    const rt = await newRuntime({ store: sqliteStore(file) });
    rt.registerPackage(newPackage("p").entrypoint((run, n) => void run.step("s", n, { kind: "k" })).build());
    const before = fs.statSync(file).size;
    // ~1 MB of pages: far below the main connection's own auto-checkpoint threshold,
    // so only the background thread can move them into the database file.
    // Checkpoints are requested every 64 write transactions.
    for (let i = 0; i < 100; i++) await rt.startRuns("p", Array.from({ length: 30 }, (_, j) => ({ input: i * 30 + j })));
    const deadline = Date.now() + 10_000;
    while (fs.statSync(file).size <= before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(fs.statSync(file).size).toBeGreaterThan(before);
    await rt.close();
  });

  it("refuses a file migrated by a newer version", async () => {
    const file = path.join(dir, "future.db");
    await (await newRuntime({ store: sqliteStore(file) })).close();
    const db = new Database(file);
    db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, '999_future', 0)").run();
    db.close();
    await expect(newRuntime({ store: sqliteStore(file) })).rejects.toMatchObject({ code: "schema_too_new", message: expect.stringContaining("newer") });
  });

  it("claims through the partial ready index, so history does not slow claiming", async () => {
    const file = path.join(dir, "plan.db");
    await (await newRuntime({ store: sqliteStore(file) })).close();
    const db = new Database(file, { readonly: true });
    const plan = (sql: string) => (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as { detail: string }[]).map((r) => r.detail).join(" | ");
    expect(plan("SELECT seq, ready_at FROM steps WHERE status = 'ready' AND queue = 'q' AND ready_at <= 5 ORDER BY ready_at, seq LIMIT 16")).toMatch(
      /USING (COVERING )?INDEX steps_ready/,
    );
    expect(plan("SELECT queue FROM steps WHERE status = 'ready' AND queue > 'a' ORDER BY queue LIMIT 1")).toMatch(/USING (COVERING )?INDEX steps_ready/);
    expect(plan("SELECT 1 FROM steps WHERE run_id = 'r' AND finished_at IS NULL LIMIT 1")).toMatch(/INDEX steps_active/);
    expect(plan("SELECT run_id, id, reclaims FROM steps WHERE status = 'running' AND lease_expires_at <= 5")).toMatch(/INDEX steps_running/);
    expect(plan("SELECT count(*) AS n FROM steps WHERE status = 'running' AND queue = 'q'")).toMatch(/INDEX steps_running/);
    expect(plan("SELECT step_id, required FROM step_deps WHERE run_id = 'r' AND dep_id = 'd'")).toMatch(/PRIMARY KEY/);
    db.close();
  });
});
