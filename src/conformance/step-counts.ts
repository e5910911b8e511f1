/** Conformance: `Store.countSteps`, the per-queue counts behind the queue gauges and `rt.stats()`. */
import { describe, expect, it } from "./runner.js";
import { newExecutor } from "../executor.js";
import { newPackage } from "../package.js";
import { requireSteps } from "../step-options.js";
import { type ConformanceTarget, useHarness } from "./harness.js";

export function stepCountsSuite(target: ConformanceTarget): void {
  describe("step counts per queue", () => {
    const h = useHarness(target);

    it("counts ready, running and waiting steps per queue, and nothing else", async () => {
      const rt = await h().runtime();
      const store = await h().store();
      rt.registerExecutor(newExecutor("k", async (step) => step.result(null)));
      rt.registerPackage(
        newPackage("counted")
          .entrypoint((run) => {
            const a1 = run.step("a1", null, { kind: "k", queue: "alpha" });
            run.step("a2", null, { kind: "k", queue: "alpha" });
            run.step("a3", null, { kind: "k", queue: "alpha", dependsOn: requireSteps(a1) }); // pending: not counted
            run.step("b1", null, { kind: "k", queue: "beta" });
            run.sleep("nap", 60_000);
          })
          .build(),
      );
      expect(await store.countSteps()).toEqual([]);
      await rt.startRun("counted", null, { runId: "r" });
      const napQueue = (await rt.steps("r")).find((s) => s.id === "nap")?.queue as string;
      const expected = (counts: Record<string, [number, number, number]>) =>
        Object.entries(counts)
          .map(([queue, [ready, running, waiting]]) => ({ queue, ready, running, waiting }))
          .sort((x, y) => (x.queue < y.queue ? -1 : 1));
      expect(await store.countSteps()).toEqual(expected({ alpha: [2, 0, 0], beta: [1, 0, 0], [napQueue]: [1, 0, 0] }));

      // Leased by another worker: running.
      const { steps } = await store.claim({ workerId: "other", limit: 100, now: h().now, leaseDuration: 30_000, policyFor: () => ({ maxWorkers: Infinity }) });
      expect(steps).toHaveLength(4);
      expect(await store.countSteps()).toEqual(expected({ alpha: [0, 2, 0], beta: [0, 1, 0], [napQueue]: [0, 1, 0] }));
      await store.release(
        steps.map((c) => ({ runId: c.run.id, stepId: c.step.id, token: c.step.lease.token })),
        h().now,
      );

      // a1, a2, b1 succeed (a3 becomes ready and succeeds in the same cycle); the sleep parks: waiting.
      await rt.runOnce();
      expect(await store.countSteps()).toEqual(expected({ [napQueue]: [0, 0, 1] }));
      h().advance(60_000);
      await rt.runOnce();
      expect(await store.countSteps()).toEqual([]);
      expect((await rt.workflow("r"))?.status).toBe("succeeded");
    });
  });
}
