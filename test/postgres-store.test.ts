import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newExecutor, newPackage, newRuntime, postgresStore } from "../src/index.js";
import { MIGRATIONS } from "../src/store/postgres/migrations.js";
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
      await plan(`SELECT seq FROM "${schema}".steps WHERE status = 'ready' AND queue = 'default' AND ready_at <= 5 ORDER BY ready_at, seq LIMIT 64`),
    ).toMatch(/Index (Only )?Scan using steps_ready/);
    expect(await plan(`SELECT 1 FROM "${schema}".steps WHERE run_id = 'r7' AND finished_at IS NULL LIMIT 1`)).toMatch(/steps_active/);
    expect(await plan(`SELECT 1 FROM "${schema}".steps WHERE status = 'running' AND lease_expires_at <= 5 LIMIT 1`)).toMatch(/steps_running/);
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
