import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newExecutor, newPackage, newRuntime } from "../src/index.js";
import { postgresStore } from "../src/postgres.js";
import { MIGRATIONS } from "../src/store/postgres/migrations.js";
import type { EventRecord, NewRun } from "../src/store/store.js";
import { pgUrl, usePostgresSchemas } from "./support/postgres.js";
import { openConcurrently } from "./support/open-concurrently.js";

const schemas = usePostgresSchemas("pgstore");
let admin: pg.Pool;
beforeAll(() => {
  admin = new pg.Pool({ connectionString: pgUrl(), max: 2 });
});
afterAll(() => admin.end());

const oneStep = newPackage("p").entrypoint((run, n) => void run.step("s", n, { kind: "k" })).build();

describe("the PostgreSQL store", () => {
  it("creates its schema and migrates exactly once when several processes open it at the same moment", async () => {
    const schema = schemas.schema();
    const arg = JSON.stringify({ postgres: pgUrl(), schema });
    expect((await openConcurrently(arg)).filter((r) => !r.ok)).toEqual([]);
    const { rows } = await admin.query(`SELECT version, name FROM "${schema}".schema_migrations ORDER BY version`);
    expect(rows).toEqual(MIGRATIONS.map((m) => ({ version: m.version, name: m.name })));
  });

  it("refuses a schema migrated by a newer version with schema_too_new", async () => {
    const schema = schemas.schema();
    await (await newRuntime({ store: postgresStore({ connectionString: pgUrl(), schema }) })).close();
    await admin.query(`INSERT INTO "${schema}".schema_migrations (version, name, applied_at) VALUES (999, '999_future', 0)`);
    await expect(newRuntime({ store: postgresStore({ connectionString: pgUrl(), schema }) })).rejects.toMatchObject({
      code: "schema_too_new",
      message: expect.stringContaining("newer"),
    });
  });

  it("keeps every object in its schema: two schemas in one database do not see each other", async () => {
    const [a, b] = [schemas.schema(), schemas.schema()];
    const rtA = await newRuntime({ store: postgresStore({ connectionString: pgUrl(), schema: a }) });
    const rtB = await newRuntime({ store: postgresStore({ connectionString: pgUrl(), schema: b }) });
    rtA.registerPackage(oneStep);
    await rtA.startRun("p", 1, { runId: "only-in-a" });
    expect(await rtB.workflow("only-in-a")).toBeUndefined();
    expect((await rtA.workflow("only-in-a"))?.status).toBe("running");
    const { rows } = await admin.query("SELECT DISTINCT table_schema FROM information_schema.tables WHERE table_schema IN ($1, $2) ORDER BY 1", [a, b]);
    expect(rows.map((r) => r.table_schema)).toEqual([a, b].sort());
    await rtA.close();
    await rtB.close();
  });

  it("works on an application's pool and leaves it open at close", async () => {
    const pool = new pg.Pool({ connectionString: pgUrl(), max: 3 });
    const rt = await newRuntime({ store: postgresStore({ pool, schema: schemas.schema() }) });
    rt.registerExecutor(newExecutor("k", async (step) => step.result((step.input() as number) * 2)));
    rt.registerPackage(oneStep);
    const run = await rt.startRun("p", 21);
    await rt.runOnce();
    expect((await rt.result(run.id, "s"))?.data).toBe(42);
    await rt.close();
    expect((await pool.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
    await pool.end();
  });

  it("rejects bad options with invalid_config naming the field", () => {
    const bad: unknown[] = [
      {},
      { connectionString: pgUrl(), pool: new pg.Pool() },
      { connectionString: pgUrl(), schema: "no-dashes" },
      { connectionString: pgUrl(), schema: "x".repeat(49) },
      { connectionString: pgUrl(), poolSize: 1 },
      { connectionString: pgUrl(), extra: true },
    ];
    for (const options of bad) {
      expect(() => postgresStore(options as never), JSON.stringify(options)).toThrow(expect.objectContaining({ code: "invalid_config" }));
    }
  });

  it("reports an unreachable server as store_error", async () => {
    await expect(newRuntime({ store: postgresStore({ connectionString: "postgres://postgres@127.0.0.1:1/postgres" }) })).rejects.toMatchObject({
      code: "store_error",
    });
  });

  it("claims through the partial ready index, however many finished steps there are", async () => {
    const schema = schemas.schema();
    await (await newRuntime({ store: postgresStore({ connectionString: pgUrl(), schema }) })).close();
    // 50 000 finished steps of history and a handful ready, then fresh statistics.
    await admin.query(
      `INSERT INTO "${schema}".steps (run_id, id, kind, queue, status, input, retry, max_attempts, metadata, created_at, updated_at, finished_at)
       SELECT 'r' || (i / 10), 's' || i, 'k', 'default', CASE WHEN i > 49990 THEN 'ready' ELSE 'succeeded' END, '{}', '{}', 1, '{}', i, i,
              CASE WHEN i > 49990 THEN NULL ELSE i END
       FROM generate_series(1, 50000) AS i`,
    );
    await admin.query(`UPDATE "${schema}".steps SET ready_at = 0 WHERE status = 'ready'`);
    await admin.query(`ANALYZE "${schema}".steps`);
    const plan = async (sql: string) =>
      (await admin.query(`EXPLAIN ${sql}`)).rows.map((r) => r["QUERY PLAN"] as string).join("\n");
    expect(
      await plan(`SELECT seq FROM "${schema}".steps WHERE status = 'ready' AND queue = 'default' AND ready_at <= 5 ORDER BY priority DESC, ready_at, seq LIMIT 64`),
    ).toMatch(/Index (Only )?Scan using steps_ready/);
    expect(await plan(`SELECT 1 FROM "${schema}".steps WHERE run_id = 'r7' AND finished_at IS NULL LIMIT 1`)).toMatch(/steps_active/);
    expect(await plan(`SELECT 1 FROM "${schema}".steps WHERE status = 'running' AND lease_expires_at <= 5 LIMIT 1`)).toMatch(/steps_running/);
  });
});

/** A run of one ready step, as the engine would hand it to the store. */
function oneStepRun(id: string, now: number): NewRun {
  return {
    run: { id, package: "p", name: "p", status: "running", input: "null", metadata: {}, createdAt: now, updatedAt: now },
    steps: [{
      id: "s", kind: "k", queue: "default", input: "null", dependsOn: [], metadata: {}, priority: 0,
      retry: { maxAttempts: 1, backoff: "fixed", initialBackoff: 0, multiplier: 1, jitter: false },
    }],
  };
}

describe("the PostgreSQL store, version 2", () => {
  it("upgrades a version-1 schema in place: optional edges wait for any finish (on_state 'completed')", async () => {
    const schema = schemas.schema();
    const q = `"${schema}"`;
    await admin.query(`CREATE SCHEMA ${q}`);
    await admin.query((MIGRATIONS[0] as { sql: string }).sql.replaceAll("{schema}", q));
    await admin.query(`CREATE TABLE ${q}.schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at bigint NOT NULL)`);
    await admin.query(`INSERT INTO ${q}.schema_migrations VALUES (1, '001_core', 0)`);
    await admin.query(`INSERT INTO ${q}.step_deps (run_id, dep_id, step_id, required) VALUES ('r', 'a', 'b', true), ('r', 'a', 'c', false)`);
    const store = await postgresStore({ connectionString: pgUrl(), schema }).open();
    try {
      const { rows } = await admin.query(`SELECT step_id, required, on_state FROM ${q}.step_deps ORDER BY step_id`);
      expect(rows).toEqual([
        { step_id: "b", required: true, on_state: "succeeded" },
        { step_id: "c", required: false, on_state: "completed" },
      ]);
      const { rows: versions } = await admin.query(`SELECT version FROM ${q}.schema_migrations ORDER BY version`);
      expect(versions.map((v) => v.version)).toEqual(MIGRATIONS.map((m) => m.version));
    } finally {
      await store.close();
    }
  });

  it("delivers to an observer the events its own store object wrote, after commit, and only while observed", async () => {
    const schema = schemas.schema();
    const a = await schemas.store(schema).open();
    const b = await schemas.store(schema).open();
    try {
      const seen: EventRecord[][] = [];
      const stop = a.observeEvents?.((events) => seen.push(events));
      await b.createRuns([oneStepRun("from-b", 1_000)]);
      await a.createRuns([oneStepRun("from-a", 1_000)]);
      await a.pauseRun("from-a", 2_000);
      await b.pauseRun("from-b", 2_000);
      const claimed = await a.claim({ workerId: "w", limit: 10, now: 3_000, leaseDuration: 1_000, policyFor: () => ({ maxWorkers: Infinity }) });
      expect(claimed.steps).toEqual([]); // both runs are paused
      await a.resumeRun("from-a", 4_000);
      const flat = seen.flat();
      expect(flat.map((e) => [e.runId, e.type])).toEqual([
        ["from-a", "run_started"],
        ["from-a", "step_ready"],
        ["from-a", "run_paused"],
        ["from-a", "run_resumed"],
      ]);
      expect(flat).toEqual((await a.getEvents("from-a")));
      stop?.();
      // Not observed any more: nothing captured, and the pooled connections still write fine.
      await a.createRuns([oneStepRun("later", 5_000)]);
      await a.cancelRun("later", 6_000);
      expect(seen.flat().length).toBe(flat.length);
      expect((await a.getEvents("later")).map((e) => e.type)).toEqual(["run_started", "step_ready", "operator_cancel", "step_canceled", "run_canceled"]);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("cancels a run with its unfinished descendants in one transaction, and wakes a canceled child's parent step", async () => {
    const schema = schemas.schema();
    const store = await schemas.store(schema).open();
    try {
      const child = (id: string, parent: string): NewRun => {
        const r = oneStepRun(id, 1_000);
        r.run.parentRunId = parent;
        r.run.parentStepId = "s";
        return r;
      };
      await store.createRuns([oneStepRun("top", 1_000), child("top/s", "top"), child("top/s/s", "top/s")]);
      // The top run's step waits for its child (a parked wait).
      const { steps } = await store.claim({ workerId: "w", limit: 10, now: 2_000, leaseDuration: 60_000, policyFor: () => ({ maxWorkers: Infinity }) });
      const top = steps.find((c) => c.step.runId === "top");
      expect(top).toBeDefined();
      const lease = { runId: "top", stepId: "s", token: top?.step.lease.token as string, now: 2_000 };
      expect(await store.complete([{ ...lease, status: "wait", childRunId: "top/s" }])).toEqual([{ status: "applied" }]);
      expect((await store.getSteps("top"))[0]?.status).toBe("waiting");
      // Canceling the child (and its own child) wakes the top run's step.
      expect(await store.cancelRun("top/s", 3_000)).toEqual(["top/s", "top/s/s"]);
      expect((await store.getRun("top/s/s"))?.status).toBe("canceled");
      const [woken] = await store.getSteps("top");
      expect([woken?.status, woken?.readyAt, woken?.attempt]).toEqual(["ready", 3_000, 0]);
      expect(await store.cancelRun("top", 4_000)).toEqual(["top"]);
    } finally {
      await store.close();
    }
  });
});

describe("array parameters", () => {
  it("round-trip through PostgreSQL exactly, whatever the characters", async () => {
    const { arrayLiteral } = await import("../src/store/postgres/arrays.js");
    const texts = ["plain", "", "NULL", "null", 'quote " inside', "back\\slash", "{braces},comma", " spaces ", "ünïcødé ✓", "line\nbreak", null];
    const { rows } = await admin.query("SELECT $1::text[] AS t, $2::bigint[] AS n, $3::boolean[] AS b, $4::bytea[] AS y", [
      arrayLiteral(texts),
      arrayLiteral([0, -1, 1_795_328_771_433, null]),
      arrayLiteral([true, false, null]),
      arrayLiteral([new Uint8Array([0, 1, 254, 255]), new Uint8Array([])]),
    ]);
    expect(rows[0].t).toEqual(texts);
    expect(rows[0].n).toEqual(["0", "-1", "1795328771433", null]);
    expect(rows[0].b).toEqual([true, false, null]);
    expect(rows[0].y.map((b: Buffer) => [...b])).toEqual([[0, 1, 254, 255], []]);
  });
});
