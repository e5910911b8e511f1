/** Conformance: durable timers (runAt, delay, sleep) and signals, also across restarts. Child runs: `child-runs.ts`. */
import { describe, expect, it } from "./runner.js";
import { permanent } from "../errors.js";
import { newExecutor } from "../executor.js";
import { newPackage } from "../package.js";
import { type RunBuilder } from "../run-builder.js";
import { onFailure, requireSteps } from "../step-options.js";
import type { Runtime } from "../engine/runtime.js";
import { type ConformanceTarget, rejectionCode, useHarness, waitUntil } from "./harness.js";

export const statusOf = async (rt: Runtime, runId: string) => Object.fromEntries((await rt.steps(runId)).map((s) => [s.id, s.status]));

export function registerBasics(rt: Runtime, ran: string[] = []): string[] {
  rt.registerExecutor(newExecutor("ok", async (step) => {
    ran.push(step.step.id);
    step.result(step.rawInput());
  }));
  rt.registerExecutor(newExecutor("echo-dep", async (step) => {
    ran.push(step.step.id);
    step.result(await step.dependencyData(step.input<string>()));
  }));
  rt.registerExecutor(newExecutor("fail", async (step) => {
    ran.push(step.step.id);
    throw permanent("boom", new Error("no"));
  }));
  return ran;
}

export function waitsSuite(target: ConformanceTarget): void {
  describe("timers", () => {
    const h = useHarness(target);

    it("does not run a step before its runAt, and runs it after, also in a new runtime", async () => {
      const first = await h().runtime();
      registerBasics(first);
      const runAt = new Date(h().now + 5_000);
      first.registerPackage(newPackage("later").entrypoint((run) => void run.step("s", 1, { kind: "ok", runAt })).build());
      await first.startRun("later", null, { runId: "r" });
      expect((await first.runOnce()).claimed).toBe(0);
      const [step] = await first.steps("r");
      expect(step?.status).toBe("ready");
      expect(step?.readyAt?.getTime()).toBe(runAt.getTime());
      const ready = (await first.events("r")).find((e) => e.type === "step_ready");
      expect(ready?.data).toEqual({ readyAt: runAt.getTime() });
      await first.close();

      h().advance(4_999);
      const second = await h().runtime();
      const ran = registerBasics(second);
      expect((await second.runOnce()).claimed).toBe(0);
      h().advance(1);
      await second.runOnce();
      expect(ran).toEqual(["s"]);
      expect((await second.workflow("r"))?.status).toBe("succeeded");
    });

    it("delays a step from the moment its dependencies are done", async () => {
      const rt = await h().runtime();
      const ran = registerBasics(rt);
      rt.registerPackage(
        newPackage("delayed")
          .entrypoint((run) => {
            const a = run.step("a", 1, { kind: "ok" });
            run.step("b", 2, { kind: "ok", dependsOn: requireSteps(a), delay: 3_000 });
          })
          .build(),
      );
      await rt.startRun("delayed", null, { runId: "r" });
      const started = h().now;
      await rt.runOnce();
      expect(ran).toEqual(["a"]);
      const b = (await rt.steps("r")).find((s) => s.id === "b");
      expect(b?.status).toBe("ready");
      expect(b?.readyAt?.getTime()).toBe(started + 3_000);
      expect((await rt.events("r")).find((e) => e.type === "step_ready" && e.stepId === "b")?.data).toEqual({ readyAt: started + 3_000 });
      h().advance(3_000);
      await rt.runOnce();
      expect(ran).toEqual(["a", "b"]);
    });

    it("sleeps without holding a worker slot, waits as `waiting`, and wakes when its time comes, across a restart", async () => {
      const first = await h().runtime({ maxWorkers: 1 });
      const ran = registerBasics(first);
      first.registerPackage(
        newPackage("nap")
          .entrypoint((run) => {
            const nap = run.sleep("nap", 60_000);
            run.step("after", "x", { kind: "ok", dependsOn: requireSteps(nap) });
            run.step("meanwhile", "y", { kind: "ok" });
          })
          .build(),
      );
      await first.startRun("nap", null, { runId: "r" });
      const sleptAt = h().now;
      await first.runOnce();
      // One worker slot, and the other step still ran: the sleep holds none.
      expect(ran).toEqual(["meanwhile"]);
      const nap = (await first.steps("r")).find((s) => s.id === "nap");
      expect(nap?.status).toBe("waiting");
      expect(nap?.wakeAt?.getTime()).toBe(sleptAt + 60_000);
      expect(nap?.lease).toBeUndefined();
      expect((await first.workflow("r"))?.status).toBe("running");
      await first.close();

      const second = await h().runtime();
      const ranAfter = registerBasics(second);
      h().advance(59_999);
      await second.runOnce();
      expect((await statusOf(second, "r")).nap).toBe("waiting");
      h().advance(1);
      await second.runOnce();
      expect(await statusOf(second, "r")).toEqual({ nap: "succeeded", after: "succeeded", meanwhile: "succeeded" });
      expect(ranAfter).toEqual(["after"]);
      expect((await second.workflow("r"))?.status).toBe("succeeded");
    });

    it("emits a sleep from a step", async () => {
      const rt = await h().runtime();
      registerBasics(rt);
      rt.registerExecutor(newExecutor("schedule", async (step) => {
        const wait = step.emitSleep("cooldown", 1_000);
        step.emit("resume", "r", { kind: "ok", dependsOn: requireSteps(wait) });
      }));
      rt.registerPackage(newPackage("cooldown").entrypoint((run) => void run.step("schedule", null, { kind: "schedule" })).build());
      await rt.startRun("cooldown", null, { runId: "r" });
      await rt.runOnce();
      expect((await statusOf(rt, "r")).cooldown).toBe("waiting");
      h().advance(1_000);
      await rt.runOnce();
      expect((await rt.workflow("r"))?.status).toBe("succeeded");
      expect((await rt.steps("r")).find((s) => s.id === "cooldown")?.parentId).toBe("schedule");
    });

    it("wakes an idle worker at a timer's due time, with no poll in between (real clock)", async () => {
      const rt = await h().runtime({ clock: Date.now, pollInterval: 60_000 });
      registerBasics(rt);
      rt.registerPackage(
        newPackage("short-nap")
          .entrypoint((run) => {
            const nap = run.sleep("nap", 150);
            run.step("after", 1, { kind: "ok", dependsOn: requireSteps(nap) });
          })
          .build(),
      );
      const ac = new AbortController();
      const workers = rt.startWorkers({ signal: ac.signal });
      await rt.startRun("short-nap", null, { runId: "r" });
      await waitUntil(async () => (await rt.workflow("r"))?.status === "succeeded", "the sleep to end and the run to finish", 10_000);
      const nap = (await rt.steps("r")).find((s) => s.id === "nap");
      expect(nap?.finishedAt?.getTime()).toBeGreaterThanOrEqual(nap?.wakeAt?.getTime() ?? Infinity);
      ac.abort();
      await workers;
    });

    it("rejects bad durations with invalid_input", async () => {
      const rt = await h().runtime();
      registerBasics(rt);
      const cases: [string, (run: RunBuilder) => void][] = [
        ["negative-sleep", (run) => void run.sleep("s", -1)],
        ["fraction-sleep", (run) => void run.sleep("s", 1.5)],
        ["nan-delay", (run) => void run.step("s", null, { kind: "ok", delay: Number.NaN })],
        ["bad-runAt", (run) => void run.step("s", null, { kind: "ok", runAt: new Date("nope") })],
        ["zero-timeout", (run) => void run.step("s", null, { kind: "ok", timeout: 0 })],
      ];
      for (const [name, entry] of cases) {
        rt.registerPackage(newPackage(name).entrypoint(entry).build());
        expect({ [name]: await rejectionCode(rt.startRun(name, null)) }).toEqual({ [name]: "invalid_input" });
      }
      expect(await rt.listRuns()).toEqual([]);
    });
  });

  describe("signals", () => {
    const h = useHarness(target);

    const approvalPackage = (timeout?: number) =>
      newPackage("approval")
        .entrypoint((run) => {
          const approved = run.waitForSignal("approved", "approval", timeout === undefined ? {} : { timeout });
          run.step("ship", "approved", { kind: "echo-dep", dependsOn: requireSteps(approved) });
          run.step("escalate", null, { kind: "ok", dependsOn: onFailure(approved) });
        })
        .build();

    it("completes a waiting step with the payload of a signal sent later", async () => {
      const rt = await h().runtime();
      registerBasics(rt);
      rt.registerPackage(approvalPackage());
      await rt.startRun("approval", null, { runId: "r" });
      await rt.runOnce();
      const waiting = (await rt.steps("r")).find((s) => s.id === "approved");
      expect(waiting?.status).toBe("waiting");
      expect(waiting?.waitingFor).toBe("signal:approval");
      const payload = { by: "ada", at: new Date(Date.UTC(2026, 0, 2)) };
      expect(await rt.signal("r", "approval", payload)).toEqual({ delivered: true });
      await rt.runOnce();
      expect(await statusOf(rt, "r")).toEqual({ approved: "succeeded", ship: "succeeded", escalate: "skipped" });
      expect((await rt.result("r", "ship"))?.data).toEqual(payload);
      expect((await rt.workflow("r"))?.status).toBe("succeeded");
    });

    it("buffers a signal that arrives before the wait begins", async () => {
      const rt = await h().runtime();
      registerBasics(rt);
      rt.registerPackage(
        newPackage("early")
          .entrypoint((run) => {
            const first = run.step("first", null, { kind: "ok" });
            run.waitForSignal("go", "go", { dependsOn: requireSteps(first) });
          })
          .build(),
      );
      await rt.startRun("early", null, { runId: "r" });
      await rt.signal("r", "go", "early bird");
      await rt.runOnce();
      expect(await statusOf(rt, "r")).toEqual({ first: "succeeded", go: "succeeded" });
      expect((await rt.result("r", "go"))?.data).toBe("early bird");
    });

    it("hands signals of one name to waits oldest first, each signal to one wait, and ignores a repeated id", async () => {
      const rt = await h().runtime();
      registerBasics(rt);
      rt.registerPackage(
        newPackage("votes")
          .entrypoint((run) => {
            run.waitForSignal("vote-1", "vote");
            run.waitForSignal("vote-2", "vote");
          })
          .build(),
      );
      await rt.startRun("votes", null, { runId: "r" });
      await rt.runOnce();
      expect(await rt.signal("r", "vote", "yes", { id: "v1" })).toEqual({ delivered: true });
      expect(await rt.signal("r", "vote", "yes again", { id: "v1" })).toEqual({ delivered: false });
      await rt.runOnce();
      const results = [(await rt.result("r", "vote-1"))?.data, (await rt.result("r", "vote-2"))?.data].filter((d) => d !== undefined);
      expect(results).toEqual(["yes"]);
      await rt.signal("r", "vote", "no", { id: "v2" });
      await rt.runOnce();
      expect([(await rt.result("r", "vote-1"))?.data, (await rt.result("r", "vote-2"))?.data].sort()).toEqual(["no", "yes"]);
      expect((await rt.workflow("r"))?.status).toBe("succeeded");
      const received = (await rt.events("r")).filter((e) => e.type === "signal_received");
      expect(received.map((e) => e.data)).toEqual([{ name: "vote", id: "v1" }, { name: "vote", id: "v2" }]);
    });

    it("fails the wait with code timeout when no signal comes in time, and takes the failure branch", async () => {
      const rt = await h().runtime();
      registerBasics(rt);
      rt.registerPackage(approvalPackage(10_000));
      await rt.startRun("approval", null, { runId: "r" });
      const began = h().now;
      await rt.runOnce();
      expect((await rt.steps("r")).find((s) => s.id === "approved")?.wakeAt?.getTime()).toBe(began + 10_000);
      h().advance(9_999);
      await rt.runOnce();
      expect((await statusOf(rt, "r")).approved).toBe("waiting");
      h().advance(1);
      await rt.runOnce();
      expect(await statusOf(rt, "r")).toEqual({ approved: "failed", ship: "skipped", escalate: "succeeded" });
      expect((await rt.result("r", "approved"))?.error?.code).toBe("timeout");
      expect((await rt.workflow("r"))?.status).toBe("succeeded");
    });

    it("keeps a signal sent while no worker runs, and finishes the run in a later runtime", async () => {
      const first = await h().runtime();
      registerBasics(first);
      first.registerPackage(approvalPackage(3_600_000));
      await first.startRun("approval", null, { runId: "r" });
      await first.runOnce();
      await first.close();

      // An HTTP handler in a process that runs no workers.
      const web = await h().runtime();
      await web.signal("r", "approval", { ok: true });
      await web.close();

      const later = await h().runtime();
      registerBasics(later);
      await later.runOnce();
      expect(await statusOf(later, "r")).toEqual({ approved: "succeeded", ship: "succeeded", escalate: "skipped" });
      expect((await later.result("r", "ship"))?.data).toEqual({ ok: true });
    });

    it("refuses signals to unknown or finished runs, bad names and unstorable payloads", async () => {
      const rt = await h().runtime();
      registerBasics(rt);
      rt.registerPackage(newPackage("quick").entrypoint((run) => void run.step("s", 1, { kind: "ok" })).build());
      expect(await rejectionCode(rt.signal("nope", "x"))).toBe("not_found");
      rt.registerPackage(newPackage("gate").entrypoint((run) => void run.waitForSignal("s", "go")).build());
      await rt.startRun("quick", null, { runId: "done" });
      await rt.startRun("gate", null, { runId: "gated" });
      await rt.signal("gated", "go", 1, { id: "once" });
      await rt.runOnce();
      expect(await rejectionCode(rt.signal("done", "x"))).toBe("invalid_state");
      // A retried delivery (same id) after the run finished: already delivered, not an error.
      expect((await rt.workflow("gated"))?.status).toBe("succeeded");
      expect(await rt.signal("gated", "go", 1, { id: "once" })).toEqual({ delivered: false });
      expect(await rejectionCode(rt.signal("gated", "go", 1, { id: "twice" }))).toBe("invalid_state");
      rt.registerPackage(approvalPackage());
      await rt.startRun("approval", null, { runId: "r" });
      expect(await rejectionCode(rt.signal("r", ""))).toBe("invalid_input");
      expect(await rejectionCode(rt.signal("r", "approval", () => 1))).toBe("invalid_input");
      expect(await rejectionCode(rt.signal("r", "approval", 1, { id: "" }))).toBe("invalid_input");
      expect((await rt.events("r")).some((e) => e.type === "signal_received")).toBe(false);
    });
  });
}
