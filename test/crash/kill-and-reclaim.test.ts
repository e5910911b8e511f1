/**
 * Real crashes: a worker process is SIGKILLed while it runs a step, and another
 * process takes the step over once the lease has expired. Also the poison step
 * that kills every worker that runs it. On SQLite and on PostgreSQL.
 */
import { describe, expect, it } from "vitest";
import { newPackage, requireSteps } from "../../src/index.js";
import { pollUntil, STORE_KINDS, useCrashRuntime } from "./harness.js";

const packages = [
  newPackage("crash-kill")
    .entrypoint(async (run) => {
      const victim = run.step("victim", {}, { kind: "crash/probe" });
      run.step("after", {}, { kind: "crash/noop", dependsOn: requireSteps(victim) });
    })
    .build(),
  newPackage("crash-poison")
    .entrypoint(async (run) => {
      const poison = run.step("poison", {}, { kind: "crash/suicide" });
      run.step("after", {}, { kind: "crash/noop", dependsOn: requireSteps(poison) });
    })
    .build(),
];

describe.each(STORE_KINDS)("on %s", (kind) => {
  const env = useCrashRuntime(kind, ...packages);

  const finished = (runId: string) => async () => {
    const run = await env.rt.workflow(runId);
    return run && run.status !== "running" ? run : undefined;
  };

  describe("a worker SIGKILLed inside an executor", () => {
    it("loses the step to another process after its lease expires; the step commits exactly once", async () => {
      const leaseDuration = 1000;
      const { id: runId } = await env.rt.startRun("crash-kill", {}, { runId: "kill-1" });

      const a = env.box.spawn({ workerId: "worker-a", probe: "hang", leaseDuration, pollInterval: 50 });
      const executing = await a.waitFor("executing", (m) => m.stepId === "victim");
      expect(executing).toMatchObject({ workerId: "worker-a", pid: a.pid, attempt: 1, reclaims: 0 });

      // While worker A lives (hanging in the executor), the step is its own.
      const held = (await env.rt.steps(runId)).find((s) => s.id === "victim");
      expect(held).toMatchObject({ status: "running", attempt: 1, reclaims: 0 });
      expect(held?.lease?.workerId).toBe("worker-a");

      expect(await a.kill()).toEqual({ code: null, signal: "SIGKILL" });

      const b = env.box.spawn({ workerId: "worker-b", probe: "complete", leaseDuration, pollInterval: 50 });
      const run = await pollUntil("the run to finish", finished(runId));
      expect(run.status).toBe("succeeded");

      // Worker B executed the step once more, after the reclaim.
      const retaken = await b.waitFor("executing", (m) => m.stepId === "victim");
      expect(retaken).toMatchObject({ workerId: "worker-b", pid: b.pid, attempt: 1, reclaims: 1 });

      const steps = await env.rt.steps(runId);
      expect(steps.map((s) => s.id).sort()).toEqual(["after", "victim", "victim-audit"]);
      const victim = steps.find((s) => s.id === "victim");
      // A reclaim is not an attempt.
      expect(victim).toMatchObject({ status: "succeeded", attempt: 1, reclaims: 1 });
      expect(victim?.lease).toBeUndefined();
      expect(victim?.lastError).toBeUndefined();
      for (const s of steps.filter((s) => s.id !== "victim")) expect(s).toMatchObject({ status: "succeeded", attempt: 1, reclaims: 0 });

      // The committed effects are worker B's, and there is one of each.
      const result = await env.rt.result(runId, "victim");
      expect(result?.error).toBeUndefined();
      expect(result?.data).toEqual({ workerId: "worker-b", pid: b.pid });
      expect(result?.records).toEqual([{ collection: "effects", key: "kill-1/victim", data: { workerId: "worker-b", pid: b.pid } }]);
      expect(result?.emittedIds).toEqual(["victim-audit"]);
      expect((await env.rt.result(runId, "victim-audit"))?.data).toEqual({ workerId: "worker-b", pid: b.pid });

      // The executor ran twice (at least once per lease), but committed once.
      const starts = env.box.starts().filter((l) => l.stepId === "victim");
      expect(starts.map((l) => [l.workerId, l.pid, l.attempt, l.reclaims]).sort()).toEqual([
        ["worker-a", a.pid, 1, 0],
        ["worker-b", b.pid, 1, 1],
      ]);

      expect(await b.stop()).toEqual({ code: 0, signal: null });
      expect(b.errors).toEqual([]);
    });
  });

  describe("a step that kills every worker that runs it", () => {
    it("fails with lease_expired after maxReclaims reclaims, and so does its run", async () => {
      const maxReclaims = 1;
      const leaseDuration = 500;
      const { id: runId } = await env.rt.startRun("crash-poison", {}, { runId: "poison-1" });

      // Each worker that claims the step dies in it. With maxReclaims 1 the step
      // runs twice (first claim, one reclaim); the third worker finds the lease
      // expired a second time and fails the step instead of running it again.
      const spawn = (n: number) => env.box.spawn({ workerId: `worker-${n}`, leaseDuration, pollInterval: 50, maxReclaims });
      for (let n = 1; n <= maxReclaims + 1; n++) {
        const w = spawn(n);
        expect(await w.exited).toEqual({ code: null, signal: "SIGKILL" });
      }
      const last = spawn(maxReclaims + 2);
      const run = await pollUntil("the run to finish", finished(runId));
      expect(run.status).toBe("failed");

      const steps = await env.rt.steps(runId);
      const poison = steps.find((s) => s.id === "poison");
      expect(poison).toMatchObject({ status: "failed", reclaims: maxReclaims });
      expect(poison?.lastError?.code).toBe("lease_expired");
      expect(poison?.lastError?.retryable).toBe(false);
      expect(poison?.lease).toBeUndefined();
      expect(steps.find((s) => s.id === "after")?.status).toBe("skipped");
      expect((await env.rt.result(runId, "poison"))?.error?.code).toBe("lease_expired");

      const starts = env.box.starts();
      expect(starts.map((l) => [l.workerId, l.stepId, l.attempt, l.reclaims]).sort()).toEqual([
        ["worker-1", "poison", 1, 0],
        ["worker-2", "poison", 1, 1],
      ]);

      expect(await last.stop()).toEqual({ code: 0, signal: null });
      expect(last.errors).toEqual([]);
    });
  });
});
