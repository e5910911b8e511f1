import { describe, expect, it } from "vitest";
import { newExecutor, newPackage, newRuntime, type Store, type StoreConfig } from "../src/index.js";
import { claimFailing, stores } from "./support/stores.js";

describe.each(stores("guards"))("runtime guards on $name", ({ fresh }) => {
  /** A real store, with one command made to fail the way a driver fails. */
  function failing(method: keyof Store, error: unknown): StoreConfig {
    const inner = fresh();
    return {
      name: "failing",
      async open() {
        const store = await inner.open();
        (store as unknown as Record<string, unknown>)[method] = async () => {
          throw error;
        };
        return store;
      },
    };
  }

  it("reports a store failure as a store_error WorkflowError with the driver's error as cause", async () => {
    const cause = Object.assign(new Error("database or disk is full"), { code: "SQLITE_FULL" });
    const rt = await newRuntime({ store: failing("getRun", cause) });
    await expect(rt.workflow("x")).rejects.toMatchObject({ name: "WorkflowError", code: "store_error", cause });
    await rt.close();
  });

  it("keeps the worker loop alive through store failures, reporting them to onError", async () => {
    const errors: unknown[] = [];
    const flaky = claimFailing(fresh(), 2, "SQLITE_BUSY: database is locked");
    const rt = await newRuntime({ store: flaky, pollInterval: 5, onError: (e) => errors.push(e) });
    rt.registerExecutor(newExecutor("k", async (step) => step.result("ok")));
    rt.registerPackage(newPackage("p").entrypoint((run) => void run.step("s", null, { kind: "k" })).build());
    await rt.startRun("p", null, { runId: "r" });
    const ac = new AbortController();
    const workers = rt.startWorkers({ signal: ac.signal });
    while ((await rt.workflow("r"))?.status !== "succeeded") await new Promise((r) => setTimeout(r, 5));
    ac.abort();
    await workers;
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatchObject({ code: "store_error" });
    await rt.close();
  });

  it("answers runtime_closed to every call after close", async () => {
    const rt = await newRuntime({ store: fresh() });
    await rt.close();
    for (const call of [() => rt.workflow("r"), () => rt.steps("r"), () => rt.result("r", "s"), () => rt.listRuns(), () => rt.readArtifact("r", "a"), () => rt.retryStep("r", "s"), () => rt.cancelRun("r")]) {
      await expect(call()).rejects.toMatchObject({ code: "runtime_closed" });
    }
  });

  it("closes while a runOnce cycle is inside a store call: close waits for it, and both settle", async () => {
    const rt = await newRuntime({ store: fresh() });
    rt.registerExecutor(newExecutor("k", async () => 1));
    rt.registerPackage(newPackage("p").entrypoint((run) => void run.step("s", null, { kind: "k" })).build());
    for (let round = 0; round < 5; round++) await rt.startRun("p", null);
    const cycle = rt.runOnce(); // its first store call (the reclaim probe) is under way
    await rt.close();
    // Before, on Postgres, the pool ended under the pending query and the cycle never settled.
    const failure = await cycle.then(
      () => undefined,
      (err: unknown) => err ?? "rejected without a reason",
    );
    if (failure !== undefined) expect(failure).toMatchObject({ name: "WorkflowError" });
  });

  it("turns a failing store open into store_error", async () => {
    await expect(newRuntime({ store: { name: "broken", open: async () => Promise.reject(new Error("ECONNREFUSED")) } })).rejects.toMatchObject({
      code: "store_error",
    });
  });
});
