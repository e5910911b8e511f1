/** Conformance: attempt timeouts, priority, pause/resume, the event log and hooks. */
import { describe, expect, it } from "./runner.js";
import { newExecutor } from "../executor.js";
import { newPackage } from "../package.js";
import { onFailure, requireSteps } from "../step-options.js";
import type { Runtime } from "../engine/runtime.js";
import type { RunEvent } from "../types.js";
import { type ConformanceTarget, Gate, registerOk, rejectionCode, story, useHarness, waitUntil } from "./harness.js";

export function controlSuite(target: ConformanceTarget): void {
  describe("timeouts and priority", () => {
    const h = useHarness(target);

    it("aborts step.signal when an attempt runs past its timeout and fails the attempt with code timeout, then retries", async () => {
      const rt = await h().runtime({ clock: Date.now });
      const reasons: unknown[] = [];
      let calls = 0;
      rt.registerExecutor(newExecutor("slow", async (step) => {
        calls++;
        if (calls === 2) return step.result("fast enough");
        await new Promise<void>((resolve) => step.signal.addEventListener("abort", () => resolve(), { once: true }));
        reasons.push((step.signal.reason as { code?: string })?.code);
      }));
      rt.registerPackage(
        newPackage("slow")
          .entrypoint((run) => void run.step("s", null, { kind: "slow", timeout: 30, retry: { maxAttempts: 2, initialBackoff: 0 } }))
          .build(),
      );
      await rt.startRun("slow", null, { runId: "r" });
      await rt.runOnce();
      expect(reasons).toEqual(["timeout"]);
      const [step] = await rt.steps("r");
      expect(step?.status).toBe("succeeded");
      expect(step?.attempt).toBe(2);
      expect(step?.timeout).toBe(30);
      const failed = (await rt.events("r")).find((e) => e.type === "step_retry_scheduled");
      expect(failed?.error?.code).toBe("timeout");
    });

    it("claims higher priority first within a queue", async () => {
      const rt = await h().runtime({ maxWorkers: 1, queues: { q: { maxWorkers: 1 } } });
      const ran = registerOk(rt);
      rt.registerPackage(
        newPackage("prio")
          .entrypoint((run) => {
            run.step("low", null, { kind: "ok", queue: "q", priority: -5 });
            run.step("normal-1", null, { kind: "ok", queue: "q" });
            run.step("urgent", null, { kind: "ok", queue: "q", priority: 10 });
            run.step("normal-2", null, { kind: "ok", queue: "q" });
          })
          .build(),
      );
      await rt.startRun("prio", null, { runId: "r" });
      await rt.runOnce();
      expect(ran).toEqual(["urgent", "normal-1", "normal-2", "low"]);
      expect((await rt.steps("r")).find((s) => s.id === "urgent")?.priority).toBe(10);
    });
  });

  describe("pause and resume", () => {
    const h = useHarness(target);

    it("stops claiming a paused run's steps, lets its running step finish, and goes on when resumed", async () => {
      const rt = await h().runtime({ maxWorkers: 2 });
      const ran = registerOk(rt);
      const gate = new Gate();
      rt.registerExecutor(newExecutor("gated", async () => gate.pass()));
      rt.registerPackage(
        newPackage("pausable")
          .entrypoint((run) => {
            const g = run.step("gated", null, { kind: "gated" });
            run.step("next", null, { kind: "ok", dependsOn: requireSteps(g) });
          })
          .build(),
      );
      rt.registerPackage(newPackage("other").entrypoint((run) => void run.step("other", null, { kind: "ok" })).build());
      await rt.startRun("pausable", null, { runId: "r" });
      const cycle = rt.runOnce();
      await gate.waitFor(1);
      await rt.pauseRun("r");
      expect((await rt.workflow("r"))?.status).toBe("paused");
      gate.open();
      await cycle;
      expect((await rt.steps("r")).map((s) => s.status)).toEqual(["succeeded", "ready"]);
      await rt.startRun("other", null, { runId: "o" });
      await rt.runOnce();
      expect(ran).toEqual(["other"]);
      expect(await rejectionCode(rt.pauseRun("r"))).toBe("invalid_state");
      expect(await rejectionCode(rt.resumeRun("o"))).toBe("invalid_state");
      expect(await rejectionCode(rt.pauseRun("nope"))).toBe("not_found");
      await rt.resumeRun("r");
      await rt.runOnce();
      expect(ran).toEqual(["other", "next"]);
      expect((await rt.workflow("r"))?.status).toBe("succeeded");
      expect(story(await rt.events("r")).filter((t) => t.startsWith("run_"))).toEqual(["run_started", "run_paused", "run_resumed", "run_succeeded"]);
    });

    it("accepts each run action in exactly the statuses it documents", async () => {
      const rt = await h().runtime();
      registerOk(rt);
      rt.registerPackage(newPackage("waiting").entrypoint((run) => void run.waitForSignal("w", "go")).build());
      rt.registerPackage(newPackage("ok").entrypoint((run) => void run.step("a", null, { kind: "ok" })).build());
      rt.registerPackage(newPackage("bad").entrypoint((run) => void run.step("a", null, { kind: "fail" })).build());
      /** A fresh run in `status`, for one action (actions change what they act on). */
      const runIn = async (status: string, id: string) => {
        const pkg = status === "succeeded" ? "ok" : status === "failed" ? "bad" : "waiting";
        await rt.startRun(pkg, null, { runId: id });
        await rt.runOnce();
        if (status === "paused") await rt.pauseRun(id);
        if (status === "canceled") await rt.cancelRun(id);
        expect({ [id]: (await rt.workflow(id))?.status }).toEqual({ [id]: status });
      };
      const act: Record<string, (id: string) => Promise<unknown>> = {
        signal: (id) => rt.signal(id, "other"),
        pause: (id) => rt.pauseRun(id),
        resume: (id) => rt.resumeRun(id),
        cancel: (id) => rt.cancelRun(id),
      };
      // The documented table: "ok" or the code each action throws.
      const expected: Record<string, Record<string, string>> = {
        running: { signal: "ok", pause: "ok", resume: "invalid_state", cancel: "ok" },
        paused: { signal: "ok", pause: "invalid_state", resume: "ok", cancel: "ok" },
        succeeded: { signal: "invalid_state", pause: "invalid_state", resume: "invalid_state", cancel: "invalid_state" },
        failed: { signal: "invalid_state", pause: "invalid_state", resume: "invalid_state", cancel: "invalid_state" },
        canceled: { signal: "invalid_state", pause: "invalid_state", resume: "invalid_state", cancel: "invalid_state" },
      };
      const seen: Record<string, Record<string, string>> = {};
      for (const status of Object.keys(expected)) {
        seen[status] = {};
        for (const [action, call] of Object.entries(act)) {
          const id = `${status}-${action}`;
          await runIn(status, id);
          (seen[status] as Record<string, string>)[action] = await call(id).then(
            () => "ok",
            (err: { code?: string }) => err.code ?? String(err),
          );
        }
      }
      expect(seen).toEqual(expected);
      for (const call of Object.values(act)) expect(await rejectionCode(call("nope"))).toBe("not_found");
    });

    it("finishes a run on resume when its last step finished while it was paused, and cancels a paused run", async () => {
      const rt = await h().runtime();
      registerOk(rt);
      const gate = new Gate();
      rt.registerExecutor(newExecutor("gated", async () => gate.pass()));
      rt.registerPackage(newPackage("one").entrypoint((run) => void run.step("g", null, { kind: "gated" })).build());
      rt.registerPackage(newPackage("two").entrypoint((run) => void run.step("s", null, { kind: "ok" })).build());
      await rt.startRun("one", null, { runId: "r" });
      const cycle = rt.runOnce();
      await gate.waitFor(1);
      await rt.pauseRun("r");
      gate.open();
      await cycle;
      expect((await rt.workflow("r"))?.status).toBe("paused");
      await rt.resumeRun("r");
      expect((await rt.workflow("r"))?.status).toBe("succeeded");

      await rt.startRun("two", null, { runId: "c" });
      await rt.pauseRun("c");
      await rt.cancelRun("c");
      expect((await rt.workflow("c"))?.status).toBe("canceled");
      expect((await rt.steps("c"))[0]?.status).toBe("canceled");
    });
  });

  describe("event log and hooks", () => {
    const h = useHarness(target);

    /** A run that retries, waits for a signal that never comes, and takes its failure branch. */
    const storyPackage = () =>
      newPackage("story")
        .entrypoint((run) => {
          const flaky = run.step("flaky", null, { kind: "flaky", retry: { maxAttempts: 2, initialBackoff: 0 } });
          const approval = run.waitForSignal("approval", "approve", { timeout: 1_000, dependsOn: requireSteps(flaky) });
          run.step("escalate", null, { kind: "ok", dependsOn: onFailure(approval) });
          run.step("ship", null, { kind: "ok", dependsOn: requireSteps(approval) });
        })
        .build();

    const registerStory = (rt: Runtime) => {
      registerOk(rt);
      let calls = 0;
      rt.registerExecutor(newExecutor("flaky", async () => {
        if (++calls === 1) throw new Error("transient");
      }));
      rt.registerPackage(storyPackage());
    };

    const EXPECTED = [
      "run_started",
      "step_ready flaky",
      "step_claimed flaky",
      "step_retry_scheduled flaky",
      "step_claimed flaky",
      "step_succeeded flaky",
      "step_ready approval",
      "step_claimed approval",
      "step_waiting approval",
      "step_ready approval",
      "step_claimed approval",
      "step_failed approval",
      "step_ready escalate",
      "step_skipped ship",
      "step_claimed escalate",
      "step_succeeded escalate",
      "run_succeeded",
    ];

    it("tells what happened to a run that retried, waited and branched, in order", async () => {
      const rt = await h().runtime();
      registerStory(rt);
      await rt.startRun("story", null, { runId: "r" });
      await rt.runOnce();
      h().advance(1_000);
      await rt.runOnce();
      const events = await rt.events("r");
      expect(story(events)).toEqual(EXPECTED);
      expect(events.map((e) => e.seq)).toEqual([...events.map((e) => e.seq)].sort((a, b) => a - b));
      expect(new Set(events.map((e) => e.seq)).size).toBe(events.length);
      const byType = (type: string, stepId?: string) => events.filter((e) => e.type === type && (stepId === undefined || e.stepId === stepId));
      expect(byType("step_claimed", "flaky").map((e) => [e.attempt, e.workerId])).toEqual([[1, rt.workerId], [2, rt.workerId]]);
      expect(byType("step_retry_scheduled")[0]?.error?.message).toBe("transient");
      expect(byType("step_failed")[0]?.error?.code).toBe("timeout");
      expect(byType("step_waiting")[0]?.data).toEqual({ wakeAt: h().now, waitingFor: "signal:approve" });
      expect(events.every((e) => e.runId === "r" && e.at instanceof Date)).toBe(true);
    });

    it("logs in causal order what one write does to several steps and runs: a success that readies the next step, a signal that ends a wait", async () => {
      const rt = await h().runtime();
      registerOk(rt);
      rt.registerPackage(
        newPackage("chain")
          .entrypoint((run) => {
            const a = run.step("a", 1, { kind: "ok" });
            const b = run.step("b", 2, { kind: "ok", dependsOn: requireSteps(a) });
            const go = run.waitForSignal("go", "go", { dependsOn: requireSteps(b) });
            run.step("c", 3, { kind: "ok", dependsOn: requireSteps(go) });
          })
          .build(),
      );
      rt.registerPackage(newPackage("single").entrypoint((run) => void run.step("only", null, { kind: "ok" })).build());
      // Completed in one batch with a: one run finishes while the other's next step becomes ready.
      await rt.startRuns("single", [{ input: null, runId: "x" }]);
      await rt.startRun("chain", null, { runId: "r" });
      await rt.runOnce(); // a (with x), b, then the wait parks
      expect(story(await rt.events("x"))).toEqual(["run_started", "step_ready only", "step_claimed only", "step_succeeded only", "run_succeeded"]);
      await rt.signal("r", "go", "now", { id: "s1" });
      await rt.runOnce();
      expect(story(await rt.events("r"))).toEqual([
        "run_started",
        "step_ready a",
        "step_claimed a",
        "step_succeeded a",
        "step_ready b",
        "step_claimed b",
        "step_succeeded b",
        "step_ready go",
        "step_claimed go",
        "step_waiting go",
        "signal_received",
        "step_ready go",
        "step_claimed go",
        "step_succeeded go",
        "step_ready c",
        "step_claimed c",
        "step_succeeded c",
        "run_succeeded",
      ]);
    });

    it("hands hooks the same events, after they commit", async () => {
      const rt = await h().runtime();
      registerStory(rt);
      const all: RunEvent[] = [];
      const failures: RunEvent[] = [];
      rt.on("*", (e) => all.push(e));
      rt.on("step_failed", (e) => failures.push(e));
      rt.on("step_succeeded", () => {
        throw new Error("a broken listener");
      });
      await rt.startRun("story", null, { runId: "r" });
      await rt.runOnce();
      h().advance(1_000);
      await rt.runOnce();
      expect(all).toEqual(await rt.events("r"));
      expect(failures.map((e) => e.stepId)).toEqual(["approval"]);
      expect(h().errors.length).toBe(2); // the broken listener, once per success: reported, not fatal
      const before = all.length;
      const listener = (e: RunEvent) => all.push(e);
      rt.on("*", listener);
      rt.off("*", listener);
      expect(await rejectionCode(() => rt.on("nope" as never, () => {}))).toBe("invalid_input");
      expect(all.length).toBe(before);
    });

    it("a store observer that throws fails neither the write it observes nor the other observers", async () => {
      // At the seam: observers registered on the store itself, which the runtime then writes through.
      const store = await h().store(); // the harness closes it
      const seen: string[] = [];
      store.observeEvents?.(() => {
        throw new Error("a broken observer");
      });
      store.observeEvents?.((events) => void seen.push(...events.map((e) => `${e.type} ${e.stepId ?? ""}`.trim())));
      const borrowed = new Proxy(store, {
        get(target, prop) {
          if (prop === "close") return async () => undefined;
          const value = Reflect.get(target, prop, target);
          return typeof value === "function" ? value.bind(target) : value;
        },
      });
      const rt = await h().runtime({ store: { name: "observed", open: async () => borrowed } });
      registerOk(rt);
      rt.registerPackage(newPackage("one").entrypoint((run) => void run.step("a", 1, { kind: "ok" })).build());
      await rt.startRun("one", null, { runId: "r" });
      await rt.runOnce();
      expect((await rt.workflow("r"))?.status).toBe("succeeded");
      if (store.observeEvents) expect(seen).toEqual(["run_started", "step_ready a", "step_claimed a", "step_succeeded a", "run_succeeded"]);
    });

    it("logs operator actions and reclaims", async () => {
      const worker = await h().runtime({ leaseDuration: 1_000 });
      const gate = new Gate();
      worker.registerExecutor(newExecutor("stuck", async () => gate.pass()));
      registerOk(worker);
      worker.registerPackage(
        newPackage("ops")
          .entrypoint((run) => {
            run.step("stuck", null, { kind: "stuck" });
            run.step("bad", null, { kind: "fail" });
          })
          .build(),
      );
      await worker.startRun("ops", null, { runId: "r" });
      const cycle = worker.runOnce();
      await gate.waitFor(1);
      // Another runtime reclaims the step once its lease is past.
      const other = await h().runtime({ leaseDuration: 1_000 });
      h().advance(1_001);
      await other.runOnce();
      await waitUntil(async () => (await other.steps("r")).find((s) => s.id === "bad")?.status === "failed", "bad to fail");
      await other.retryStep("r", "bad");
      await other.cancelRun("r");
      gate.open();
      await cycle;
      const types = story(await other.events("r"));
      expect(types).toContain("step_reclaimed stuck");
      const tail = types.slice(types.indexOf("operator_retry bad"));
      expect(tail[0]).toBe("operator_retry bad");
      expect(tail[1]).toBe("step_ready bad");
      expect(tail).toContain("operator_cancel");
      expect(tail.indexOf("operator_cancel")).toBeLessThan(tail.indexOf("run_canceled"));
    });
  });
}
