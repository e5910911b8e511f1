/** Conformance: conditional dependencies, failure and completion branches, skip propagation, run status. */
import { describe, expect, it } from "./runner.js";
import { permanent } from "../errors.js";
import { newExecutor } from "../executor.js";
import { newPackage } from "../package.js";
import { onComplete, onFailure, requireSteps } from "../step-options.js";
import { type ConformanceTarget, Gate, rejectionCode, useHarness, waitUntil } from "./harness.js";

/** Registers `ok` (succeeds with its input) and `fail` (fails permanently with code `boom`). */
function okAndFail(rt: { registerExecutor: (e: ReturnType<typeof newExecutor>) => void }, ran: string[] = []) {
  rt.registerExecutor(newExecutor("ok", async (step) => {
    ran.push(step.step.id);
    step.result(step.rawInput());
  }));
  rt.registerExecutor(newExecutor("fail", async (step) => {
    ran.push(step.step.id);
    throw permanent("boom", new Error(`${step.step.id} failed`));
  }));
  return ran;
}

export function branchesSuite(target: ConformanceTarget): void {
  describe("branches", () => {
    const h = useHarness(target);

    it("runs the failure branch when a step fails, skips its success branch, and the handled failure does not fail the run", async () => {
      const rt = await h().runtime();
      const ran = okAndFail(rt);
      rt.registerPackage(
        newPackage("deploy")
          .entrypoint((run) => {
            const deploy = run.step("deploy", null, { kind: "fail" });
            run.step("announce", null, { kind: "ok", dependsOn: requireSteps(deploy) });
            run.step("rollback", null, { kind: "ok", dependsOn: onFailure(deploy) });
            run.step("cleanup", null, { kind: "ok", dependsOn: onComplete(deploy) });
          })
          .build(),
      );
      await rt.startRun("deploy", null, { runId: "r" });
      await rt.runOnce();
      const status = Object.fromEntries((await rt.steps("r")).map((s) => [s.id, s.status]));
      expect(status).toEqual({ deploy: "failed", announce: "skipped", rollback: "succeeded", cleanup: "succeeded" });
      expect(ran.sort()).toEqual(["cleanup", "deploy", "rollback"]);
      expect((await rt.workflow("r"))?.status).toBe("succeeded");
      const rollback = (await rt.steps("r")).find((s) => s.id === "rollback");
      expect(rollback?.dependsOn).toEqual([{ stepId: "deploy", required: true, on: "failed" }]);
    });

    it("skips the failure branch when the step succeeds, and skips transitively", async () => {
      const rt = await h().runtime();
      const ran = okAndFail(rt);
      rt.registerPackage(
        newPackage("happy")
          .entrypoint((run) => {
            const work = run.step("work", 1, { kind: "ok" });
            const rollback = run.step("rollback", null, { kind: "ok", dependsOn: onFailure(work) });
            run.step("after-rollback", null, { kind: "ok", dependsOn: requireSteps(rollback) });
            run.step("after-rollback-anyway", null, { kind: "ok", dependsOn: onComplete(rollback) });
            run.step("done", null, { kind: "ok", dependsOn: requireSteps(work) });
          })
          .build(),
      );
      await rt.startRun("happy", null, { runId: "r" });
      await rt.runOnce();
      const status = Object.fromEntries((await rt.steps("r")).map((s) => [s.id, s.status]));
      // A skipped step satisfies no edge, not even "completed": what waits for a step that never ran does not run.
      expect(status).toEqual({ work: "succeeded", rollback: "skipped", "after-rollback": "skipped", "after-rollback-anyway": "skipped", done: "succeeded" });
      expect(ran.sort()).toEqual(["done", "work"]);
      expect((await rt.workflow("r"))?.status).toBe("succeeded");
    });

    it("fails the run when a failure is not handled, after independent branches finish", async () => {
      const rt = await h().runtime();
      okAndFail(rt);
      rt.registerPackage(
        newPackage("mixed")
          .entrypoint((run) => {
            const a = run.step("a", null, { kind: "fail" });
            run.step("a-next", null, { kind: "ok", dependsOn: requireSteps(a) });
            const b = run.step("b", null, { kind: "fail" });
            run.step("b-handler", null, { kind: "ok", dependsOn: onFailure(b) });
            run.step("independent", null, { kind: "ok" });
          })
          .build(),
      );
      await rt.startRun("mixed", null, { runId: "r" });
      await rt.runOnce();
      const status = Object.fromEntries((await rt.steps("r")).map((s) => [s.id, s.status]));
      expect(status).toEqual({ a: "failed", "a-next": "skipped", b: "failed", "b-handler": "succeeded", independent: "succeeded" });
      expect((await rt.workflow("r"))?.status).toBe("failed");
    });

    it("counts a failure as handled only when a handler ran, not when the handler was skipped", async () => {
      const rt = await h().runtime();
      okAndFail(rt);
      rt.registerPackage(
        newPackage("skipped-handler")
          .entrypoint((run) => {
            const a = run.step("a", null, { kind: "fail" });
            const x = run.step("x", null, { kind: "ok" });
            // Runs only if both failed: x succeeds, so the handler is skipped and a's failure stands.
            run.step("handler", null, { kind: "ok", dependsOn: [...onFailure(a), ...onFailure(x)] });
          })
          .build(),
      );
      await rt.startRun("skipped-handler", null, { runId: "r" });
      await rt.runOnce();
      const status = Object.fromEntries((await rt.steps("r")).map((s) => [s.id, s.status]));
      expect(status).toEqual({ a: "failed", x: "succeeded", handler: "skipped" });
      expect((await rt.workflow("r"))?.status).toBe("failed");
    });

    it("treats required: false as on: completed, and a failure it waits for as handled", async () => {
      const rt = await h().runtime();
      okAndFail(rt);
      rt.registerPackage(
        newPackage("optional")
          .entrypoint((run) => {
            run.step("flaky", null, { kind: "fail" });
            run.step("report", null, { kind: "ok", dependsOn: [{ stepId: "flaky", required: false }] });
          })
          .build(),
      );
      await rt.startRun("optional", null, { runId: "r" });
      await rt.runOnce();
      const report = (await rt.steps("r")).find((s) => s.id === "report");
      expect(report?.status).toBe("succeeded");
      expect(report?.dependsOn).toEqual([{ stepId: "flaky", required: false, on: "completed" }]);
      expect((await rt.workflow("r"))?.status).toBe("succeeded");
    });

    it("hands a failure branch the error of the step it handles", async () => {
      const rt = await h().runtime();
      okAndFail(rt);
      let seen: unknown;
      rt.registerExecutor(newExecutor("inspect", async (step) => {
        seen = (await step.dependencyResult("charge")).error?.code;
      }));
      rt.registerPackage(
        newPackage("inspect")
          .entrypoint((run) => {
            const charge = run.step("charge", null, { kind: "fail" });
            run.step("refund", null, { kind: "inspect", dependsOn: onFailure(charge) });
          })
          .build(),
      );
      await rt.startRun("inspect", null, { runId: "r" });
      await rt.runOnce();
      expect(seen).toBe("boom");
    });

    it("branches on emitted steps, and on a dependency that already finished", async () => {
      const rt = await h().runtime();
      okAndFail(rt);
      rt.registerExecutor(newExecutor("fan", async (step) => {
        const risky = step.emit("risky", null, { kind: "fail" });
        step.emit("fallback", null, { kind: "ok", dependsOn: onFailure(risky) });
        // "first" failed before this step ran: the handler is born ready, the success path born skipped.
        step.emit("late-handler", null, { kind: "ok", dependsOn: onFailure("first") });
        step.emit("late-success", null, { kind: "ok", dependsOn: requireSteps("first") });
      }));
      rt.registerPackage(
        newPackage("fan")
          .entrypoint((run) => {
            const first = run.step("first", null, { kind: "fail" });
            run.step("fan", null, { kind: "fan", dependsOn: onComplete(first) });
          })
          .build(),
      );
      await rt.startRun("fan", null, { runId: "r" });
      await rt.runOnce();
      const status = Object.fromEntries((await rt.steps("r")).map((s) => [s.id, s.status]));
      expect(status).toEqual({
        first: "failed",
        fan: "succeeded",
        risky: "failed",
        fallback: "succeeded",
        "late-handler": "succeeded",
        "late-success": "skipped",
      });
      expect((await rt.workflow("r"))?.status).toBe("succeeded");
    });

    it("an emitted step that waits for its emitter and for another step waits for both", async () => {
      const rt = await h().runtime();
      const ran = okAndFail(rt);
      const gate = new Gate();
      rt.registerExecutor(newExecutor("slow", async (step) => {
        await gate.pass();
        ran.push(step.step.id);
      }));
      rt.registerExecutor(newExecutor("emitter", async (step) => {
        ran.push(step.step.id);
        step.emit("child", null, { kind: "ok", dependsOn: requireSteps(step.step.id, "slow") });
      }));
      rt.registerPackage(
        newPackage("self-edge")
          .entrypoint((run) => {
            run.step("slow", null, { kind: "slow" });
            run.step("emitter", null, { kind: "emitter" });
          })
          .build(),
      );
      await rt.startRun("self-edge", null, { runId: "r" });
      const cycle = rt.runOnce();
      await gate.waitFor(1);
      await waitUntil(async () => (await rt.steps("r")).some((s) => s.id === "child"), "the child to be emitted");
      // "slow" is still running: the child must not be ready, whatever its emitter did.
      expect((await rt.steps("r")).find((s) => s.id === "child")?.status).toBe("pending");
      gate.open();
      await cycle;
      expect(ran).toEqual(["emitter", "slow", "child"]);
      expect((await rt.workflow("r"))?.status).toBe("succeeded");
    });

    it("revives the dependents skipped by a failure when the operator retries the failed step", async () => {
      const rt = await h().runtime();
      let failFirst = true;
      rt.registerExecutor(newExecutor("once", async () => {
        if (failFirst) {
          failFirst = false;
          throw permanent("boom", new Error("first time"));
        }
      }));
      okAndFail(rt);
      rt.registerPackage(
        newPackage("retry-branch")
          .entrypoint((run) => {
            const work = run.step("work", null, { kind: "once" });
            run.step("next", null, { kind: "ok", dependsOn: requireSteps(work) });
          })
          .build(),
      );
      await rt.startRun("retry-branch", null, { runId: "r" });
      await rt.runOnce();
      expect((await rt.workflow("r"))?.status).toBe("failed");
      await rt.retryStep("r", "work");
      await rt.runOnce();
      const status = Object.fromEntries((await rt.steps("r")).map((s) => [s.id, s.status]));
      expect(status).toEqual({ work: "succeeded", next: "succeeded" });
      expect((await rt.workflow("r"))?.status).toBe("succeeded");
    });

    it("rejects contradictory dependencies with invalid_input and stores nothing", async () => {
      const rt = await h().runtime();
      okAndFail(rt);
      rt.registerPackage(
        newPackage("contradiction")
          .entrypoint((run) => {
            run.step("a", null, { kind: "ok" });
            run.step("b", null, { kind: "ok", dependsOn: [...requireSteps("a"), ...onFailure("a")] });
          })
          .build(),
      );
      expect(await rejectionCode(rt.startRun("contradiction", null, { runId: "r" }))).toBe("invalid_input");
      rt.registerPackage(
        newPackage("bad-on")
          .entrypoint((run) => {
            run.step("a", null, { kind: "ok" });
            run.step("b", null, { kind: "ok", dependsOn: [{ stepId: "a", required: false, on: "failed" }] });
          })
          .build(),
      );
      expect(await rejectionCode(rt.startRun("bad-on", null, { runId: "r2" }))).toBe("invalid_input");
      expect(await rt.workflow("r")).toBeUndefined();
      expect(await rt.workflow("r2")).toBeUndefined();
    });
  });
}
