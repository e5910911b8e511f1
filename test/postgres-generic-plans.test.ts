/**
 * A connection plans a statement at its first executions and then keeps one
 * generic plan for as long as it lives, made with the table sizes of that moment
 * (planning one of the store's statements costs more than running it, so the
 * store relies on that cache). A store starts empty: these tests make the
 * generic plans of the hot statements on an empty store and read them. On the
 * store's own connections (its session settings, see STORE_SESSION_SETTINGS)
 * every one reaches rows through indexes, so it stays right as the store grows.
 * On a connection without those settings some of them scan whole tables, and
 * would keep scanning after the tables had grown to millions of rows: the
 * hazard the settings are there for.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newRuntime } from "../src/index.js";
import { postgresStore } from "../src/postgres.js";
import { operatorStatements } from "../src/store/postgres/operator-statements.js";
import { openOwnPool } from "../src/store/postgres/pool.js";
import { statements } from "../src/store/postgres/statements.js";
import { pgUrl, usePostgresSchemas } from "./support/postgres.js";

const schemas = usePostgresSchemas("generic");
let schema: string;
let sql: Record<string, string>;
let ownPool: pg.Pool;
let own: pg.PoolClient;
let plain: pg.Client;
const now = 2_000_000_000_000;
const TABLE_SCAN = /Seq Scan on (steps|runs|step_deps|events|signals)\b/;

// [statement, its parameters as SQL literals (EXECUTE's arguments)]
const HOT: [string, string][] = [
  ["claimDefault", `'w', ${now}, ${now + 30_000}, 'default', 64, NULL::text[]`],
  ["claim", `'w', ${now}, ${now + 30_000}, 'default', 64, NULL::text[]`],
  ["readyQueues", `${now}`],
  ["succeedPlain", `'{r}', '{A}', '{t}', '{x}', '{NULL}', '{${now}}', ${now}`],
  ["markSucceeded", `'{r}', '{A}', '{t}', '{x}', '{NULL}', '{${now}}'`],
  ["markFailed", `'{r}', '{A}', '{t}', '{x}', '{x}', '{${now}}'`],
  ["heartbeat", `'{r}', '{A}', '{t}', ${now}, ${now}`],
  ["releaseLeases", `'{r}', '{A}', '{t}', ${now}`],
  ["finishableRuns", `'{r}'`],
  ["finishRuns", `'{r}', '{succeeded}', ${now}`],
  ["reclaim", `${now}, 5`],
  ["eventsOfRun", `'r'`],
];

/** Prepares the hot statements on a client and makes their generic plans now (cached for the connection's life). */
async function prepareGeneric(client: pg.ClientBase): Promise<void> {
  await client.query("SET plan_cache_mode = force_generic_plan");
  for (const [name, args] of HOT) {
    await client.query(`PREPARE ${name} AS ${sql[name]}`);
    await client.query(`EXPLAIN (COSTS OFF) EXECUTE ${name}(${args})`);
  }
}

/** The cached generic plans that scan a table, by statement. */
async function scanning(client: pg.ClientBase): Promise<string[]> {
  const found: string[] = [];
  for (const [name, args] of HOT) {
    const { rows } = await client.query(`EXPLAIN (COSTS OFF) EXECUTE ${name}(${args})`);
    if (rows.map((r) => r["QUERY PLAN"] as string).join("\n").match(TABLE_SCAN)) found.push(name);
  }
  return found;
}

beforeAll(async () => {
  schema = schemas.schema();
  await (await newRuntime({ store: postgresStore({ connectionString: pgUrl(), schema }) })).close();
  const q = `"${schema}"`;
  sql = { ...statements(q), ...operatorStatements(q) } as unknown as Record<string, string>;
  ownPool = openOwnPool(pgUrl(), 1);
  own = await ownPool.connect();
  plain = new pg.Client({ connectionString: pgUrl() });
  await plain.connect();
  await prepareGeneric(own);
  await prepareGeneric(plain);
});

afterAll(async () => {
  own?.release();
  await ownPool?.end();
  await plain?.end();
});

describe("generic plans made on an empty PostgreSQL store", () => {
  it("reach rows through indexes on the store's own connections", async () => {
    expect((await own.query("SHOW enable_seqscan")).rows[0].enable_seqscan).toBe("off");
    expect(await scanning(own)).toEqual([]);
  });

  it("scan tables on a connection without the store's settings (the hazard)", async () => {
    expect(await scanning(plain)).not.toEqual([]);
  });
});

describe("the pool trellis opens", () => {
  it("applies the store's settings on each of its connections, beside the connection string's own options", async () => {
    const url = new URL(pgUrl());
    url.searchParams.set("options", "-c statement_timeout=4321");
    const pool = openOwnPool(url.href, 2);
    const clients = await Promise.all([pool.connect(), pool.connect()]);
    try {
      for (const client of clients) {
        const { rows } = await client.query("SELECT current_setting('statement_timeout') AS timeout, current_setting('enable_seqscan') AS seqscan");
        expect(rows[0]).toEqual({ timeout: "4321ms", seqscan: "off" });
      }
    } finally {
      for (const client of clients) client.release();
      await pool.end();
    }
  });
});
