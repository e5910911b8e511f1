/**
 * A worker that cannot heartbeat: its executor blocks the event loop past the
 * lease. Another process reclaims and commits the step meanwhile; when the
 * blocked worker finally completes, its completion is fenced by the lease token
 * and discarded. On SQLite and on PostgreSQL.
 */
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { newPackage, requireSteps } from "../../src/index.js";
import { pollUntil, STORE_KINDS, useCrashRuntime } from "./harness.js";

const fencePackage = newPackage("crash-fence")
  .entrypoint(async (run) => {
    const slow = run.step("slow", {}, { kind: "crash/probe", retry: { maxAttempts: 3, initialBackoff: 10 } });
    run.step("after", {}, { kind: "crash/noop", dependsOn: requireSteps(slow) });
  })
  .build();

describe.each(STORE_KINDS)("on %s", (kind) => {
  const env = useCrashRuntime(kind, fencePackage);

  describe("a worker whose event loop is blocked past its lease", () => {
    // What the blocked worker's executor does once it is unblocked. Each takes a
    // different write path of the store (plain success; success with an emitted
    // step; failure; retry scheduled), and each must be fenced by the lease token.
    it.each(["result", "result-and-child", "permanent-error", "retryable-error"] as const)(
      "has its late completion (%s) discarded; the reclaiming worker's result stands",
      async (outcome) => {
        const marker = path.join(env.box.dir, "committed-by-b");
        const { id: runId } = await env.rt.startRun("crash-fence", {}, { runId: "fence-1" });

        // Worker A runs one cycle: it claims the step with a short lease and then
        // blocks its event loop (no heartbeat) until the marker exists.
        const a = env.box.spawn({ workerId: "worker-a", mode: "once", probe: "block-until-marker", outcome, marker, leaseDuration: 300 });
        await a.waitFor("executing", (m) => m.stepId === "slow");

        // Worker B (another process: A's event loop is frozen) reclaims the step
        // once A's lease has expired, and commits it.
        const b = env.box.spawn({ workerId: "worker-b", probe: "complete", leaseDuration: 1000, pollInterval: 50 });
        const committedRun = await pollUntil("worker B to finish the run", async () => {
          const r = await env.rt.workflow(runId);
          return r && r.status !== "running" ? r : undefined;
        });
        expect(committedRun.status).toBe("succeeded");
        const committedSteps = await env.rt.steps(runId);
        const committedResult = await env.rt.result(runId, "slow");
        expect(committedResult?.data).toEqual({ workerId: "worker-b", pid: b.pid });
        expect(committedResult?.records).toEqual([{ collection: "effects", key: "fence-1/slow", data: { workerId: "worker-b", pid: b.pid } }]);
        expect(committedResult?.emittedIds).toEqual(["slow-audit"]);
        expect(committedSteps.map((s) => s.id).sort()).toEqual(["after", "slow", "slow-audit"]);
        expect(committedSteps.find((s) => s.id === "slow")).toMatchObject({ status: "succeeded", attempt: 1, reclaims: 1 });

        // Only now let A go on: its executor ends (with its own result, or by
        // throwing) and the engine tries to complete the step with A's stale lease.
        expect(a.exit).toBeUndefined();
        fs.writeFileSync(marker, "");
        const cycle = await a.waitFor("cycle");
        expect(env.box.events("finish")).toEqual([
          { event: "finish", stepId: "slow", workerId: "worker-a", markerSeen: true },
        ]);
        // A claimed the step; its completion counted neither as a success nor as a failure.
        expect(cycle.result).toMatchObject({ claimed: 1, succeeded: 0, failed: 0 });

        // Nothing A produced was written: the run, the steps, the result (data,
        // records, emitted children) are exactly what B committed.
        expect(await env.rt.workflow(runId)).toEqual(committedRun);
        expect(await env.rt.steps(runId)).toEqual(committedSteps);
        expect(await env.rt.result(runId, "slow")).toEqual(committedResult);

        // Both executed the step, once each; B's execution is the one committed.
        const starts = env.box.starts().filter((l) => l.stepId === "slow");
        expect(starts.map((l) => [l.workerId, l.attempt, l.reclaims]).sort()).toEqual([
          ["worker-a", 1, 0],
          ["worker-b", 1, 1],
        ]);

        expect(await a.stop()).toEqual({ code: 0, signal: null });
        expect(await b.stop()).toEqual({ code: 0, signal: null });
        expect(a.errors).toEqual([]);
        expect(b.errors).toEqual([]);
      },
    );
  });
});
