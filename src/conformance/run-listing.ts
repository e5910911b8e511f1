/**
 * Conformance: `listRuns` filtered in the store (created-at range, metadata
 * pairs, id prefix, with status and package) and paged with a cursor, and the
 * failed-step count the store puts on each run it reads.
 */
import { describe, expect, it } from "./runner.js";
import { newExecutor } from "../executor.js";
import { newPackage } from "../package.js";
import { onFailure } from "../step-options.js";
import type { Runtime } from "../engine/runtime.js";
import type { ListRunsFilter } from "../types.js";
import { type ConformanceTarget, registerOk, rejectionCode, useHarness } from "./harness.js";

/** Every page of a filter, `limit` runs at a time, concatenated: ids in order. */
async function allPages(rt: Runtime, filter: ListRunsFilter, limit: number): Promise<string[]> {
  const ids: string[] = [];
  for (let after: string | undefined; ; ) {
    const page = await rt.listRuns({ ...filter, limit, ...(after !== undefined ? { after } : {}) });
    ids.push(...page.map((r) => r.id));
    if (page.length < limit) return ids;
    after = page.at(-1)?.id;
  }
}

export function runListingSuite(target: ConformanceTarget): void {
  describe("listing runs in the store", () => {
    const h = useHarness(target);

    /** 30 runs, one a minute from the harness's start: ids `order-00`..`order-14` and `batch-15`..`batch-29`; `tenant` a, b, c in turn. */
    async function thirtyRuns(rt: Runtime): Promise<number> {
      registerOk(rt);
      rt.registerPackage(newPackage("p").entrypoint((run) => void run.step("s", null, { kind: "ok" })).build());
      const start = h().now;
      for (let i = 0; i < 30; i++) {
        const id = `${i < 15 ? "order" : "batch"}-${String(i).padStart(2, "0")}`;
        await rt.startRun("p", null, { runId: id, metadata: { tenant: "abc"[i % 3] as string, "odd key \"q\"": String(i % 2) } });
        h().advance(60_000);
      }
      return start;
    }

    it("filters by created-at range, metadata pairs and id prefix, newest first", async () => {
      const rt = await h().runtime();
      const start = await thirtyRuns(rt);
      const minute = (n: number) => new Date(start + n * 60_000);
      const ids = async (filter: ListRunsFilter) => (await rt.listRuns(filter)).map((r) => r.id);

      // Both ends of the range are included.
      expect(await ids({ createdFrom: minute(3), createdTo: minute(5) })).toEqual(["order-05", "order-04", "order-03"]);
      expect(await ids({ createdFrom: minute(28) })).toEqual(["batch-29", "batch-28"]);
      expect(await ids({ createdTo: minute(1) })).toEqual(["order-01", "order-00"]);
      expect(await ids({ createdFrom: minute(10), createdTo: minute(9) })).toEqual([]);

      expect(await ids({ metadata: { tenant: "b", "odd key \"q\"": "0" } })).toEqual(["batch-28", "batch-22", "batch-16", "order-10", "order-04"]);
      expect(await ids({ metadata: { tenant: "nobody" } })).toEqual([]);
      expect(await ids({ metadata: { missing: "" } })).toEqual([]);

      expect(await ids({ idPrefix: "order-1" })).toEqual(["order-14", "order-13", "order-12", "order-11", "order-10"]);
      // A prefix is text, not a pattern, and case matters.
      expect(await ids({ idPrefix: "order-_" })).toEqual([]);
      expect(await ids({ idPrefix: "%" })).toEqual([]);
      expect(await ids({ idPrefix: "ORDER" })).toEqual([]);

      expect(await ids({ idPrefix: "batch", metadata: { tenant: "a" }, createdTo: minute(21) })).toEqual(["batch-21", "batch-18", "batch-15"]);
      expect(await rejectionCode(rt.listRuns({ createdFrom: new Date(Number.NaN) }))).toBe("invalid_input");
      expect(await rejectionCode(rt.listRuns({ idPrefix: "" }))).toBe("invalid_input");
    });

    it("pages a filter with a cursor, finding matches far beyond the first page of runs", async () => {
      const rt = await h().runtime();
      await thirtyRuns(rt);
      // The newest 15 runs are all "batch": every "order" run lies beyond a first page of 10.
      expect((await rt.listRuns({ limit: 10 })).every((r) => r.id.startsWith("batch"))).toBe(true);
      const orders = await allPages(rt, { idPrefix: "order", metadata: { tenant: "c" } }, 2);
      expect(orders).toEqual(["order-14", "order-11", "order-08", "order-05", "order-02"]);
      const everything = await allPages(rt, {}, 7);
      expect(everything).toHaveLength(30);
      expect(new Set(everything).size).toBe(30);
      // The cursor is a run of another filter's page: paging goes on from its place.
      const after = await rt.listRuns({ idPrefix: "order", limit: 3, after: "batch-20" });
      expect(after.map((r) => r.id)).toEqual(["order-14", "order-13", "order-12"]);
    });

    it("counts each run's failed steps, also while a failure handler keeps the run going", async () => {
      const rt = await h().runtime();
      registerOk(rt);
      rt.registerExecutor(newExecutor("hold", async () => {
        throw new Error("held back: retried");
      }));
      rt.registerPackage(
        newPackage("handled")
          .entrypoint((run) => {
            const a = run.step("a", null, { kind: "fail" });
            const b = run.step("b", null, { kind: "fail" });
            run.step("cleanup", null, { kind: "hold", dependsOn: onFailure(a, b), retry: { maxAttempts: 5, initialBackoff: 60_000 } });
          })
          .build(),
      );
      rt.registerPackage(newPackage("fine").entrypoint((run) => void run.step("s", null, { kind: "ok" })).build());
      await rt.startRun("handled", null, { runId: "h" });
      await rt.startRun("fine", null, { runId: "f" });
      await rt.runOnce();
      await rt.runOnce();
      const run = await rt.workflow("h");
      expect(run?.status).toBe("running");
      expect(run?.failedSteps).toBe(2);
      expect((await rt.workflow("f"))?.failedSteps).toBe(0);
      expect(Object.fromEntries((await rt.listRuns()).map((r) => [r.id, r.failedSteps]))).toEqual({ h: 2, f: 0 });
      await rt.retryStep("h", "a");
      expect((await rt.workflow("h"))?.failedSteps).toBe(1);
      expect((await rt.listRuns({ status: "running" })).map((r) => [r.id, r.failedSteps])).toEqual([["h", 1]]);
    });
  });
}
