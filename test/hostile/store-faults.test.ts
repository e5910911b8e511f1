/**
 * Hostile conditions: a store error before and after each commit point (a
 * query that never reached the database, or a commit whose answer was lost),
 * on both stores. Each time the store stays consistent, nothing is lost or
 * written twice, and the worker loop keeps going.
 */
import { describe, expect, it } from "vitest";
import { newExecutor, newPackage, permanent, requireSteps } from "../../src/index.js";
import { stores } from "../support/stores.js";
import { expectCommittedOnce, expectOnlyInjected, finished, rig, waitFor, workUntil } from "./support.js";

describe.each(stores("faults"))("hostile: store faults on $name", ({ fresh }) => {
  it("start: an error before the commit writes nothing; the retried start creates the run once", async () => {
    const { rt, faults, calls } = await rig(fresh());
    faults.inject({ method: "createRuns", when: "before" });
    await expect(rt.startRun("chain", null, { runId: "r" })).rejects.toMatchObject({ code: "store_error" });
    expect(await rt.workflow("r")).toBeUndefined();
    await rt.startRun("chain", null, { runId: "r" });
    await workUntil(rt, finished(rt, "r"));
    await expectCommittedOnce(rt, "r");
    expect([...calls.values()]).toEqual([1, 1]);
    await rt.close();
  });

  it("start: a lost answer after the commit; the retried start returns the same run and doubles nothing", async () => {
    const { rt, faults, calls } = await rig(fresh());
    faults.inject({ method: "createRuns", when: "after" });
    await expect(rt.startRun("chain", null, { runId: "r" })).rejects.toMatchObject({ code: "store_error" });
    expect((await rt.workflow("r"))?.status).toBe("running");
    expect((await rt.startRun("chain", null, { runId: "r" })).id).toBe("r");
    expect(await rt.listRuns()).toHaveLength(1);
    await workUntil(rt, finished(rt, "r"));
    await expectCommittedOnce(rt, "r");
    expect([...calls.values()]).toEqual([1, 1]);
    await rt.close();
  });

  it("start with a start lease: a lost answer gives the leased step back at once; it runs without waiting for the lease to expire", async () => {
    // A lease of ten minutes: were the step left leased, the run would not finish before the test's deadline.
    const { rt, faults, calls, errors } = await rig(fresh(), { leaseDuration: 600_000 });
    const ac = new AbortController();
    const workers = rt.startWorkers({ signal: ac.signal }); // idle workers here: the start leases "a"
    faults.inject({ method: "createRuns", when: "after" });
    await expect(rt.startRun("chain", null, { runId: "r" })).rejects.toMatchObject({ code: "store_error" });
    await waitFor(finished(rt, "r"));
    ac.abort();
    await workers;
    await expectCommittedOnce(rt, "r");
    expect([...calls.values()]).toEqual([1, 1]);
    const a = (await rt.steps("r")).find((s) => s.id === "a");
    expect(a).toMatchObject({ attempt: 1, reclaims: 0 }); // given back, not reclaimed: no attempt spent
    // Leased at start, given back, claimed again.
    expect((await rt.events("r")).filter((e) => e.stepId === "a").map((e) => e.type)).toEqual([
      "step_ready", "step_claimed", "step_ready", "step_claimed", "step_succeeded",
    ]);
    expectOnlyInjected(errors);
    await rt.close();
  });

  it("claim: errors before the commit; the worker loop backs off, goes on, and runs each step once", async () => {
    const { rt, faults, calls, errors } = await rig(fresh());
    await rt.startRuns("chain", [{ input: null, runId: "r1" }, { input: null, runId: "r2" }]);
    faults.inject({ method: "claim", when: "before", times: 3 });
    await workUntil(rt, finished(rt, "r1", "r2"));
    await expectCommittedOnce(rt, "r1", "r2");
    expect([...calls.values()]).toEqual([1, 1, 1, 1]);
    expect(errors).toHaveLength(3);
    expectOnlyInjected(errors);
    await rt.close();
  });

  it("claim: a lost answer after the commit; the leases expire, the steps are reclaimed and run once", async () => {
    const { rt, faults, calls, errors } = await rig(fresh());
    await rt.startRun("chain", null, { runId: "r" });
    faults.inject({ method: "claim", when: "after", match: ([req]) => (req as { limit: number }).limit > 0 });
    await workUntil(rt, finished(rt, "r"));
    await expectCommittedOnce(rt, "r");
    expect(calls.get("r/a")).toBe(1); // never ran under the lost lease
    const a = (await rt.steps("r")).find((s) => s.id === "a");
    expect(a?.reclaims).toBe(1);
    expect(a?.attempt).toBe(1);
    expect((await rt.events("r")).filter((e) => e.type === "step_reclaimed").map((e) => e.stepId)).toEqual(["a"]);
    expectOnlyInjected(errors);
    await rt.close();
  });

  it("complete: an outcome that never reached the store is written again, and commits once", async () => {
    const { rt, faults, calls, errors } = await rig(fresh());
    await rt.startRun("chain", null, { runId: "r" });
    faults.inject({ method: "complete", when: "before", times: 2 });
    await workUntil(rt, finished(rt, "r"));
    await expectCommittedOnce(rt, "r");
    expect([...calls.values()]).toEqual([1, 1]); // the write was retried under the same lease: no second execution
    expect(errors).toHaveLength(2);
    expectOnlyInjected(errors);
    await rt.close();
  });

  it("complete: when the store stays down past the retries, the outcome is given up and the step runs again", async () => {
    const { rt, faults, calls, errors } = await rig(fresh());
    await rt.startRun("chain", null, { runId: "r" });
    faults.inject({ method: "complete", when: "before", times: 7 });
    await workUntil(rt, finished(rt, "r"));
    await expectCommittedOnce(rt, "r");
    expect(calls.get("r/a")).toBe(2); // at least once: the first outcome was lost, the lease expired
    expect(calls.get("r/b")).toBe(1);
    expect(errors).toHaveLength(7);
    expectOnlyInjected(errors);
    await rt.close();
  });

  it("complete: a lost answer after the commit; the outcome stays committed once and the run goes on", async () => {
    const { rt, faults, calls, errors } = await rig(fresh());
    await rt.startRun("chain", null, { runId: "r" });
    faults.inject({ method: "complete", when: "after" });
    await workUntil(rt, finished(rt, "r"));
    await expectCommittedOnce(rt, "r");
    expect([...calls.values()]).toEqual([1, 1]);
    expect(errors).toHaveLength(1); // the retried write found the lease already used: stale, not applied again
    await rt.close();
  });

  it("operator calls: an error before the commit changes nothing; with a lost answer the call committed and calling again is safe", async () => {
    const { rt, faults } = await rig(fresh());
    rt.registerExecutor(newExecutor("nope", async () => {
      throw permanent("nope", new Error("always fails"));
    }));
    rt.registerPackage(newPackage("broken").entrypoint((run) => void run.step("s", null, { kind: "nope" })).build());
    rt.registerPackage(
      newPackage("gate")
        .entrypoint((run) => {
          const go = run.waitForSignal("go", "go");
          run.step("after", null, { kind: "count", dependsOn: requireSteps(go) });
        })
        .build(),
    );
    await rt.startRun("broken", null, { runId: "broken" });
    await rt.startRun("gate", null, { runId: "gate" });
    await rt.startRun("chain", null, { runId: "cancel-me" });
    await rt.pauseRun("cancel-me");
    await rt.runOnce();

    faults.inject({ method: "retryStep", when: "before" });
    await expect(rt.retryStep("broken", "s")).rejects.toMatchObject({ code: "store_error" });
    expect((await rt.steps("broken"))[0]?.status).toBe("failed");
    faults.inject({ method: "retryStep", when: "after" });
    await expect(rt.retryStep("broken", "s")).rejects.toMatchObject({ code: "store_error" });
    expect((await rt.steps("broken"))[0]?.status).toBe("ready");
    await expect(rt.retryStep("broken", "s")).rejects.toMatchObject({ code: "invalid_state" });

    faults.inject({ method: "cancelRun", when: "before" });
    await expect(rt.cancelRun("cancel-me")).rejects.toMatchObject({ code: "store_error" });
    expect((await rt.workflow("cancel-me"))?.status).toBe("paused");
    faults.inject({ method: "cancelRun", when: "after" });
    await expect(rt.cancelRun("cancel-me")).rejects.toMatchObject({ code: "store_error" });
    expect((await rt.workflow("cancel-me"))?.status).toBe("canceled");
    await expect(rt.cancelRun("cancel-me")).rejects.toMatchObject({ code: "invalid_state" });

    faults.inject({ method: "signal", when: "before" });
    await expect(rt.signal("gate", "go", 1, { id: "s1" })).rejects.toMatchObject({ code: "store_error" });
    faults.inject({ method: "signal", when: "after" });
    await expect(rt.signal("gate", "go", 1, { id: "s1" })).rejects.toMatchObject({ code: "store_error" });
    expect(await rt.signal("gate", "go", 1, { id: "s1" })).toEqual({ delivered: false });
    await workUntil(rt, finished(rt, "gate"));
    await expectCommittedOnce(rt, "gate");
    expect((await rt.events("gate")).filter((e) => e.type === "signal_received")).toHaveLength(1);
    await rt.close();
  });

  it("duplicate delivery: a partitioned worker loses its step to another; its late completion is fenced off", async () => {
    const store = fresh();
    const partitioned = await rig(store, { workerId: "partitioned" });
    const healthy = await rig(store, { workerId: "healthy" });
    await partitioned.rt.startRun("chain", null, { runId: "r" });
    // Its heartbeats and its completion hang: the network to the database is gone.
    partitioned.faults.inject({ method: "heartbeat", when: "before", action: "hang", times: Infinity });
    partitioned.faults.inject({ method: "complete", when: "before", action: "hang" });
    const cycle = partitioned.rt.runOnce();
    const until = Date.now() + 10_000;
    while (partitioned.faults.hanging === 0 || !partitioned.faults.injected.some((f) => f.method === "complete")) {
      if (Date.now() > until) throw new Error("the partitioned worker never tried to complete");
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    // The lease runs out; the healthy worker reclaims "a" and finishes the run.
    await workUntil(healthy.rt, finished(healthy.rt, "r"));
    partitioned.faults.clear();
    partitioned.faults.releaseHangs();
    const stale = await cycle;
    expect(stale.succeeded).toBe(0); // its completion found the lease gone
    await expectCommittedOnce(healthy.rt, "r");
    expect((await healthy.rt.result("r", "a"))?.data).toEqual({ by: "healthy" });
    const claims = (await healthy.rt.events("r")).filter((e) => e.type === "step_claimed" && e.stepId === "a").map((e) => e.workerId);
    expect(claims).toEqual(["partitioned", "healthy"]);
    await partitioned.rt.close();
    await healthy.rt.close();
  });
});
