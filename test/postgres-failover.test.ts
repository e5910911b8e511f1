/**
 * The server drops every connection of a worker (what a restart or failover does
 * to it) while it is claiming and completing. The worker must not crash (pg emits
 * connection errors of checked-out clients as 'error' events), must report the
 * failures to onError as store_error, reconnect, and finish every run with the
 * right data: steps whose completion was lost are reclaimed after their lease.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newExecutor, newPackage, newRuntime } from "../src/index.js";
import { postgresStore } from "../src/postgres.js";
import { waitUntil } from "../src/conformance/harness.js";
import { pgUrl, uniqueSchema, usePostgresSchemas } from "./support/postgres.js";

const schemas = usePostgresSchemas("failover");
let admin: pg.Client;
beforeAll(async () => {
  admin = new pg.Client({ connectionString: pgUrl() });
  await admin.connect();
});
afterAll(() => admin.end());

describe("PostgreSQL connections dropped under load", () => {
  it("keeps the worker alive, reconnects and finishes every run", async () => {
    const appName = uniqueSchema("trellis_failover");
    const url = new URL(pgUrl());
    url.searchParams.set("application_name", appName);
    const errors: unknown[] = [];
    const rt = await newRuntime({
      store: postgresStore({ connectionString: url.toString(), schema: schemas.schema() }),
      leaseDuration: 1_000,
      pollInterval: 50,
      maxWorkers: 8,
      onError: (e) => errors.push(e),
    });
    const committed = new Map<string, number>();
    rt.registerExecutor(
      newExecutor("work", async (step) => {
        await new Promise((resolve) => setTimeout(resolve, 2));
        step.result(step.input());
      }),
    );
    rt.registerExecutor(newExecutor("check", async (step) => step.result(await step.dependencyData("a"))));
    rt.registerPackage(
      newPackage("p")
        .entrypoint((run, n) => {
          run.step("a", n, { kind: "work" });
          run.step("b", n, { kind: "check", dependsOn: [{ stepId: "a", required: true }] });
        })
        .build(),
    );
    const runs = 300;
    await rt.startRuns("p", Array.from({ length: runs }, (_, i) => ({ input: i, runId: `r${i}` })));
    const ac = new AbortController();
    const workers = rt.startWorkers({ signal: ac.signal });

    // Reads may fail too while connections drop (store_error); the poll just asks again.
    const succeeded = async () => (await rt.listRuns({ status: "succeeded", limit: 1000 }).catch(() => [])).length;
    // Drop every connection of this runtime a few times while it works.
    let kills = 0;
    for (let round = 0; round < 4; round++) {
      await waitUntil(async () => (await succeeded()) >= (round + 1) * 40, `progress before kill ${round + 1}`);
      const { rowCount } = await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", [appName]);
      kills += rowCount ?? 0;
    }
    await waitUntil(async () => (await succeeded()) === runs, "every run to succeed", 60_000);
    ac.abort();
    await workers;

    expect(kills).toBeGreaterThan(0);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.every((e) => (e as { code?: string }).code === "store_error")).toBe(true);
    for (let i = 0; i < runs; i++) {
      const b = await rt.result(`r${i}`, "b");
      committed.set(`r${i}`, b?.data as number);
    }
    expect([...committed.values()]).toEqual(Array.from({ length: runs }, (_, i) => i));
    await rt.close();
  });
});
