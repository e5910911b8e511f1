/**
 * No write of the SQLite store opens a statement journal (see "no statement
 * journals" in src/store/sqlite/statements.ts), save the few named below.
 *
 * SQLite gives a statement one when it may write several rows and may abort
 * half-way; the event triggers make every write of runs and steps a multi-row
 * write, so what decides is whether the compiled program, with every trigger
 * compiled into it, holds an operation that may abort: a call of an SQL function
 * or a halt under ABORT. EXPLAIN lists the triggers' programs after the
 * statement's own, so each write's whole program is checked here.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newRuntime, sqliteStore } from "../src/index.js";
import { prepareScheduleStatements } from "../src/store/sqlite/schedules.js";
import { prepareStatements } from "../src/store/sqlite/statements.js";

/** SQLite's OE_Abort: the conflict resolution that undoes the statement alone. */
const OE_ABORT = 2;

/**
 * Writes that may abort, and why that is accepted. The first four get a journal:
 * each fires a trigger or runs a function whose JSON must quote text a user wrote
 * (a signal's name, an operator's note); none is on the path of a step's claim,
 * success or failure.
 */
const MAY_ABORT = new Map([
  ["park", "parks a step: steps_waiting quotes its waitingFor"],
  ["reviveStep", "sets wake_at, so steps_waiting is compiled in"],
  ["insertSignal", "signals_received quotes the signal's name"],
  ["noteEvent", "merges an operator's note with json_patch"],
]);

/**
 * One-row writes of tables without triggers: they check NOT NULL under ABORT
 * (an upsert's DO UPDATE does whatever the statement says), but SQLite opens a
 * statement journal only for a write that may change several rows, so none
 * gets one. A trigger added to their table would change that: checked below.
 */
const ONE_ROW = new Set(["putBucket", "schedules.put", "schedules.setPaused", "schedules.advance", "schedules.logScheduled"]);

/** Whether a statement's program runs a trigger (`Program`: a trigger's sub-program). */
function runsTriggers(db: Database.Database, source: string): boolean {
  const params = (source.match(/\?/g) ?? []).length;
  return (db.prepare(`EXPLAIN ${source}`).all(...Array.from({ length: params }, () => null)) as Op[]).some((op) => op.opcode === "Program");
}

interface Op {
  opcode: string;
  p1: number;
  p2: number;
  p4: unknown;
}

/** The operations of a statement's program (its triggers' included) that may abort it half-way. */
function abortingOps(db: Database.Database, source: string): string[] {
  const explain = db.prepare(`EXPLAIN ${source}`);
  const params = (source.match(/\?/g) ?? []).length;
  const ops = explain.all(...Array.from({ length: params }, () => null)) as Op[];
  return ops
    .filter((op) => op.opcode === "Function" || op.opcode === "PureFunc" || ((op.opcode === "Halt" || op.opcode === "HaltIfNull") && op.p1 !== 0 && op.p2 === OE_ABORT))
    .map((op) => `${op.opcode} ${String(op.p4)}`);
}

let dir: string;
let db: Database.Database;
let writes: [string, string][];

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "trellis-journal-"));
  const file = path.join(dir, "journal.db");
  await (await newRuntime({ store: sqliteStore(file) })).close(); // every migration applied
  db = new Database(file);
  const schedules = Object.entries(prepareScheduleStatements(db)).map(([name, s]) => [`schedules.${name}`, s] as const);
  writes = [...Object.entries(prepareStatements(db)), ...schedules]
    .flatMap(([name, s]) => (Array.isArray(s) ? s.map((one, i) => [`${name}[${i}]`, one] as const) : [[name, s] as const]))
    // By their text: a write with RETURNING (a run's finish) is a reader to better-sqlite3.
    .filter(([, s]) => /^\s*(INSERT|UPDATE|DELETE)\b/.test(s.source))
    .map(([name, s]) => [name, s.source]);
});
afterAll(() => {
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("the SQLite store's writes", () => {
  it("compile without an operation that may abort half-way, so none opens a statement journal", () => {
    expect(writes.map(([name]) => name)).toEqual(
      expect.arrayContaining(["insertRun", "insertStep", "leaseSteps", "markSucceeded", "finishRun", "schedules.advance", "schedules.logScheduled"]),
    );
    const offending: Record<string, string[]> = {};
    for (const [name, source] of writes) {
      const ops = MAY_ABORT.has(name) || ONE_ROW.has(name) ? [] : abortingOps(db, source);
      if (ops.length > 0) offending[name] = ops;
    }
    expect(offending).toEqual({});
  });

  it("name each exception because it still may abort (a stale entry would hide a new cause)", () => {
    for (const name of MAY_ABORT.keys()) {
      const write = writes.find(([n]) => n === name);
      expect(write, name).toBeDefined();
      expect(abortingOps(db, (write as [string, string])[1]), name).not.toEqual([]);
    }
  });

  it("count as one-row writes only where no trigger fires and one row is written", () => {
    for (const name of ONE_ROW) {
      const write = writes.find(([n]) => n === name);
      expect(write, name).toBeDefined();
      const source = (write as [string, string])[1];
      expect(runsTriggers(db, source), name).toBe(false);
      expect(source, name).not.toMatch(/\bSELECT\b/i); // not INSERT ... SELECT
    }
    // The check sees a trigger: a step's claim fires step_claimed.
    expect(runsTriggers(db, (writes.find(([n]) => n === "leaseSteps") as [string, string])[1])).toBe(true);
  });

  it("sees a journal's cause: the claim's UPDATE without OR FAIL checks NOT NULL under ABORT", () => {
    const lease = writes.find(([n]) => n === "leaseSteps") as [string, string];
    expect(abortingOps(db, lease[1].replace("UPDATE OR FAIL", "UPDATE"))).toContain("HaltIfNull steps.status");
  });
});
