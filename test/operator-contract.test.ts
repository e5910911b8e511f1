/**
 * The operator-facing contract of run and step records: `lastError` is history
 * and `error` current state, `finishedAt`, and what `retryStep` does on a
 * canceled run (docs/getting-started.md#operator-actions).
 */
import { describe, expect, it } from "vitest";
import { newExecutor, newPackage, newRuntime, requireSteps, retryable, type Runtime } from "../src/index.js";
import { runUntilIdle } from "./support/operator-runs.js";
import { stores } from "./support/stores.js";

describe.each(stores("contract"))("operator records on $name", ({ fresh }) => {
  async function runtime(): Promise<Runtime> {
    const rt = await newRuntime({ store: fresh() });
    let calls = 0;
    rt.registerExecutor(
      newExecutor("flaky", async (step) => {
        if (calls++ === 0) throw retryable("transient", new Error("first attempt fails"));
        step.result("ok");
      }),
    );
    rt.registerExecutor(newExecutor("ok", async (step) => step.result("ok")));
    rt.registerExecutor(newExecutor("fails", async () => Promise.reject(new Error("always"))));
    rt.registerPackage(newPackage("flaky").entrypoint((run) => void run.step("s", null, { kind: "flaky", retry: { maxAttempts: 2, initialBackoff: 0 } })).build());
    rt.registerPackage(newPackage("fails").entrypoint((run) => void run.step("s", null, { kind: "fails", retry: { maxAttempts: 1 } })).build());
    rt.registerPackage(
      newPackage("chain")
        .entrypoint((run) => {
          const a = run.step("a", null, { kind: "ok" });
          run.step("b", null, { kind: "ok", dependsOn: requireSteps(a) });
        })
        .build(),
    );
    rt.registerPackage(
      newPackage("pair")
        .entrypoint((run) => {
          run.step("a", null, { kind: "ok" });
          run.step("c", null, { kind: "ok" });
        })
        .build(),
    );
    return rt;
  }

  it("keeps lastError as history after a retry succeeds, and sets error only while the step is failed", async () => {
    const rt = await runtime();
    await rt.startRun("flaky", null, { runId: "f" });
    await runUntilIdle(rt);
    const [step] = await rt.steps("f");
    expect(step).toMatchObject({ status: "succeeded", attempt: 2, lastError: { code: "transient" } });
    expect(step?.error).toBeUndefined();

    await rt.startRun("fails", null, { runId: "x" });
    await runUntilIdle(rt);
    const [failed] = await rt.steps("x");
    expect(failed?.status).toBe("failed");
    expect(failed?.error).toEqual(failed?.lastError);
    expect((await rt.listFailedSteps())[0]?.error?.code).toBe(failed?.lastError?.code);
    await rt.close();
  });

  it("sets finishedAt when a run finishes, and clears it when an operator retry reopens the run", async () => {
    const rt = await runtime();
    await rt.startRun("fails", null, { runId: "x" });
    expect((await rt.workflow("x"))?.finishedAt).toBeUndefined();
    await runUntilIdle(rt);
    const failed = await rt.workflow("x");
    expect(failed?.status).toBe("failed");
    expect(failed?.finishedAt?.getTime()).toBeGreaterThanOrEqual(failed?.createdAt.getTime() as number);
    expect((await rt.listRuns({ status: "failed" }))[0]?.finishedAt).toEqual(failed?.finishedAt);
    await rt.retryStep("x", "s");
    const reopened = await rt.workflow("x");
    expect(reopened?.status).toBe("running");
    expect(reopened?.finishedAt).toBeUndefined();
    await rt.close();
  });

  it("retryStep on a canceled run reopens it: the run ends by its steps, so succeeded once nothing canceled is left", async () => {
    const rt = await runtime();
    await rt.startRun("chain", null, { runId: "c" });
    await rt.cancelRun("c");
    expect((await rt.steps("c")).map((s) => s.status)).toEqual(["canceled", "canceled"]);
    await rt.retryStep("c", "a");
    expect((await rt.workflow("c"))?.status).toBe("running");
    // b was canceled downstream of a: it comes back with it.
    expect((await rt.steps("c")).map((s) => s.status)).toEqual(["ready", "pending"]);
    await runUntilIdle(rt);
    expect((await rt.workflow("c"))?.status).toBe("succeeded");
    expect((await rt.events("c")).map((e) => e.type)).toContain("operator_retry");
    await rt.close();
  });

  it("retryStep on a canceled run with another canceled step left: the retried step runs, the run ends canceled again", async () => {
    const rt = await runtime();
    await rt.startRun("pair", null, { runId: "p" });
    await rt.cancelRun("p");
    await rt.retryStep("p", "a");
    await runUntilIdle(rt);
    expect((await rt.steps("p")).map((s) => [s.id, s.status])).toEqual([
      ["a", "succeeded"],
      ["c", "canceled"],
    ]);
    expect((await rt.workflow("p"))?.status).toBe("canceled");
    expect((await rt.result("p", "a"))?.data).toBe("ok");
    await rt.close();
  });
});
