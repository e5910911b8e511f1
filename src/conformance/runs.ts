/** Conformance: starting runs, the run graph, and everything that must write nothing. */
import { describe, expect, it } from "./runner.js";
import { z } from "zod";
import { WorkflowError } from "../errors.js";
import { newExecutor } from "../executor.js";
import type { Runtime } from "../engine/runtime.js";
import { type EntrypointFn, newPackage } from "../package.js";
import { requireSteps } from "../step-options.js";
import { type ConformanceTarget, rejectionCode, useHarness } from "./harness.js";

const noop = (kind: string) => newExecutor(kind, async () => {});

export function runsSuite(target: ConformanceTarget): void {
  describe("starting runs", () => {
    const h = useHarness(target);

    it("writes the run and its steps at once; entrypoint mutations win over start options", async () => {
      const rt = await h().runtime();
      rt.registerPackage(
        newPackage("orders")
          .displayName("Orders")
          .entrypoint(z.object({ orderId: z.string() }), (run, input) => {
            run.name(`order ${input.orderId}`);
            run.metadata("tenant", "acme");
            const a = run.step("a", { n: 1 }, { kind: "k", metadata: { team: "x" } });
            run.step("b", {}, { kind: "k", dependsOn: requireSteps(a), queue: "slow" });
          })
          .build(),
      );
      const handle = await rt.startRun("orders", { orderId: "o-1" }, { runId: "r1", metadata: { tenant: "t0", source: "api" } });
      expect(handle).toEqual({ id: "r1", package: "orders", name: "order o-1" });
      const run = await rt.workflow("r1");
      expect(run).toMatchObject({ id: "r1", package: "orders", name: "order o-1", status: "running", input: { orderId: "o-1" } });
      expect(run?.metadata).toEqual({ tenant: "acme", source: "api" });
      expect(run?.createdAt.getTime()).toBe(h().now);
      const steps = await rt.steps("r1");
      expect(steps.map((s) => [s.id, s.status, s.queue, s.attempt, s.maxAttempts])).toEqual([
        ["a", "ready", "default", 0, 1],
        ["b", "pending", "slow", 0, 1],
      ]);
      expect(steps[0]?.metadata).toEqual({ team: "x" });
      expect(steps[1]?.dependsOn).toEqual([{ stepId: "a", required: true, on: "succeeded" }]);
    });

    it("records the run input and a step handed the same object alike, as the entrypoint left them", async () => {
      const rt = await h().runtime();
      let seen: unknown;
      rt.registerExecutor(newExecutor("k", async (step) => void (seen = step.input())));
      rt.registerPackage(
        newPackage("m")
          .entrypoint((run, input) => {
            run.step("s", input, { kind: "k" });
            (input as { stamped?: boolean }).stamped = true;
          })
          .build(),
      );
      await rt.startRun("m", { n: 1 }, { runId: "r" });
      await rt.runOnce();
      expect((await rt.workflow("r"))?.input).toEqual({ n: 1, stamped: true });
      expect(seen).toEqual({ n: 1, stamped: true });
    });

    it("names the run after the display name, then the package, unless told otherwise", async () => {
      const rt = await h().runtime();
      rt.registerPackage(newPackage("plain").entrypoint((run) => void run.step("s", null, { kind: "k" })).build());
      rt.registerPackage(newPackage("shown").displayName("Shown").entrypoint((run) => void run.step("s", null, { kind: "k" })).build());
      expect((await rt.startRun("plain", null)).name).toBe("plain");
      expect((await rt.startRun("shown", null)).name).toBe("Shown");
      expect((await rt.startRun("shown", null, { name: "custom" })).name).toBe("custom");
      const generated = await rt.startRun("plain", null);
      expect(generated.id).toMatch(/^plain-[0-9a-f-]{36}$/);
    });

    it("is idempotent by runId, also when two runtimes race", async () => {
      const a = await h().runtime();
      const b = await h().runtime();
      let calls = 0;
      for (const rt of [a, b]) {
        rt.registerPackage(
          newPackage("p")
            .entrypoint((run) => {
              calls++;
              run.step("only", null, { kind: "k" });
            })
            .build(),
        );
      }
      const handles = await Promise.all([a.startRun("p", 1, { runId: "same" }), b.startRun("p", 2, { runId: "same" })]);
      expect(handles[0]).toEqual(handles[1]);
      expect(await a.steps("same")).toHaveLength(1);
      const again = await a.startRun("p", 3, { runId: "same" });
      expect(again.id).toBe("same");
      expect(calls).toBeLessThanOrEqual(2);
      expect((await a.listRuns()).map((r) => r.id)).toEqual(["same"]);
    });

    it("rejects bad starts with a code and writes nothing", async () => {
      const rt = await h().runtime();
      const cause = new Error("boom");
      const pkg = (name: string, fn: EntrypointFn<unknown>) =>
        rt.registerPackage(newPackage(name).entrypoint(fn).build());
      rt.registerPackage(newPackage("typed").entrypoint(z.object({ n: z.number() }), (run) => void run.step("s", null, { kind: "k" })).build());
      pkg("empty", () => {});
      pkg("throws", () => {
        throw cause;
      });
      pkg("throwsTyped", () => {
        throw new WorkflowError("my_code", "mine");
      });
      pkg("dupStep", (run) => {
        run.step("x", null, { kind: "k" });
        run.step("x", null, { kind: "k" });
      });
      pkg("unknownDep", (run) => void run.step("x", null, { kind: "k", dependsOn: requireSteps("nope") }));
      pkg("cycle", (run) => {
        run.step("x", null, { kind: "k", dependsOn: requireSteps("z") });
        run.step("y", null, { kind: "k", dependsOn: requireSteps("x") });
        run.step("z", null, { kind: "k", dependsOn: requireSteps("y") });
      });
      pkg("selfLoop", (run) => void run.step("x", null, { kind: "k", dependsOn: requireSteps("x") }));
      pkg("noKind", (run) => void run.step("x", null, { kind: "" }));
      pkg("badRetry", (run) => void run.step("x", null, { kind: "k", retry: { maxAttempts: 0 } }));
      pkg("badInput", (run) => void run.step("x", () => 1, { kind: "k" }));
      pkg("afterPartialWrite", (run) => {
        run.step("ok", null, { kind: "k" });
        run.step("bad", null, { kind: "k", dependsOn: requireSteps("missing") });
      });

      expect(await rejectionCode(rt.startRun("nope", {}))).toBe("unknown_package");
      expect(await rejectionCode(rt.startRun("typed", { n: "one" }))).toBe("invalid_input");
      const invalid = await rt.startRun("typed", {}).catch((e: WorkflowError) => e);
      expect(Array.isArray((invalid as WorkflowError).details)).toBe(true);
      expect(await rejectionCode(rt.startRun("empty", {}))).toBe("empty_run");
      const failed = (await rt.startRun("throws", {}).catch((e: unknown) => e)) as WorkflowError;
      expect(failed.code).toBe("entrypoint_failed");
      expect(failed.cause).toBe(cause);
      expect(await rejectionCode(rt.startRun("throwsTyped", {}))).toBe("my_code");
      expect(await rejectionCode(rt.startRun("dupStep", {}))).toBe("duplicate_step");
      expect(await rejectionCode(rt.startRun("unknownDep", {}))).toBe("unknown_dependency");
      expect(await rejectionCode(rt.startRun("cycle", {}))).toBe("dependency_cycle");
      expect(await rejectionCode(rt.startRun("selfLoop", {}))).toBe("dependency_cycle");
      expect(await rejectionCode(rt.startRun("noKind", {}))).toBe("invalid_input");
      expect(await rejectionCode(rt.startRun("badRetry", {}))).toBe("invalid_input");
      expect(await rejectionCode(rt.startRun("badInput", {}))).toBe("invalid_input");
      expect(await rejectionCode(rt.startRun("afterPartialWrite", {}, { runId: "half" }))).toBe("unknown_dependency");
      expect(await rejectionCode(rt.startRun("typed", { n: 1 }, { runId: "" }))).toBe("invalid_input");

      expect(await rt.listRuns()).toEqual([]);
      expect(await rt.workflow("half")).toBeUndefined();
      expect(await rt.steps("half")).toEqual([]);
    });

    it("starts many runs in one transaction: all of them, or none when one is bad", async () => {
      const rt = await h().runtime();
      rt.registerPackage(newPackage("n").entrypoint(z.number(), (run, n) => void run.step("s", n, { kind: "k" })).build());
      await rt.startRun("n", 0, { runId: "old" });
      const handles = await rt.startRuns("n", [{ input: 1, runId: "a" }, { input: 2 }, { input: 3, runId: "old" }, { input: 4, runId: "a" }]);
      expect(handles.map((hd) => hd.id)).toEqual(["a", expect.stringMatching(/^n-/), "old", "a"]);
      expect(await rt.listRuns()).toHaveLength(3);
      expect((await rt.workflow("old"))?.input).toBe(0);
      expect((await rt.workflow("a"))?.input).toBe(1);
      expect(await rejectionCode(rt.startRuns("n", [{ input: 5, runId: "b" }, { input: "five" }]))).toBe("invalid_input");
      expect(await rt.workflow("b")).toBeUndefined();
      expect(await rt.startRuns("n", [])).toEqual([]);
    });

    it("refuses a second executor or package under a taken name", async () => {
      const rt = await h().runtime();
      rt.registerExecutor(noop("k"));
      expect(await rejectionCode(() => rt.registerExecutor(noop("k")))).toBe("duplicate_executor");
      rt.registerPackage(newPackage("p").entrypoint(() => {}).build());
      expect(await rejectionCode(() => rt.registerPackage(newPackage("p").entrypoint(() => {}).build()))).toBe("duplicate_package");
    });

    it("lists runs newest first, filtered and paged", async () => {
      const rt = await h().runtime();
      rt.registerExecutor(noop("k"));
      rt.registerExecutor(newExecutor("fail", async () => {
        throw new WorkflowError("nope", "no");
      }));
      rt.registerPackage(newPackage("a").entrypoint((run) => void run.step("s", null, { kind: "k" })).build());
      rt.registerPackage(newPackage("b").entrypoint((run) => void run.step("s", null, { kind: "fail" })).build());
      for (let i = 0; i < 5; i++) await rt.startRun(i % 2 ? "b" : "a", null, { runId: `run-${i}` });
      await rt.runOnce();
      expect((await rt.listRuns()).map((r) => r.id)).toEqual(["run-4", "run-3", "run-2", "run-1", "run-0"]);
      expect((await rt.listRuns({ package: "b" })).map((r) => r.id)).toEqual(["run-3", "run-1"]);
      expect((await rt.listRuns({ status: "failed" })).map((r) => r.id)).toEqual(["run-3", "run-1"]);
      expect((await rt.listRuns({ status: "succeeded", package: "a" })).map((r) => r.id)).toEqual(["run-4", "run-2", "run-0"]);
      const page1 = await rt.listRuns({ limit: 2 });
      const page2 = await rt.listRuns({ limit: 2, after: page1.at(-1)?.id });
      const page3 = await rt.listRuns({ limit: 2, after: page2.at(-1)?.id });
      expect([...page1, ...page2, ...page3].map((r) => r.id)).toEqual(["run-4", "run-3", "run-2", "run-1", "run-0"]);
      expect(await rejectionCode(rt.listRuns({ limit: 0 }))).toBe("invalid_input");
    });
  });

  describe("waiting for a run", () => {
    const h = useHarness(target);

    const register = (rt: Runtime) => {
      rt.registerExecutor(newExecutor("ok", async (step) => step.result(step.input())));
      rt.registerExecutor(newExecutor("bad", async () => {
        throw new WorkflowError("bad", "no");
      }));
      rt.registerPackage(newPackage("two").entrypoint((run, n) => {
        const a = run.step("a", n, { kind: "ok" });
        run.step("b", n, { kind: "ok", dependsOn: requireSteps(a) });
      }).build());
      rt.registerPackage(newPackage("fails").entrypoint((run) => void run.step("a", null, { kind: "bad" })).build());
      rt.registerPackage(newPackage("waits").entrypoint((run) => void run.waitForSignal("w", "never")).build());
    };

    it("resolves when the run finishes in this runtime's workers, or at once when it has", async () => {
      const rt = await h().runtime({ pollInterval: 60_000 });
      register(rt);
      await rt.startRun("two", 7, { runId: "r" });
      const waited = rt.waitForRun("r");
      const ac = new AbortController();
      const workers = rt.startWorkers({ signal: ac.signal });
      expect(await waited).toMatchObject({ id: "r", status: "succeeded" });
      ac.abort();
      await workers;
      expect(await rt.waitForRun("r")).toMatchObject({ status: "succeeded" });
      await rt.startRun("fails", null, { runId: "f" });
      await rt.runOnce();
      expect(await rt.waitForRun("f")).toMatchObject({ status: "failed" });
    });

    it("resolves when another runtime on the store finishes or cancels the run", async () => {
      const waiter = await h().runtime({ pollInterval: 60_000 });
      const worker = await h().runtime();
      register(waiter);
      register(worker);
      await waiter.startRun("two", 1, { runId: "elsewhere" });
      await waiter.startRun("waits", null, { runId: "stuck" });
      const finished = waiter.waitForRun("elsewhere");
      const canceled = waiter.waitForRun("stuck");
      await worker.runOnce();
      await worker.cancelRun("stuck");
      expect(await finished).toMatchObject({ status: "succeeded" });
      expect(await canceled).toMatchObject({ status: "canceled" });
    });

    it("rejects for an unknown run, past its timeout, on abort and when the runtime closes; the run goes on", async () => {
      const rt = await h().runtime();
      register(rt);
      await rt.startRun("waits", null, { runId: "w" });
      expect(await rejectionCode(rt.waitForRun("nope"))).toBe("not_found");
      expect(await rejectionCode(rt.waitForRun("w", { timeout: 30 }))).toBe("timeout");
      const ac = new AbortController();
      const aborted = rejectionCode(rt.waitForRun("w", { signal: ac.signal }));
      ac.abort();
      expect(await aborted).toBe("aborted");
      expect(await rejectionCode(rt.waitForRun("w", { timeout: -1 }))).toBe("invalid_input");
      expect((await rt.workflow("w"))?.status).toBe("running");
      const closing = rejectionCode(rt.waitForRun("w")); // handled before the close rejects it
      await rt.close();
      expect(await closing).toBe("runtime_closed");
    });
  });
}
