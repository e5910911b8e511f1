/**
 * The SQLite store's statements must reach the rows of history through index
 * probes, with or without the planner's statistics: a store is usually never
 * analyzed, but `ANALYZE` or `PRAGMA optimize` (which SQLite's documentation
 * recommends to applications) gives the planner row counts and, with STAT4,
 * samples that it weighs against the bound values. Either way a plan that scans
 * a whole table makes every claim and completion cost as much as the history.
 *
 * This builds a store whose history dwarfs its live work, checks every
 * statement's plan, analyzes the store, and checks them again. A scan is only
 * allowed over the partial indexes of live work (ready, running and waiting
 * steps), which hold no history.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newRuntime, sqliteStore } from "../src/index.js";
import { prepareStatements } from "../src/store/sqlite/statements.js";
import { startPlanRuns } from "./support/plan-fixture.js";

/** A SCAN of a table is allowed through these: they hold only live work. */
const LIVE_WORK_SCAN = /^SCAN \w+ USING (COVERING )?INDEX (steps_ready|steps_running|steps_waiting)\b/;
/** A SCAN of something that is not a table of the store. */
const NOT_A_TABLE = /^SCAN (CONSTANT ROW|json_each\b)/;

let dir: string;
let db: Database.Database;
let statements: [string, string][];
let sample: { runId: string; stepId: string; token: string };

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "trellis-plans-"));
  const file = path.join(dir, "plans.db");
  const rt = await newRuntime({ store: sqliteStore(file) });
  // 10 000 runs (30 000 steps, 40 000 events); most become history below, the rest a backlog.
  await startPlanRuns(rt, 10, 1000);
  await rt.close();

  db = new Database(file);
  // History in every state the indexes distinguish, written directly: the plans
  // depend on the rows' shape and number, not on how they got there.
  db.exec(`
    UPDATE steps SET status = 'succeeded', finished_at = 1, completed_at = 1, result = '{"json":1}'
      WHERE run_id IN (SELECT id FROM runs ORDER BY seq LIMIT 9000);
    UPDATE runs SET status = 'succeeded', updated_at = 1 WHERE id IN (SELECT id FROM runs ORDER BY seq LIMIT 9000);
    UPDATE steps SET status = 'failed', error_code = 'x', error = '{}' WHERE id = 'A' AND status = 'succeeded' AND seq % 7 = 0;
    UPDATE runs SET parent_run_id = 'p' || (seq % 100), parent_step_id = 's' WHERE seq % 3 = 0;
    UPDATE steps SET status = 'waiting', wake_at = 9e12, wait_for = 'signal:go' WHERE id = 'A' AND status = 'ready' AND seq % 50 = 1;
    UPDATE steps SET status = 'running', lease_token = 't' || seq, lease_worker = 'w', lease_expires_at = 9e12
      WHERE id = 'A' AND status = 'ready' AND seq % 50 = 0;
  `);
  statements = Object.entries(prepareStatements(db)).flatMap(([name, s]) =>
    Array.isArray(s) ? s.map((one, i) => [`${name}[${i}]`, one.source] as [string, string]) : [[name, s.source] as [string, string]],
  );
  const running = db.prepare("SELECT run_id, id, lease_token FROM steps WHERE status = 'running' LIMIT 1").get() as {
    run_id: string;
    id: string;
    lease_token: string;
  };
  sample = { runId: running.run_id, stepId: running.id, token: running.lease_token };
}, 120_000);

afterAll(() => {
  db?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The plan's lines, with `values` bound (SQLite may re-plan for the values when it has STAT4 samples). */
function plan(source: string, values?: unknown[]): string[] {
  const count = (source.match(/\?/g) ?? []).length;
  const bound = values ?? Array.from({ length: count }, () => null);
  return (db.prepare(`EXPLAIN QUERY PLAN ${source}`).all(...bound) as { detail: string }[]).map((row) => row.detail);
}

/** The lines of a plan that scan a table of the store outside the live-work indexes. */
function fullScans(lines: string[]): string[] {
  return lines.filter((line) => line.startsWith("SCAN ") && !LIVE_WORK_SCAN.test(line) && !NOT_A_TABLE.test(line));
}

/** Every statement whose plan scans history, with the offending lines. */
function statementsThatScan(): Record<string, string[]> {
  const offending: Record<string, string[]> = {};
  for (const [name, source] of statements) {
    const scans = fullScans(plan(source));
    if (scans.length) offending[name] = scans;
  }
  return offending;
}

/** The hot path's statements that scan history, with the values a drain binds (STAT4 plans for them). */
function hotPathScans(): Record<string, string[]> {
  const now = Date.now();
  const { runId, stepId, token } = sample;
  const find = (name: string) => statements.find(([n]) => n === name)?.[1] as string;
  const cases: [string, unknown[]][] = [
    ["readyInQueue", ["default", now, 16]],
    ["readyInQueueOfKinds", ["default", now, '["a","b"]', 16]],
    ["leaseSteps", ["w", "t-", now, now + 30_000, now, now, "[1,2,3]"]],
    ["claimedSteps", ["[1,2,3]"]],
    ["markSucceeded", ['{"json":1}', null, now, now, now, runId, stepId, token]],
    ["finishRun", [now, runId]],
    ["eventsOfRun", [runId]],
    ["eventsAfter", [1000]],
    ["expired", [now]],
  ];
  const offending: Record<string, string[]> = {};
  for (const [name, values] of cases) {
    const scans = fullScans(plan(find(name), values));
    if (scans.length) offending[name] = scans;
  }
  return offending;
}

describe("the SQLite store's statements", () => {
  it("reach history only through index probes, without statistics", () => {
    expect(statements.length).toBeGreaterThan(50);
    expect(statementsThatScan()).toEqual({});
    expect(hotPathScans()).toEqual({});
  });

  it("still do after ANALYZE, with the hot path's own values bound", () => {
    db.exec("ANALYZE");
    expect((db.prepare("SELECT count(*) AS n FROM sqlite_stat1 WHERE tbl = 'steps'").get() as { n: number }).n).toBeGreaterThan(0);
    expect(statementsThatScan()).toEqual({});
    expect(hotPathScans()).toEqual({});
  });

  it("the check itself catches a statement that scans history", () => {
    expect(fullScans(plan("SELECT id FROM steps WHERE kind = ?"))).toEqual(["SCAN steps"]);
    expect(fullScans(plan("SELECT seq FROM steps WHERE status = 'ready' AND queue = ? ORDER BY queue"))).toEqual([]);
  });
});
