/**
 * trellis/testing on both stores: the fake clock fires sleeps, retries, signal
 * timeouts and attempt timeouts when advanced and not before; runUntilIdle runs
 * chains to their end and gives up on a workflow that never stops; crashes
 * lose an attempt's commit and the step is reclaimed and run again.
 */
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { newExecutor, newPackage, requireSteps, retryable } from "../../src/index.js";
import { createTestRuntime, FakeClock, type TestRuntime, type TestRuntimeOptions } from "../../src/testing/index.js";
import { pgUrl } from "../support/postgres.js";

const targets: { name: string; options: () => TestRuntimeOptions }[] = [
  { name: "sqlite", options: () => ({}) },
  { name: "postgres", options: () => ({ postgres: pgUrl() }) },
];

describe.each(targets)("the test kit on $name", ({ options }) => {
  let env: TestRuntime;
  afterEach(() => env?.close());

  const open = async (extra: TestRuntimeOptions = {}) => (env = await createTestRuntime({ ...options(), ...extra }));

  it("fires a sleep when the clock passes it, not before", async () => {
    await open();
    env.rt.registerExecutor(newExecutor("note", async (step) => step.result(new Date(step.now))));
    const pkg = newPackage("nap").entrypoint((run) => {
      const nap = run.sleep("nap", 60_000);
      run.step("after", null, { kind: "note", dependsOn: requireSteps(nap) });
    }).build();
    env.rt.registerPackage(pkg);

    const run = await env.execute(pkg, null, { runId: "r" });
    expect(run.status).toBe("running");
    expect(await env.statuses("r")).toEqual({ nap: "waiting", after: "pending" });

    await env.advance(59_999);
    await env.runUntilIdle();
    expect(await env.statuses("r")).toEqual({ nap: "waiting", after: "pending" });

    await env.advance(1);
    expect(await env.runUntilIdle()).toMatchObject({ succeeded: 2 });
    expect((await env.rt.workflow("r"))?.status).toBe("succeeded");
    expect((await env.rt.result("r", "after"))?.data).toEqual(new Date(env.now()));
    expect(await env.story("r")).toEqual([
      "run_started", "step_ready nap", "step_claimed nap", "step_waiting nap", "step_ready nap",
      "step_claimed nap", "step_succeeded nap", "step_ready after", "step_claimed after", "step_succeeded after", "run_succeeded",
    ]);
  });

  it("runs a retry after its backoff on the fake clock", async () => {
    await open();
    const attempts: number[] = [];
    env.rt.registerExecutor(newExecutor("flaky", async (step) => {
      attempts.push(step.attempt);
      if (step.attempt === 1) throw retryable("busy", new Error("try later"));
    }));
    env.rt.registerPackage(newPackage("p").entrypoint((run) => void run.step("s", null, { kind: "flaky", retry: { maxAttempts: 2, initialBackoff: 5_000 } })).build());

    expect((await env.execute("p", null, { runId: "r" })).status).toBe("running");
    await env.advance(4_999);
    await env.runUntilIdle();
    expect(attempts).toEqual([1]);
    await env.advance(1);
    await env.runUntilIdle();
    expect(attempts).toEqual([1, 2]);
    expect((await env.rt.workflow("r"))?.status).toBe("succeeded");
  });

  it("ends an attempt past its timeout when the clock is advanced while it runs", async () => {
    await open();
    let entered!: () => void;
    const inside = new Promise<void>((resolve) => (entered = resolve));
    env.rt.registerExecutor(newExecutor("slow", async (step) => {
      entered();
      // Runs until its signal aborts: only the attempt timeout ends it.
      await new Promise((resolve) => step.signal.addEventListener("abort", resolve, { once: true }));
    }));
    env.rt.registerPackage(newPackage("p").entrypoint((run) => void run.step("s", null, { kind: "slow", timeout: 10_000 })).build());
    await env.rt.startRun("p", null, { runId: "r" });

    const idle = env.runUntilIdle();
    await inside;
    expect(env.clock.pendingTimers).toBe(1);
    await env.advance(9_999);
    expect(env.clock.pendingTimers).toBe(1);
    await env.advance(1);
    expect(await idle).toMatchObject({ claimed: 1, failed: 1 });
    expect((await env.rt.steps("r"))[0]).toMatchObject({ status: "failed", lastError: { code: "timeout" } });
    expect(env.clock.pendingTimers).toBe(0);
  });

  it("delivers a signal, and times a wait out on the clock", async () => {
    await open();
    env.rt.registerPackage(newPackage("approval").entrypoint((run) => void run.waitForSignal("approve", "approved", { timeout: 3_600_000 })).build());

    await env.execute("approval", null, { runId: "yes" });
    expect(await env.signal("yes", "approved", { by: "ana" }, { actor: "ana@ops", reason: "looks right" })).toEqual({ delivered: true });
    expect((await env.rt.workflow("yes"))?.status).toBe("succeeded");
    expect((await env.events("yes")).find((e) => e.type === "signal_received")).toMatchObject({ actor: "ana@ops", reason: "looks right" });
    expect((await env.rt.result("yes", "approve"))?.data).toEqual({ by: "ana" });

    await env.execute("approval", null, { runId: "no" });
    await env.advance(3_600_000);
    await env.runUntilIdle();
    expect((await env.rt.steps("no"))[0]).toMatchObject({ status: "failed", lastError: { code: "timeout" } });
  });

  it("crashes an attempt before its commit: the work was done, nothing committed, and after the lease it runs again", async () => {
    await open({ leaseDuration: 20_000 });
    let calls = 0;
    env.rt.registerExecutor(newExecutor("charge", async (step) => {
      calls++;
      step.result({ charged: calls });
    }));
    env.rt.registerPackage(newPackage("p").entrypoint((run) => void run.step("charge", null, { kind: "charge" })).build());
    const crash = env.crashNextAttempt("charge");

    await env.execute("p", null, { runId: "r" });
    expect(crash).toMatchObject({ crashed: true, lease: { runId: "r", stepId: "charge" } });
    expect(calls).toBe(1);
    expect((await env.rt.steps("r"))[0]).toMatchObject({ status: "running", attempt: 1 });

    await env.advance(19_999);
    await env.runUntilIdle();
    expect(calls).toBe(1);
    await env.advance(1);
    expect(await env.runUntilIdle()).toMatchObject({ reclaimed: 1, succeeded: 1 });
    expect(calls).toBe(2);
    expect((await env.rt.steps("r"))[0]).toMatchObject({ status: "succeeded", attempt: 1, reclaims: 1 });
    expect((await env.rt.result("r", "charge"))?.data).toEqual({ charged: 2 });
    expect(await env.story("r")).toContain("step_reclaimed charge");
  });

  it("crashes a worker right after its claim: the executor never ran the first time", async () => {
    await open();
    const ran: string[] = [];
    env.rt.registerExecutor(newExecutor("ok", async (step) => void ran.push(step.step.id)));
    env.rt.registerPackage(newPackage("p").entrypoint((run) => {
      run.step("a", null, { kind: "ok" });
      run.step("b", null, { kind: "ok" });
    }).build());
    env.crashNextAttempt({ stepId: "b", runId: "r" }, { before: "execute" });

    await env.execute("p", null, { runId: "r" });
    expect(ran).toEqual(["a"]);
    await env.advance(env.leaseDuration);
    await env.runUntilIdle();
    expect(ran).toEqual(["a", "b"]);
    expect((await env.rt.workflow("r"))?.status).toBe("succeeded");
  });

  it("gives up with not_idle on a workflow that never stops, naming it", async () => {
    await open();
    env.rt.registerExecutor(newExecutor("forever", async (step) => {
      const n = step.input<number>() + 1;
      step.emit(`tick-${n}`, n, { kind: "forever" });
    }));
    env.rt.registerPackage(newPackage("loop").entrypoint((run) => void run.step("tick-0", 0, { kind: "forever" })).build());
    await env.rt.startRun("loop", null, { runId: "endless" });

    const err = await env.runUntilIdle({ maxSteps: 20 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "not_idle" });
    expect((err as Error).message).toContain('run "endless" of package "loop"');
    expect((err as Error).message).toContain('"tick-21" (forever, ready');
  });

  it("skips time from due time to due time until nothing is due, or up to `until`", async () => {
    await open();
    const t0 = env.now();
    const seen: [string, number][] = [];
    env.rt.registerExecutor(newExecutor("flaky", async (step) => {
      seen.push([`attempt ${step.attempt}`, step.now.getTime() - t0]);
      if (step.attempt === 1) throw retryable("busy", new Error("later"));
    }));
    env.rt.registerPackage(newPackage("p").entrypoint((run) => {
      const nap = run.sleep("nap", 3_600_000);
      const call = run.step("call", null, { kind: "flaky", dependsOn: requireSteps(nap), retry: { maxAttempts: 2, initialBackoff: 300_000 } });
      run.waitForSignal("approval", "approved", { dependsOn: requireSteps(call) });
    }).build());
    await env.rt.startRun("p", null, { runId: "r" });

    await env.runUntilSettled({ until: t0 + 3_600_000 + 299_999 });
    expect(seen).toEqual([["attempt 1", 3_600_000]]);
    expect(env.now()).toBe(t0 + 3_600_000);

    await env.runUntilSettled();
    expect(seen).toEqual([["attempt 1", 3_600_000], ["attempt 2", 3_900_000]]);
    expect(env.now()).toBe(t0 + 3_900_000); // nothing left that time brings: the run waits for its signal
    expect(await env.statuses("r")).toMatchObject({ approval: "waiting" });
  });

  it("skips time past a crashed attempt's lease", async () => {
    await open({ leaseDuration: 45_000 });
    let calls = 0;
    env.rt.registerExecutor(newExecutor("ok", async () => void calls++));
    env.rt.registerPackage(newPackage("p").entrypoint((run) => void run.step("s", null, { kind: "ok" })).build());
    env.crashNextAttempt("s");
    const { id } = await env.rt.startRun("p", null);
    const t0 = env.now();
    await env.runUntilSettled();
    expect([calls, env.now() - t0, (await env.rt.workflow(id))?.status]).toEqual([2, 45_000, "succeeded"]);
  });

  it("gives up with not_idle on a workflow that sleeps and wakes forever", async () => {
    await open();
    env.rt.registerExecutor(newExecutor("tick", async (step) => {
      const n = step.input<number>() + 1;
      step.emitSleep(`nap-${n}`, 60_000);
      step.emit(`tick-${n}`, n, { kind: "tick", dependsOn: requireSteps(`nap-${n}`) });
    }));
    env.rt.registerPackage(newPackage("clockwork").entrypoint((run) => void run.step("tick-0", 0, { kind: "tick" })).build());
    await env.rt.startRun("clockwork", null, { runId: "c" });
    await expect(env.runUntilSettled({ maxSteps: 30 })).rejects.toMatchObject({ code: "not_idle", message: expect.stringContaining('run "c" of package "clockwork"') });
  });

  it("reads a run's graph", async () => {
    await open();
    env.rt.registerExecutor(newExecutor("ok", async () => undefined));
    env.rt.registerPackage(newPackage("p").entrypoint((run) => {
      const a = run.step("a", null, { kind: "ok" });
      run.step("b", null, { kind: "ok", dependsOn: requireSteps(a) });
    }).build());
    await env.execute("p", null, { runId: "r" });
    const graph = await env.graph("r");
    expect(graph.steps.map((s) => [s.stepId, s.status])).toEqual([["a", "succeeded"], ["b", "succeeded"]]);
    expect(graph.edges).toMatchObject([{ from: "a", to: "b" }]);
  });
});

describe("the test kit's stores", () => {
  it("removes its SQLite file and drops its Postgres schema at close", async () => {
    const fs = await import("node:fs");
    const sqlite = await createTestRuntime();
    const file = sqlite.storeLocation as string;
    expect(fs.existsSync(file)).toBe(true);
    await sqlite.close();
    expect(fs.existsSync(file)).toBe(false);

    const postgres = await createTestRuntime({ postgres: pgUrl() });
    const schema = (postgres.storeLocation as string).replace("postgres schema ", "");
    const client = new pg.Client({ connectionString: pgUrl() });
    await client.connect();
    const exists = async () => (await client.query("SELECT 1 FROM information_schema.schemata WHERE schema_name = $1", [schema])).rowCount;
    try {
      expect(await exists()).toBe(1);
      await postgres.close();
      expect(await exists()).toBe(0);
    } finally {
      await client.end();
    }
  });
});

describe("FakeClock", () => {
  it("fires timers in order of their due times, each at its own time, and only forward", async () => {
    const clock = new FakeClock(new Date("2026-03-01T00:00:00Z"));
    const fired: [string, number][] = [];
    clock.setTimeout(() => fired.push(["b", clock.now()]), 200);
    const cancel = clock.setTimeout(() => fired.push(["never", clock.now()]), 150);
    clock.setTimeout(() => {
      fired.push(["a", clock.now()]);
      clock.setTimeout(() => fired.push(["a2", clock.now()]), 50);
    }, 100);
    cancel();
    await clock.advance(199);
    const t0 = Date.parse("2026-03-01T00:00:00Z");
    expect(fired).toEqual([["a", t0 + 100], ["a2", t0 + 150]]);
    expect(clock.now()).toBe(t0 + 199);
    await clock.advanceTo(new Date(t0 + 200));
    expect(fired.at(-1)).toEqual(["b", t0 + 200]);
    await expect(clock.advanceTo(t0)).rejects.toMatchObject({ code: "invalid_input" });
    await expect(clock.advance(-1)).rejects.toMatchObject({ code: "invalid_input" });
  });
});

describe("rt.runOnce({ maxSteps })", () => {
  it("claims at most maxSteps steps in the cycle, and refuses a count that is not a positive integer", async () => {
    const env = await createTestRuntime();
    try {
      const ran: string[] = [];
      env.rt.registerExecutor(newExecutor("ok", async (step) => void ran.push(step.workflow.id)));
      env.rt.registerPackage(newPackage("p").entrypoint((run) => void run.step("s", null, { kind: "ok" })).build());
      for (const runId of ["r1", "r2", "r3", "r4", "r5"]) await env.rt.startRun("p", null, { runId });
      expect(await env.rt.runOnce({ maxSteps: 2 })).toMatchObject({ claimed: 2, succeeded: 2 });
      expect(ran).toHaveLength(2);
      for (const maxSteps of [0, 1.5, -1]) await expect(env.rt.runOnce({ maxSteps })).rejects.toMatchObject({ code: "invalid_input" });
      expect(await env.rt.runOnce()).toMatchObject({ claimed: 3 });
    } finally {
      await env.close();
    }
  });
});
