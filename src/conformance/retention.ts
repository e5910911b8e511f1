/** Conformance: dead letters (failed steps across runs), purge and retention. */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "./runner.js";
import { FileArtifactStore } from "../artifacts/file-artifact-store.js";
import { newExecutor } from "../executor.js";
import { newPackage } from "../package.js";
import { requireSteps } from "../step-options.js";
import { permanent } from "../errors.js";
import { type ConformanceTarget, registerOk, rejectionCode, useHarness, waitUntil } from "./harness.js";

export function retentionSuite(target: ConformanceTarget): void {
  describe("failed steps, purge and retention", () => {
    const h = useHarness(target);

    it("lists failed steps across runs, newest first, filtered and paged", async () => {
      const rt = await h().runtime();
      registerOk(rt);
      rt.registerExecutor(newExecutor("other-fail", async () => {
        throw permanent("other", new Error("no"));
      }));
      rt.registerPackage(newPackage("a").entrypoint((run) => void run.step("x", null, { kind: "fail" })).build());
      rt.registerPackage(newPackage("b").entrypoint((run) => void run.step("y", null, { kind: "other-fail", queue: "q2" })).build());
      for (let i = 0; i < 3; i++) {
        await rt.startRun("a", null, { runId: `a${i}` });
        await rt.runOnce();
        h().advance(10);
      }
      await rt.startRun("b", null, { runId: "b0" });
      await rt.runOnce();
      const all = await rt.listFailedSteps();
      expect(all.map((s) => s.runId)).toEqual(["b0", "a2", "a1", "a0"]);
      expect(all[0]?.lastError?.code).toBe("other");
      expect((await rt.listFailedSteps({ package: "a" })).map((s) => s.runId)).toEqual(["a2", "a1", "a0"]);
      expect((await rt.listFailedSteps({ code: "other" })).map((s) => s.runId)).toEqual(["b0"]);
      expect((await rt.listFailedSteps({ queue: "q2", kind: "other-fail" })).map((s) => s.runId)).toEqual(["b0"]);
      const page1 = await rt.listFailedSteps({ limit: 2 });
      const last = page1.at(-1) as { runId: string; id: string };
      const page2 = await rt.listFailedSteps({ limit: 2, after: { runId: last.runId, stepId: last.id } });
      expect([...page1, ...page2].map((s) => s.runId)).toEqual(["b0", "a2", "a1", "a0"]);
      expect(await rejectionCode(rt.listFailedSteps({ after: { runId: "nope", stepId: "x" } }))).toBe("not_found");
      expect(await rejectionCode(rt.listFailedSteps({ limit: 0 }))).toBe("invalid_input");
      await rt.retryStep("a2", "x");
      expect((await rt.listFailedSteps({ package: "a" })).map((s) => s.runId)).toEqual(["a1", "a0"]);
    });

    it("purges finished runs with everything that belongs to them, and nothing else", async () => {
      const rt = await h().runtime();
      registerOk(rt);
      rt.registerExecutor(newExecutor("with-artifact", async (step) => {
        step.artifact("a.txt", "text/plain", "bytes");
      }));
      rt.registerPackage(newPackage("done").entrypoint((run) => void run.step("s", null, { kind: "with-artifact" })).build());
      rt.registerPackage(newPackage("broken").entrypoint((run) => void run.step("s", null, { kind: "fail" })).build());
      rt.registerPackage(newPackage("waits").entrypoint((run) => void run.waitForSignal("w", "go")).build());
      await rt.startRun("done", null, { runId: "old-ok" });
      await rt.startRun("broken", null, { runId: "old-failed" });
      await rt.startRun("waits", null, { runId: "unfinished" });
      await rt.signal("unfinished", "other-name", 1);
      await rt.runOnce();
      const cutoff = new Date(h().now + 1);
      h().advance(1_000);
      await rt.startRun("done", null, { runId: "new-ok" });
      await rt.runOnce();

      expect(await rt.purge({ finishedBefore: cutoff, statuses: ["failed"] })).toBe(1);
      expect(await rt.workflow("old-failed")).toBeUndefined();
      expect(await rt.purge({ finishedBefore: cutoff })).toBe(1);
      expect(await rt.workflow("old-ok")).toBeUndefined();
      expect(await rt.steps("old-ok")).toEqual([]);
      expect(await rt.events("old-ok")).toEqual([]);
      expect(await rejectionCode(rt.readArtifact("old-ok", "s:artifact:001"))).toBe("not_found");
      expect((await rt.workflow("new-ok"))?.status).toBe("succeeded");
      expect((await rt.workflow("unfinished"))?.status).toBe("running");
      expect((await rt.events("unfinished")).length).toBeGreaterThan(0);
      expect(await rt.purge({ finishedBefore: cutoff })).toBe(0);
      expect(await rejectionCode(rt.purge({ finishedBefore: new Date("x") }))).toBe("invalid_input");
      expect(await rejectionCode(rt.purge({ finishedBefore: cutoff, statuses: ["running" as never] }))).toBe("invalid_input");
    });

    it("deletes the stored artifacts of the runs it purges from the artifact store, and no others", async () => {
      const root = fs.mkdtempSync(path.join(os.tmpdir(), "trellis-purge-artifacts-"));
      try {
        const artifactStore = new FileArtifactStore(root);
        const rt = await h().runtime({ artifactStore });
        rt.registerExecutor(newExecutor("store", async (step) => {
          const ref = await step.storeArtifact("a.bin", "application/octet-stream", new Uint8Array([1, 2]), { id: `${step.workflow.id}-blob` });
          step.result(ref.id);
        }));
        rt.registerPackage(newPackage("stores").entrypoint((run) => void run.step("s", null, { kind: "store" })).build());
        await rt.startRun("stores", null, { runId: "old" });
        await rt.runOnce();
        const cutoff = new Date(h().now + 1);
        h().advance(1_000);
        await rt.startRun("stores", null, { runId: "new" });
        await rt.runOnce();
        expect(await rt.purge({ finishedBefore: cutoff })).toBe(1);
        expect(await rejectionCode(artifactStore.open("old-blob"))).toBe("not_found");
        const kept = await artifactStore.open("new-blob");
        (kept.stream as NodeJS.ReadableStream & { destroy(): void }).destroy();
        expect(kept.ref.size).toBe(2);
        expect(h().errors).toEqual([]);
      } finally {
        fs.rmSync(root, { recursive: true, force: true });
      }
    });

    it("purges by status past a batch of other finished runs", async () => {
      const rt = await h().runtime();
      registerOk(rt);
      rt.registerPackage(newPackage("f").entrypoint((run) => void run.step("s", null, { kind: "fail" })).build());
      rt.registerPackage(newPackage("k").entrypoint((run) => void run.step("s", null, { kind: "ok" })).build());
      // More failed runs than one purge batch (500), all older than the one that succeeded.
      await rt.startRuns("f", Array.from({ length: 520 }, (_, i) => ({ input: null, runId: `f${i}` })));
      await rt.runOnce();
      h().advance(10);
      await rt.startRun("k", null, { runId: "ok" });
      await rt.runOnce();
      h().advance(10);
      expect(await rt.purge({ finishedBefore: new Date(h().now), statuses: ["succeeded"] })).toBe(1);
      expect(await rt.workflow("ok")).toBeUndefined();
      expect(await rt.purge({ finishedBefore: new Date(h().now), statuses: ["failed"] })).toBe(520);
      expect(await rt.listRuns()).toEqual([]);
    });

    it("keeps a finished child run while its parent is unfinished", async () => {
      const rt = await h().runtime();
      registerOk(rt);
      rt.registerPackage(newPackage("leaf").entrypoint((run) => void run.output(run.step("s", 7, { kind: "ok" }))).build());
      rt.registerPackage(
        newPackage("parent")
          .entrypoint((run) => {
            const c = run.childRun("c", "leaf", null);
            run.waitForSignal("hold", "go", { dependsOn: requireSteps(c) });
          })
          .build(),
      );
      await rt.startRun("parent", null, { runId: "p" });
      await rt.runOnce();
      expect((await rt.workflow("p/c"))?.status).toBe("succeeded");
      expect((await rt.workflow("p"))?.status).toBe("running");
      h().advance(1_000);
      expect(await rt.purge({ finishedBefore: new Date(h().now) })).toBe(0);
      expect((await rt.workflow("p/c"))?.status).toBe("succeeded");
      await rt.signal("p", "go");
      await rt.runOnce();
      h().advance(1_000);
      expect(await rt.purge({ finishedBefore: new Date(h().now) })).toBe(2);
    });

    it("purges old runs periodically while workers run (retention)", async () => {
      const rt = await h().runtime({ clock: Date.now, retention: { maxAge: 1, interval: 20 }, pollInterval: 10 });
      registerOk(rt);
      rt.registerPackage(newPackage("short").entrypoint((run) => void run.step("s", null, { kind: "ok" })).build());
      await rt.startRun("short", null, { runId: "r" });
      const ac = new AbortController();
      const workers = rt.startWorkers({ signal: ac.signal });
      await waitUntil(async () => (await rt.listRuns()).length === 0, "retention to purge the finished run");
      ac.abort();
      await workers;
    });
  });
}
