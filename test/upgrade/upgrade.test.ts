/**
 * Stores written by earlier releases open in this one and finish their work.
 * Every fixture in ./fixtures (made by make-fixtures.mjs from the release of its
 * schema version) holds the runs of workload.mjs in every state: ready, halfway
 * through a graph, leased by a worker that died, with a retry scheduled,
 * waiting for a signal, sleeping, waiting for a child run, paused, and
 * finished three ways, with an artifact (and, from releases that have them, a
 * paused schedule). Opening it
 * applies this release's migrations in place; then its runs finish, each step
 * that had not succeeded runs once and none that had runs again, and each
 * run's history reads from its start to its end.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import * as lib from "../../src/index.js";
import { newRuntime, type Runtime, sqliteStore, type StoreConfig } from "../../src/index.js";
import { MIGRATIONS as POSTGRES_MIGRATIONS } from "../../src/store/postgres/migrations.js";
import { MIGRATIONS as SQLITE_MIGRATIONS } from "../../src/store/sqlite/migrations.js";
import { pgUrl, usePostgresSchemas } from "../support/postgres.js";
import { FIXTURE_RUNS, FIXTURE_SCHEDULE, FIXTURE_SCHEMA, finishFixture } from "./workload.mjs";

const FIXTURES = path.join(import.meta.dirname, "fixtures");
const LATEST = { sqlite: SQLITE_MIGRATIONS.length, postgres: POSTGRES_MIGRATIONS.length };
/** The schema versions that brought schedules: fixtures from before have none. */
const SCHEDULES_SINCE = { sqlite: 6, postgres: 5 };

const fixtures = fs
  .readdirSync(FIXTURES)
  .map((file) => /^(sqlite|postgres)-v(\d+)\.(db|sql)$/.exec(file))
  .filter((m): m is RegExpExecArray => m !== null)
  .map((m) => ({ file: m[0], backend: m[1] as "sqlite" | "postgres", version: Number(m[2]) }));

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "trellis-upgrade-"));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));
const schemas = usePostgresSchemas("upgrade");

/** A fresh store holding the fixture's rows as the old release left them; and the schema version it is at. */
async function restore(fixture: (typeof fixtures)[number]): Promise<{ store: StoreConfig; versionOf: () => Promise<number> }> {
  if (fixture.backend === "sqlite") {
    const file = path.join(scratch, `${fixture.file}-${Date.now()}.db`);
    fs.copyFileSync(path.join(FIXTURES, fixture.file), file);
    const versionOf = async () => {
      const db = new Database(file, { readonly: true });
      try {
        return (db.prepare("SELECT max(version) AS v FROM schema_migrations").get() as { v: number }).v;
      } finally {
        db.close();
      }
    };
    return { store: sqliteStore(file), versionOf };
  }
  const schema = schemas.schema();
  const dump = fs.readFileSync(path.join(FIXTURES, fixture.file), "utf8").replaceAll(FIXTURE_SCHEMA, schema);
  const client = new pg.Client({ connectionString: pgUrl() });
  await client.connect();
  try {
    await client.query(dump);
  } finally {
    await client.end();
  }
  const versionOf = async () => {
    const c = new pg.Client({ connectionString: pgUrl() });
    await c.connect();
    try {
      return (await c.query<{ v: number }>(`SELECT max(version) AS v FROM "${schema}".schema_migrations`)).rows[0]?.v ?? 0;
    } finally {
      await c.end();
    }
  };
  return { store: schemas.store(schema), versionOf };
}

describe("upgrade fixtures", () => {
  it.each(["sqlite", "postgres"] as const)("%s: the newest fixture is at most one schema version behind (make-fixtures.mjs before a migration)", (backend) => {
    const newest = Math.max(...fixtures.filter((f) => f.backend === backend).map((f) => f.version));
    expect(newest).toBeGreaterThanOrEqual(LATEST[backend] - 1);
    expect(newest).toBeLessThanOrEqual(LATEST[backend]);
  });
});

describe.each(fixtures)("a store written at schema version $version ($file)", (fixture) => {
  it("opens, migrates in place, and finishes every run it holds", async () => {
    const { store, versionOf } = await restore(fixture);
    expect(await versionOf()).toBe(fixture.version);
    let rt: Runtime | undefined;
    const ac = new AbortController();
    let workers: Promise<void> | undefined;
    try {
      rt = await newRuntime({ store, pollInterval: 100 });
      expect(await versionOf()).toBe(LATEST[fixture.backend]);
      const calls = await finishFixture(rt, lib);
      workers = rt.startWorkers({ signal: ac.signal });
      for (const [runId, { endsAs }] of Object.entries(FIXTURE_RUNS)) {
        expect({ runId, status: (await rt.waitForRun(runId, { timeout: 45_000 })).status }).toEqual({ runId, status: endsAs });
      }
      await checkFinished(rt, calls);
      const schedule = (await rt.listSchedules()).find((s) => s.id === FIXTURE_SCHEDULE.id);
      if (fixture.version >= SCHEDULES_SINCE[fixture.backend]) {
        expect(schedule).toMatchObject({ cron: FIXTURE_SCHEDULE.cron, package: FIXTURE_SCHEDULE.package, paused: true });
      } else expect(schedule).toBeUndefined();
    } finally {
      ac.abort();
      await workers;
      await rt?.close();
    }
  });
});

async function checkFinished(rt: Runtime, calls: Map<string, number>): Promise<void> {
  const step = async (runId: string, stepId: string) => (await rt.steps(runId)).find((s) => s.id === stepId);
  // What had succeeded before the upgrade did not run again; everything else ran once.
  expect(Object.fromEntries(calls)).toEqual({
    "up/now": 1, // up-paused's A (up-mid's A had succeeded)
    // up-ready, up-mid B and C, up-signal, up-sleep, up-paused B and C, the child run's step, up-parent's after
    "up/later": 9,
    "up/hang": 1, // up-running's step, reclaimed from the dead worker
    "up/flaky": 1, // its second attempt
  });
  // A reclaim gives the attempt back: the step ran once more as attempt 1, reclaimed once.
  expect(await step("up-running", "hang")).toMatchObject({ status: "succeeded", attempt: 1, reclaims: 1 });
  expect(await step("up-retry", "flaky")).toMatchObject({ status: "succeeded", attempt: 2 });
  expect((await rt.result("up-signal", "go"))?.data).toEqual({ approved: true });
  expect((await rt.result("up-mid", "A"))?.data).toEqual({ a: "mid" });
  expect((await step("up-canceled", "only"))?.status).toBe("canceled");
  expect((await step("up-failed", "boom"))?.error?.code).toBe("broken");

  // The artifact written before the upgrade reads back.
  const ref = (await rt.result("up-done", "write"))?.artifacts[0];
  expect(ref?.name).toBe("report.txt");
  const artifact = await rt.readArtifact("up-done", ref?.id ?? "");
  expect(Buffer.from(artifact?.body ?? []).toString()).toBe("written before the upgrade");

  // Each run's history: from its start to its end, in order, events from before the upgrade kept.
  for (const [runId, { endsAs }] of Object.entries(FIXTURE_RUNS)) {
    const events = await rt.events(runId);
    expect(events[0]?.type, runId).toBe("run_started");
    expect(events.at(-1)?.type, runId).toBe(`run_${endsAs}`);
    for (let i = 1; i < events.length; i++) expect((events[i]?.seq ?? 0) > (events[i - 1]?.seq ?? 0), runId).toBe(true);
  }
  // What happened to a run's one executor step after it became ready.
  const stepEvents = async (runId: string) =>
    (await rt.events(runId)).map((e) => e.type).filter((t) => t.startsWith("step_") && t !== "step_ready");
  expect(await stepEvents("up-running")).toEqual(["step_claimed", "step_reclaimed", "step_claimed", "step_succeeded"]);
  expect(await stepEvents("up-retry")).toEqual(["step_claimed", "step_retry_scheduled", "step_claimed", "step_succeeded"]);
}
