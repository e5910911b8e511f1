/** Conformance: child runs (a step that starts a run and succeeds with its output), also across restarts. */
import { describe, expect, it } from "./runner.js";
import { newExecutor } from "../executor.js";
import { newPackage } from "../package.js";
import { onFailure, requireSteps } from "../step-options.js";
import type { Runtime } from "../engine/runtime.js";
import { type ConformanceTarget, rejectionCode, useHarness } from "./harness.js";
import { registerBasics, statusOf } from "./waits.js";

export function childRunsSuite(target: ConformanceTarget): void {
  describe("child runs", () => {
    const h = useHarness(target);

    const registerChild = (rt: Runtime) => {
      rt.registerExecutor(newExecutor("double", async (step) => step.result(step.input<number>() * 2)));
      rt.registerPackage(
        newPackage("child")
          .entrypoint((run, input: unknown) => {
            const n = input as number;
            const d = run.step("double", n, { kind: n < 0 ? "fail" : "double" });
            run.output(d);
          })
          .build(),
      );
    };

    it("starts a child run, waits for it without a slot, and succeeds with its output", async () => {
      const rt = await h().runtime();
      registerBasics(rt);
      registerChild(rt);
      rt.registerPackage(
        newPackage("parent")
          .entrypoint((run) => {
            const c = run.childRun("compute", "child", 21);
            const out = run.step("use", "compute", { kind: "echo-dep", dependsOn: requireSteps(c) });
            run.output(out);
          })
          .build(),
      );
      await rt.startRun("parent", null, { runId: "p" });
      await rt.runOnce();
      const child = await rt.workflow("p/compute");
      expect(child?.status).toBe("succeeded");
      expect(child?.parentRunId).toBe("p");
      expect(child?.parentStepId).toBe("compute");
      expect(await rt.output("p/compute")).toBe(42);
      expect((await rt.result("p", "compute"))?.data).toBe(42);
      expect(await rt.output("p")).toBe(42);
      expect((await rt.workflow("p"))?.status).toBe("succeeded");
      // Each run's start is logged with its package, a child's with its parent too.
      const startOf = async (runId: string) => (await rt.events(runId)).find((e) => e.type === "run_started")?.data;
      expect(await startOf("p")).toEqual({ package: "parent" });
      expect(await startOf("p/compute")).toEqual({ package: "child", parentRunId: "p", parentStepId: "compute" });
    });

    it("fails the parent step with child_failed when the child fails, and takes its failure branch", async () => {
      const rt = await h().runtime();
      registerBasics(rt);
      registerChild(rt);
      rt.registerPackage(
        newPackage("parent")
          .entrypoint((run) => {
            const c = run.childRun("compute", "child", -1);
            run.step("report", null, { kind: "ok", dependsOn: onFailure(c) });
          })
          .build(),
      );
      await rt.startRun("parent", null, { runId: "p" });
      await rt.runOnce();
      expect((await rt.workflow("p/compute"))?.status).toBe("failed");
      const error = (await rt.result("p", "compute"))?.error;
      expect(error?.code).toBe("child_failed");
      expect(error?.details).toEqual({ childRunId: "p/compute", status: "failed" });
      expect(await statusOf(rt, "p")).toEqual({ compute: "failed", report: "succeeded" });
      expect(await rejectionCode(rt.output("p/compute"))).toBe("invalid_state");
    });

    it("fails the step when the child cannot start (unknown package, bad input)", async () => {
      const rt = await h().runtime();
      registerBasics(rt);
      registerChild(rt);
      rt.registerPackage(
        newPackage("typed-child")
          .entrypoint((run) => void run.step("s", null, { kind: "ok" }))
          .build(),
      );
      rt.registerPackage(
        newPackage("parent")
          .entrypoint((run) => {
            run.childRun("ghost", "no-such-package", 1);
          })
          .build(),
      );
      await rt.startRun("parent", null, { runId: "p" });
      await rt.runOnce();
      expect((await rt.result("p", "ghost"))?.error?.code).toBe("unknown_package");
      expect((await rt.workflow("p"))?.status).toBe("failed");
      expect(await rt.workflow("p/ghost")).toBeUndefined();
    });

    it("emits a child run per item from a step and collects the outputs", async () => {
      const rt = await h().runtime({ maxWorkers: 4 });
      registerBasics(rt);
      registerChild(rt);
      rt.registerExecutor(newExecutor("split", async (step) => {
        const kids = step.input<number[]>().map((n, i) => step.emitChildRun(`item-${i}`, "child", n));
        step.emit("sum", kids, { kind: "sum", dependsOn: requireSteps(...kids) });
      }));
      rt.registerExecutor(newExecutor("sum", async (step) => {
        let total = 0;
        for (const id of step.input<string[]>()) total += await step.dependencyData<number>(id);
        step.result(total);
      }));
      rt.registerPackage(newPackage("nightly").entrypoint((run, input) => void run.step("split", input, { kind: "split" })).build());
      await rt.startRun("nightly", [1, 2, 3, 4, 5], { runId: "n" });
      await rt.runOnce();
      expect((await rt.result("n", "sum"))?.data).toBe(30);
      expect((await rt.listRuns({ package: "child" })).map((r) => r.parentRunId)).toEqual(["n", "n", "n", "n", "n"]);
    });

    it("cancels the children of a canceled run, and theirs", async () => {
      const rt = await h().runtime();
      registerBasics(rt);
      rt.registerPackage(
        newPackage("grandchild").entrypoint((run) => void run.waitForSignal("forever", "never")).build(),
      );
      rt.registerPackage(newPackage("middle").entrypoint((run) => void run.childRun("down", "grandchild", null)).build());
      rt.registerPackage(newPackage("top").entrypoint((run) => void run.childRun("down", "middle", null)).build());
      await rt.startRun("top", null, { runId: "t" });
      await rt.runOnce();
      expect((await rt.workflow("t/down/down"))?.status).toBe("running");
      await rt.cancelRun("t");
      for (const id of ["t", "t/down", "t/down/down"]) expect({ [id]: (await rt.workflow(id))?.status }).toEqual({ [id]: "canceled" });
      expect(await statusOf(rt, "t/down/down")).toEqual({ forever: "canceled" });
      expect(await rejectionCode(rt.signal("t/down/down", "never"))).toBe("invalid_state");
    });

    it("finishes a parent whose child finished while no worker ran", async () => {
      const first = await h().runtime();
      registerBasics(first);
      first.registerPackage(newPackage("approval-child").entrypoint((run) => {
        const s = run.waitForSignal("ok", "ok");
        run.output(s);
      }).build());
      first.registerPackage(newPackage("parent").entrypoint((run) => void run.childRun("c", "approval-child", null)).build());
      await first.startRun("parent", null, { runId: "p" });
      await first.runOnce();
      expect((await statusOf(first, "p")).c).toBe("waiting");
      await first.signal("p/c", "ok", "signed");
      await first.close();

      const second = await h().runtime();
      registerBasics(second);
      second.registerPackage(newPackage("approval-child").entrypoint((run) => void run.waitForSignal("ok", "ok")).build());
      second.registerPackage(newPackage("parent").entrypoint((run) => void run.childRun("c", "approval-child", null)).build());
      await second.runOnce();
      expect((await second.result("p", "c"))?.data).toBe("signed");
      expect((await second.workflow("p"))?.status).toBe("succeeded");
    });
  });
}
