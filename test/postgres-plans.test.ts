/**
 * The PostgreSQL store's batch statements must reach their rows through index
 * probes whatever the planner's statistics say: a freshly loaded table has none,
 * and a plan that scans the whole table makes every claim and completion cost as
 * much as the history. This loads history without ANALYZE (the worst case) and
 * checks each statement's plan for a scan of a whole table.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newPackage, newRuntime, postgresStore, requireSteps } from "../src/index.js";
import { statements } from "../src/store/postgres/statements.js";
import { pgUrl, usePostgresSchemas } from "./support/postgres.js";

const schemas = usePostgresSchemas("plans");
let admin: pg.Client;
let schema: string;
let sql: ReturnType<typeof statements>;
let sample: { run_id: string; id: string; lease_token: string | null }[];

beforeAll(async () => {
  schema = schemas.schema();
  const rt = await newRuntime({ store: postgresStore({ connectionString: pgUrl(), schema }) });
  rt.registerPackage(
    newPackage("d")
      .entrypoint((run, input) => {
        const a = run.step("A", input, { kind: "a" });
        const b = run.step("B", input, { kind: "b", dependsOn: requireSteps(a) });
        run.step("C", input, { kind: "c", dependsOn: requireSteps(b) });
      })
      .build(),
  );
  // 20 000 runs (60 000 steps); two thirds of them made history, the rest a backlog.
  for (let i = 0; i < 4; i++) await rt.startRuns("d", Array.from({ length: 5000 }, (_, j) => ({ input: i * 5000 + j })));
  await rt.close();
  admin = new pg.Client({ connectionString: pgUrl() });
  await admin.connect();
  const q = `"${schema}"`;
  await admin.query(`UPDATE ${q}.steps SET status = 'succeeded', finished_at = 1, completed_at = 1, result = '{"json":1}'
                     WHERE run_id IN (SELECT id FROM ${q}.runs ORDER BY seq LIMIT 13000)`);
  await admin.query(`UPDATE ${q}.runs SET status = 'succeeded' WHERE id IN (SELECT id FROM ${q}.runs ORDER BY seq LIMIT 13000)`);
  await admin.query(`UPDATE ${q}.steps SET status = 'running', lease_token = 't' || seq, lease_expires_at = 9e12
                     WHERE id = 'A' AND status = 'ready' AND seq % 50 = 0`);
  sql = statements(q);
  sample = (await admin.query(`SELECT run_id, id, lease_token FROM ${q}.steps WHERE status = 'running' LIMIT 100`)).rows;
}, 120_000);
afterAll(() => admin?.end());

async function plan(text: string, values: unknown[]): Promise<string> {
  await admin.query("BEGIN");
  try {
    const { rows } = await admin.query(`EXPLAIN (ANALYZE, COSTS OFF) ${text}`, values);
    return rows.map((r) => r["QUERY PLAN"] as string).join("\n");
  } finally {
    await admin.query("ROLLBACK");
  }
}

// Running steps are bounded by the leases workers hold, not by history: scanning them is fine.
const wholeTable = /Seq Scan on (steps|runs|step_deps)\b|Bitmap Index Scan on (steps_active|runs_by_status)\b/;

describe("PostgreSQL statement plans with history and no statistics", () => {
  const now = 2_000_000_000_000;
  const runIds = () => sample.map((s) => s.run_id);
  const ids = () => sample.map((s) => s.id);
  const tokens = () => sample.map((s) => s.lease_token);
  const cases: [string, () => [string, unknown[]]][] = [
    ["readyQueues", () => [sql.readyQueues, [now]]],
    ["claim", () => [sql.claim, ["w", now, now + 30_000, "default", 128]]],
    ["claimDefault", () => [sql.claimDefault, ["w", now, now + 30_000, "default", 128]]],
    ["markSucceeded", () => [sql.markSucceeded, [runIds(), ids(), tokens(), sample.map(() => "{}"), sample.map(() => null), sample.map(() => now)]]],
    ["markFailed", () => [sql.markFailed, [runIds(), ids(), tokens(), sample.map(() => "{}"), sample.map(() => "x"), sample.map(() => now)]]],
    ["scheduleRetries", () => [sql.scheduleRetries, [runIds(), ids(), tokens(), sample.map(() => now), sample.map(() => "{}"), sample.map(() => "x"), sample.map(() => now)]]],
    ["succeedPlain", () => [sql.succeedPlain, [runIds(), ids(), tokens(), sample.map(() => "{}"), sample.map(() => null), sample.map(() => now), now]]],
    ["satisfyDependents", () => [sql.satisfyDependents, [runIds(), ids(), now]]],
    ["dependentsOf", () => [sql.dependentsOf, [runIds(), ids()]]],
    ["skipSteps", () => [sql.skipSteps, [runIds(), sample.map(() => "B"), now]]],
    ["decrementWaiting", () => [sql.decrementWaiting, [runIds(), sample.map(() => "B"), sample.map(() => 1), now]]],
    ["finishableRuns", () => [sql.finishableRuns, [runIds()]]],
    ["finishRuns", () => [sql.finishRuns, [runIds(), sample.map(() => "succeeded"), now]]],
    ["heartbeat", () => [sql.heartbeat, [runIds(), ids(), tokens(), now, now]]],
    ["releaseLeases", () => [sql.releaseLeases, [runIds(), ids(), tokens(), now]]],
    ["anyExpired", () => [sql.anyExpired, [now]]],
    ["reclaim", () => [sql.reclaim, [now, 5]]],
    ["expireSteps", () => [sql.expireSteps, [runIds(), ids(), now, 0, "lease_expired"]]],
    ["anyReadyIn", () => [sql.anyReadyIn, [["default"], now]]],
  ];
  it.each(cases)("%s probes indexes instead of scanning a table", async (_name, make) => {
    const [text, values] = make();
    const shown = await plan(text, values);
    if (process.env.SHOW_PLANS) console.log(`--- ${_name}\n${shown}`);
    expect(shown).not.toMatch(wholeTable);
  });
});
