/**
 * The server terminates every connection of a worker process, again and
 * again (pg_terminate_backend, what a failover or an administrator does):
 * while it drains a backlog, and while it sits idle. pg emits such errors as
 * 'error' events, which end a process where a client has no listener, even for
 * an instant (a new connection can be handed over in the same turn as its
 * error arrives). The worker must stay alive, reconnect, and commit every step
 * exactly once; then, after an idle stretch under the same fire, take new work.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectCommittedOnce } from "./support.js";
import { DRAIN_PACKAGE, type DrainShape, drainPackage, noRunRunning, startDrainBacklog } from "../crash/drain.js";
import { pollUntil, useCrashRuntime } from "../crash/harness.js";
import { pgUrl } from "../support/postgres.js";

const SHAPE: DrainShape = { fanOut: 2, emitAudit: false };

describe("postgres: every connection of a worker terminated, repeatedly", () => {
  const env = useCrashRuntime("postgres", drainPackage(SHAPE));
  let admin: pg.Client;
  beforeAll(async () => {
    admin = new pg.Client({ connectionString: pgUrl() });
    await admin.connect();
  });
  afterAll(() => admin?.end());

  it("the worker survives, reconnects and commits every step once, busy or idle", async () => {
    // Many reclaims allowed: under this fire an outcome may be lost again and again.
    const worker = env.box.spawn({ workerId: "w", leaseDuration: 1_000, pollInterval: 50, maxWorkers: 8, maxReclaims: 1_000 });
    await worker.waitFor("ready");
    /** Fails at once, with what the worker printed, once it has died. */
    const alive = () => {
      if (worker.exit) throw new Error(`the worker died (${JSON.stringify(worker.exit)}):\n${worker.output}`);
    };
    const drained = async () => (alive(), noRunRunning(env.rt)());
    let kills = 0;
    /** Terminates every backend of the worker; `rounds` times, 5 ms apart (a cadence, not a wait for anything). */
    const fire = async (rounds: number, until: () => Promise<boolean> = async () => false) => {
      for (let i = 0; i < rounds && !(await until()); i++) {
        alive();
        const { rowCount } = await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", [env.box.applicationName("w")]);
        kills += rowCount ?? 0;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    };

    // Busy: a backlog drains under fire.
    await startDrainBacklog(env.rt, 0, 300);
    await fire(2_000, async () => (await drained()) === true);
    await pollUntil("the backlog to drain", drained, 60_000, 50);
    // Idle: nothing to do, its LISTEN connection and pool under fire.
    await fire(150);
    alive();
    // And it still takes new work.
    await startDrainBacklog(env.rt, 300, 350);
    await pollUntil("the new runs to finish", drained, 60_000, 50);

    expect(await worker.stop()).toEqual({ code: 0, signal: null });
    expect(kills).toBeGreaterThan(50);
    const ids = (await env.rt.listRuns({ package: DRAIN_PACKAGE, limit: 1_000 })).map((r) => r.id);
    expect(ids).toHaveLength(350);
    await expectCommittedOnce(env.rt, ...ids);
    // What the worker reported along the way are store errors, nothing else.
    const reported = worker.errors.map((e) => String(e.message));
    expect(reported.filter((m) => !m.includes("store_error") && !m.includes("WorkflowError"))).toEqual([]);
    console.log(`[postgres terminate] ${kills} backends terminated; ${reported.length} errors reported; every step committed once`);
  }, 120_000);
});
