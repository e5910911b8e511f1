/**
 * Workers in another process wake on new work at once: the worker below polls
 * once an hour, so only a wake-up (the SQLite store watches its WAL file; the
 * PostgreSQL store LISTENs for the NOTIFY of the transaction that made work
 * ready) can make it run the steps this process starts.
 */
import { describe, expect, it } from "vitest";
import { newPackage, requireSteps } from "../../src/index.js";
import { pollUntil, STORE_KINDS, useCrashRuntime } from "./harness.js";

const wake = newPackage("wake")
  .entrypoint((run) => {
    const a = run.step("a", {}, { kind: "crash/noop" });
    run.step("b", {}, { kind: "crash/noop", dependsOn: requireSteps(a) });
  })
  .build();

describe.each(STORE_KINDS)("on %s", (kind) => {
  const env = useCrashRuntime(kind, wake);

  describe("wake-ups across processes", () => {
    it("an idle worker in another process runs new work without waiting for its poll", async () => {
      const worker = env.box.spawn({ workerId: "far", pollInterval: 3_600_000 });
      await worker.waitFor("ready");
      const latencies: number[] = [];
      for (let i = 0; i < 3; i++) {
        const startedAt = Date.now();
        await env.rt.startRun("wake", {}, { runId: `r${i}` });
        // Deadline far below the worker's poll interval: only a wake-up gets here.
        await pollUntil(`run r${i} to succeed`, async () => ((await env.rt.workflow(`r${i}`))?.status === "succeeded" ? true : undefined), 20_000);
        // Reported, never asserted: from startRun to the worker's executor starting step a.
        const start = env.box.starts().find((l) => l.runId === `r${i}` && l.stepId === "a");
        latencies.push((start?.at ?? NaN) - startedAt);
      }
      console.log(`[cross-process wake, ${kind}] startRun → executor start in the idle worker: ${latencies.map((ms) => `${ms} ms`).join(", ")}`);
      const steps = await env.rt.steps("r2");
      expect(steps.map((s) => s.status)).toEqual(["succeeded", "succeeded"]);
      expect((await env.rt.result("r2", "b"))?.data).toMatchObject({ workerId: "far" });
      // Every step ran in the far worker, once.
      expect(env.box.starts().map((l) => `${l.workerId} ${l.runId}/${l.stepId}`).sort()).toEqual(
        ["r0", "r1", "r2"].flatMap((r) => [`far ${r}/a`, `far ${r}/b`]),
      );
      expect(await worker.stop()).toEqual({ code: 0, signal: null });
      expect(worker.errors).toEqual([]);
    });
  });
});
