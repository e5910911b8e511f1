/**
 * The PostgreSQL store's batch statements must reach their rows through index
 * probes whatever the planner's statistics say: a freshly loaded table has none,
 * and a plan that scans the whole table makes every claim and completion cost as
 * much as the history. This loads history without ANALYZE (the worst case) and
 * checks each statement's plan for a scan of a whole table.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newRuntime } from "../src/index.js";
import { postgresStore } from "../src/postgres.js";
import { operatorStatements } from "../src/store/postgres/operator-statements.js";
import { statements } from "../src/store/postgres/statements.js";
import { startPlanRuns } from "./support/plan-fixture.js";
import { pgUrl, usePostgresSchemas } from "./support/postgres.js";

const schemas = usePostgresSchemas("plans");
let admin: pg.Client;
let schema: string;
let sql: ReturnType<typeof statements> & ReturnType<typeof operatorStatements>;
let sample: { run_id: string; id: string; lease_token: string | null }[];

beforeAll(async () => {
  schema = schemas.schema();
  const rt = await newRuntime({ store: postgresStore({ connectionString: pgUrl(), schema }) });
  // 20 000 runs (60 000 steps); two thirds of them made history, the rest a backlog.
  await startPlanRuns(rt, 4, 5000);
  await rt.close();
  admin = new pg.Client({ connectionString: pgUrl() });
  await admin.connect();
  const q = `"${schema}"`;
  await admin.query(`UPDATE ${q}.steps SET status = 'succeeded', finished_at = 1, completed_at = 1, result = '{"json":1}'
                     WHERE run_id IN (SELECT id FROM ${q}.runs ORDER BY seq LIMIT 13000)`);
  await admin.query(`UPDATE ${q}.runs SET status = 'succeeded' WHERE id IN (SELECT id FROM ${q}.runs ORDER BY seq LIMIT 13000)`);
  // Failed history (the steps_failed index), waits (steps_waiting), child runs (runs_children), signals.
  await admin.query(`UPDATE ${q}.steps SET status = 'failed', error_code = 'x', error = '{}'
                     WHERE id = 'A' AND status = 'succeeded' AND seq % 7 = 0`);
  await admin.query(`UPDATE ${q}.runs SET parent_run_id = 'p' || (seq % 100), parent_step_id = 's' WHERE seq % 3 = 0`);
  await admin.query(`UPDATE ${q}.steps SET status = 'waiting', wake_at = 9e12, wait_for = 'signal:go'
                     WHERE id = 'A' AND status = 'ready' AND seq % 50 = 1`);
  await admin.query(`INSERT INTO ${q}.signals (run_id, id, name, payload, created_at)
                     SELECT id, 'sig', 'go', '{}', 1 FROM ${q}.runs WHERE seq % 5 = 0`);
  await admin.query(`UPDATE ${q}.steps SET status = 'running', lease_token = 't' || seq, lease_expires_at = 9e12
                     WHERE id = 'A' AND status = 'ready' AND seq % 50 = 0`);
  sql = { ...statements(q), ...operatorStatements(q) };
  sample = (await admin.query(`SELECT run_id, id, lease_token FROM ${q}.steps WHERE status = 'running' LIMIT 100`)).rows;
}, 120_000);
afterAll(() => admin?.end());

async function plan(text: string, values: unknown[], setup?: string): Promise<string> {
  await admin.query("BEGIN");
  if (setup) await admin.query(setup);
  try {
    const { rows } = await admin.query(`EXPLAIN (ANALYZE, COSTS OFF) ${text}`, values);
    return rows.map((r) => r["QUERY PLAN"] as string).join("\n");
  } finally {
    await admin.query("ROLLBACK");
  }
}

// Running steps are bounded by the leases workers hold, not by history: scanning them is fine.
// Failed steps and finished runs are history too: only the statements reading them by age may scan their indexes.
const wholeTable = /Seq Scan on (steps|runs|step_deps|events|signals)\b|Bitmap Index Scan on (steps_active|runs_by_status|steps_failed|runs_finished)\b/;
const history = /Index (Only )?Scan (Backward )?using (steps_failed|runs_finished)\b/;

describe("PostgreSQL statement plans with history and no statistics", () => {
  const now = 2_000_000_000_000;
  const runIds = () => sample.map((s) => s.run_id);
  const ids = () => sample.map((s) => s.id);
  const tokens = () => sample.map((s) => s.lease_token);
  const cases: [string, () => [string, unknown[]]][] = [
    ["readyQueues", () => [sql.readyQueues, [now]]],
    ["claim", () => [sql.claim, ["w", now, now + 30_000, "default", 128, null]]],
    ["claimDefault", () => [sql.claimDefault, ["w", now, now + 30_000, "default", 128, null]]],
    ["claim of some kinds", () => [sql.claim, ["w", now, now + 30_000, "default", 128, ["a", "c"]]]],
    ["claimDefault of some kinds", () => [sql.claimDefault, ["w", now, now + 30_000, "default", 128, ["a", "c"]]]],
    ["markSucceeded", () => [sql.markSucceeded, [runIds(), ids(), tokens(), sample.map(() => "{}"), sample.map(() => null), sample.map(() => now)]]],
    ["markFailed", () => [sql.markFailed, [runIds(), ids(), tokens(), sample.map(() => "{}"), sample.map(() => "x"), sample.map(() => now)]]],
    ["scheduleRetries", () => [sql.scheduleRetries, [runIds(), ids(), tokens(), sample.map(() => now), sample.map(() => "{}"), sample.map(() => "x"), sample.map(() => now)]]],
    ["succeedPlain", () => [sql.succeedPlain, [runIds(), ids(), tokens(), sample.map(() => "{}"), sample.map(() => null), sample.map(() => now), now]]],
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
    ["lockWaits", () => [sql.lockWaits, [runIds(), ids(), tokens(), sample.map(() => now)]]],
    ["readyWaits", () => [sql.readyWaits, [runIds(), ids(), tokens(), sample.map(() => now)]]],
    ["parkWaits", () => [sql.parkWaits, [runIds(), ids(), tokens(), sample.map(() => now + 1000), sample.map(() => now)]]],
    ["consumeSignal", () => [sql.consumeSignal, [runIds()[0], "go", "A", now]]],
    ["runStatuses", () => [sql.runStatuses, [runIds()]]],
    ["wakeParents", () => [sql.wakeParents, [runIds(), now]]],
    ["anyDue", () => [sql.anyDue, [now]]],
    ["wakeDue", () => [sql.wakeDue, [now]]],
    ["signal", () => [sql.signal, [runIds()[0], "new-signal", "go", "{}", now]]],
    ["signalExists", () => [sql.signalExists, [runIds()[0], "sig"]]],
    ["descendants", () => [sql.descendants, ["p7"]]],
    ["cancelSteps", () => [sql.cancelSteps, [runIds(), now]]],
    ["cancelRuns", () => [sql.cancelRuns, [runIds(), now]]],
    ["pauseRun", () => [sql.pauseRun, [runIds()[0], now]]],
    ["resumeRun", () => [sql.resumeRun, [runIds()[0], now]]],
    ["reopenRun", () => [sql.reopenRun, [runIds()[0], now]]],
    ["reviveSteps", () => [sql.reviveSteps, [runIds()[0], ["A", "B"], ["ready", "pending"], [0, 1], now]]],
    ["eventsOfRun", () => [sql.eventsOfRun, [runIds()[0]]]],
    ["failedCursor", () => [sql.failedCursor, [runIds()[0], "A"]]],
    ["edgesOfSteps", () => [sql.edgesOfSteps, [runIds(), ids()]]],
    ["purge", () => [sql.purge, [runIds(), now, ["succeeded", "failed", "canceled"]]]],
  ];
  it.each(cases)("%s probes indexes instead of scanning a table", async (_name, make) => {
    const [text, values] = make();
    const shown = await plan(text, values);
    if (process.env.SHOW_PLANS) console.log(`--- ${_name}\n${shown}`);
    expect(shown).not.toMatch(wholeTable);
    expect(shown).not.toMatch(history);
  });

  // A bitmap scan never marks the index entries of rows that stopped running as dead, so each
  // claim would read every lease taken since the last vacuum; ordered index scans mark them.
  it.each([
    ["readyQueues", () => [sql.readyQueues, [now]] as [string, unknown[]]],
    ["claimDefault", () => [sql.claimDefault, ["w", now, now + 30_000, "default", 128, null]] as [string, unknown[]]],
  ])("%s finds the earliest lease expiry by ordered scans of steps_running", async (_name, make) => {
    const [text, values] = make();
    const shown = await plan(text, values);
    expect(shown).toMatch(/Index (Only )?Scan using steps_running\b/);
    expect(shown).not.toMatch(/Bitmap Index Scan on steps_running\b/);
  });

  // These read history by age (with sorting off, as the store runs them), through its partial index, and stop at the limit.
  const q = () => `"${schema}"`;
  const byAge: [string, () => [string, unknown[]], RegExp][] = [
    ["purgeable", () => [sql.purgeable, [now, ["succeeded"], 100]], /runs_finished/],
    ["listFailedSteps", () => [`SELECT s.* FROM ${q()}.steps s WHERE s.status = 'failed' AND s.kind = $1 ORDER BY s.finished_at DESC, s.seq DESC LIMIT $2`, ["a", 50]], /steps_failed/],
    ["listFailedSteps by package", () => [`SELECT s.* FROM ${q()}.steps s WHERE s.status = 'failed'
       AND (SELECT r.package FROM ${q()}.runs r WHERE r.id = s.run_id LIMIT 1) = $1
       AND (s.finished_at, s.seq) < ($2, $3) ORDER BY s.finished_at DESC, s.seq DESC LIMIT $4`, ["d", now, 1e12, 50]], /steps_failed/],
  ];
  it.each(byAge)("%s reads history through its partial index", async (_name, make, index) => {
    const [text, values] = make();
    const shown = await plan(text, values, "SET LOCAL enable_sort = off");
    if (process.env.SHOW_PLANS) console.log(`--- ${_name}\n${shown}`);
    expect(shown).not.toMatch(wholeTable);
    expect(shown).toMatch(index);
    // (An incremental sort of the seq tie-break within one finished_at is fine.)
    expect(shown).not.toMatch(/(^|->\s+)Sort\b/m);
  });
});

describe("the event-log triggers' plans", () => {
  // PL/pgSQL plans a trigger's INSERT at its first firing in a session and keeps that plan.
  // A transition table has no statistics: a first firing on one row must not leave a nested
  // loop that pairs every old row with every new one in the large statements after it.
  const updates: [string, (q: string, limit: number) => string][] = [
    ["steps_updated", (q, limit) => `UPDATE ${q}.steps SET status = 'canceled' WHERE seq IN (SELECT seq FROM ${q}.steps WHERE status = 'ready' ORDER BY seq LIMIT ${limit})`],
    ["runs_updated", (q, limit) => `UPDATE ${q}.runs SET status = 'canceled' WHERE seq IN (SELECT seq FROM ${q}.runs WHERE status = 'running' ORDER BY seq LIMIT ${limit})`],
  ];
  it.each(updates)("%s pairs old and new rows by hash, also after a first firing on one row", async (_trigger, update) => {
    const client = new pg.Client({ connectionString: pgUrl() });
    const plans: string[] = [];
    client.on("notice", (notice) => plans.push(notice.message ?? ""));
    await client.connect();
    try {
      await client.query("BEGIN");
      // auto_explain sends each plan, the trigger's nested statements' too, to this client.
      for (const setup of ["LOAD 'auto_explain'", "SET LOCAL auto_explain.log_min_duration = 0", "SET LOCAL auto_explain.log_nested_statements = on", "SET LOCAL auto_explain.log_level = notice"]) {
        await client.query(setup);
      }
      await client.query(update(`"${schema}"`, 1));
      plans.length = 0;
      await client.query(update(`"${schema}"`, 200));
      const logged = plans.filter((p) => p.includes(`INSERT INTO "${schema}".events`));
      expect(logged).toHaveLength(1);
      expect(logged[0]).toMatch(/Hash Join/);
      expect(logged[0]).not.toMatch(/Nested Loop/);
    } finally {
      await client.query("ROLLBACK");
      await client.end();
    }
  });
});
