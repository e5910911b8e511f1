/** Conformance: executing graphs, emitted children, outcomes, values, artifacts, projections. */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { text } from "node:stream/consumers";
import { describe, expect, it } from "./runner.js";
import { z } from "zod";
import { FileArtifactStore } from "../artifacts/file-artifact-store.js";
import { WorkflowError, permanent } from "../errors.js";
import { newExecutor, newTypedExecutor } from "../executor.js";
import { newPackage } from "../package.js";
import { SQLiteProjectionStore } from "../projections/sqlite-projection-store.js";
import { requireSteps } from "../step-options.js";
import type { StepContext } from "../step-context.js";
import { type ConformanceTarget, rejectionCode, useHarness } from "./harness.js";

const oneStep = (kind: string, input: unknown = null) =>
  newPackage(`one:${kind}`)
    .entrypoint((run) => void run.step("s", input, { kind }))
    .build();

export function executionSuite(target: ConformanceTarget): void {
  describe("executing steps", () => {
    const h = useHarness(target);

    it("runs a chain in dependency order and hands data along", async () => {
      const rt = await h().runtime();
      const order: string[] = [];
      rt.registerExecutor(newExecutor("add", async (step) => {
        order.push(step.step.id);
        const prev = step.step.dependsOn[0] ? await step.dependencyData<number>(step.step.dependsOn[0].stepId) : 0;
        step.result(prev + step.input<number>());
      }));
      rt.registerPackage(
        newPackage("chain")
          .entrypoint((run) => {
            // Declared out of order on purpose: dependencies may point forward.
            run.step("c", 100, { kind: "add", dependsOn: requireSteps("b") });
            const a = run.step("a", 1, { kind: "add" });
            run.step("b", 10, { kind: "add", dependsOn: requireSteps(a) });
          })
          .build(),
      );
      await rt.startRun("chain", null, { runId: "r" });
      const cycle = await rt.runOnce();
      expect(cycle).toEqual({ claimed: 3, processed: 3, succeeded: 3, failed: 0, reclaimed: 0 });
      expect(order).toEqual(["a", "b", "c"]);
      expect((await rt.result("r", "c"))?.data).toBe(111);
      expect((await rt.workflow("r"))?.status).toBe("succeeded");
      const steps = await rt.steps("r");
      expect(steps.every((s) => s.status === "succeeded" && s.attempt === 1 && s.finishedAt && s.startedAt)).toBe(true);
      expect(steps.every((s) => s.lease === undefined)).toBe(true);
    });

    it("runs emitted children in the same cycle, with their own dependencies, and joins them", async () => {
      const rt = await h().runtime({ maxWorkers: 8 });
      rt.registerExecutor(newExecutor("parent", async (step) => {
        const kids = [0, 1, 2, 3, 4].map((i) => step.emit(`child-${i}`, i, { kind: "child" }));
        step.emit("join", null, { kind: "join", dependsOn: requireSteps(...kids) });
        step.result({ kids: kids.length });
      }));
      rt.registerExecutor(newExecutor("child", async (step) => step.result(step.input<number>() * 2)));
      rt.registerExecutor(newExecutor("join", async (step) => {
        let sum = 0;
        for (const d of step.step.dependsOn) sum += await step.dependencyData<number>(d.stepId);
        step.result(sum);
      }));
      rt.registerPackage(oneStep("parent"));
      await rt.startRun("one:parent", null, { runId: "fan" });
      const cycle = await rt.runOnce();
      expect(cycle.succeeded).toBe(7);
      expect((await rt.result("fan", "join"))?.data).toBe(20);
      const parent = await rt.result("fan", "s");
      expect(parent?.emittedIds).toEqual(["child-0", "child-1", "child-2", "child-3", "child-4", "join"]);
      const child = (await rt.steps("fan")).find((s) => s.id === "child-3");
      expect(child?.parentId).toBe("s");
      expect((await rt.workflow("fan"))?.status).toBe("succeeded");
    });

    it("persists nothing a failed attempt produced", async () => {
      const rt = await h().runtime();
      rt.registerExecutor(newExecutor("half", async (step) => {
        step.emit("kid", null, { kind: "half" });
        step.record("c", "k", 1);
        step.artifact("a.txt", "text/plain", "x");
        step.result("partial");
        throw permanent("nope", new Error("changed my mind"));
      }));
      rt.registerPackage(oneStep("half"));
      await rt.startRun("one:half", null, { runId: "r" });
      await rt.runOnce();
      expect((await rt.steps("r")).map((s) => s.id)).toEqual(["s"]);
      const result = await rt.result("r", "s");
      expect(result?.data).toBeUndefined();
      expect(result?.records).toEqual([]);
      expect(result?.artifacts).toEqual([]);
      expect(result?.error).toMatchObject({ code: "nope", message: "changed my mind", retryable: false });
      expect((await rt.workflow("r"))?.status).toBe("failed");
    });

    it("fails a step whose emitted graph does not fit the run, and keeps working", async () => {
      const rt = await h().runtime();
      rt.registerExecutor(newExecutor("reuse", async (step) => void step.emit("s", null, { kind: "noop" })));
      rt.registerExecutor(newExecutor("dangling", async (step) => void step.emit("k", null, { kind: "noop", dependsOn: requireSteps("ghost") })));
      rt.registerExecutor(newExecutor("loop", async (step) => {
        step.emit("x", null, { kind: "noop", dependsOn: requireSteps("y") });
        step.emit("y", null, { kind: "noop", dependsOn: requireSteps("x") });
      }));
      rt.registerExecutor(newExecutor("twice", async (step) => {
        step.emit("x", null, { kind: "noop" });
        step.emit("x", null, { kind: "noop" });
      }));
      rt.registerExecutor(newExecutor("noop", async () => {}));
      for (const kind of ["reuse", "dangling", "loop", "twice", "noop"]) {
        rt.registerPackage(oneStep(kind));
        await rt.startRun(`one:${kind}`, null, { runId: kind });
      }
      const cycle = await rt.runOnce();
      expect(cycle.succeeded).toBe(1);
      expect(cycle.failed).toBe(4);
      const codes = await Promise.all(["reuse", "dangling", "loop", "twice"].map(async (r) => (await rt.result(r, "s"))?.error?.code));
      expect(codes).toEqual(["duplicate_step", "unknown_dependency", "dependency_cycle", "duplicate_step"]);
      for (const r of ["reuse", "dangling", "loop", "twice"]) expect((await rt.steps(r)).map((s) => s.id)).toEqual(["s"]);
      expect((await rt.workflow("noop"))?.status).toBe("succeeded");
    });

    it("does not create a second step with a dedupKey already taken in the run", async () => {
      const rt = await h().runtime();
      rt.registerExecutor(newExecutor("noop", async () => {}));
      rt.registerExecutor(newExecutor("emitter", async (step) => {
        step.emit("again", null, { kind: "noop", dedupKey: "charge-card" });
        step.emit("after", null, { kind: "noop", dependsOn: requireSteps("again") });
      }));
      rt.registerPackage(
        newPackage("d")
          .entrypoint((run) => {
            run.step("charge", null, { kind: "noop", dedupKey: "charge-card" });
            run.step("charge2", null, { kind: "noop", dedupKey: "charge-card" });
            run.step("e", null, { kind: "emitter" });
          })
          .build(),
      );
      await rt.startRun("d", null, { runId: "r" });
      await rt.runOnce();
      const steps = await rt.steps("r");
      expect(steps.map((s) => s.id).sort()).toEqual(["after", "charge", "e"]);
      // "after" waited for the step holding the key.
      expect(steps.find((s) => s.id === "after")?.dependsOn).toEqual([{ stepId: "charge", required: true, on: "succeeded" }]);
      expect((await rt.result("r", "e"))?.emittedIds).toEqual(["after"]);
      expect((await rt.workflow("r"))?.status).toBe("succeeded");
    });

    it("skips the dependents of a failed step, runs the ones waiting for it to complete, and finishes independent branches", async () => {
      const rt = await h().runtime();
      const ran: string[] = [];
      rt.registerExecutor(newExecutor("ok", async (step) => void ran.push(step.step.id)));
      rt.registerExecutor(newExecutor("bad", async () => {
        throw permanent("broken", new Error("broken"));
      }));
      rt.registerExecutor(newExecutor("peek", async (step) => {
        ran.push(step.step.id);
        await expect(step.dependencyResult("no-such-step")).rejects.toMatchObject({ code: "not_found" });
        const dep = await step.dependencyResult("bad");
        step.result(dep.error?.code);
        await expect(step.dependencyData("bad")).rejects.toMatchObject({ code: "invalid_state" });
      }));
      rt.registerPackage(
        newPackage("p")
          .entrypoint((run) => {
            const bad = run.step("bad", null, { kind: "bad" });
            const child = run.step("child", null, { kind: "ok", dependsOn: requireSteps(bad) });
            run.step("grandchild", null, { kind: "ok", dependsOn: requireSteps(child) });
            // Waits for "bad" to finish in any state (required: false = on: "completed")...
            run.step("optional", null, { kind: "peek", dependsOn: [{ stepId: "bad", required: false }] });
            // ...but not for a step that never ran: a skipped dependency satisfies no edge.
            run.step("after-skipped", null, { kind: "ok", dependsOn: [{ stepId: "grandchild", required: false }] });
            run.step("independent", null, { kind: "ok" });
          })
          .build(),
      );
      await rt.startRun("p", null, { runId: "r" });
      await rt.runOnce();
      const status = Object.fromEntries((await rt.steps("r")).map((s) => [s.id, s.status]));
      expect(status).toEqual({ bad: "failed", child: "skipped", grandchild: "skipped", optional: "succeeded", "after-skipped": "skipped", independent: "succeeded" });
      expect(ran.sort()).toEqual(["independent", "optional"]);
      expect((await rt.result("r", "optional"))?.data).toBe("broken");
      expect(await rt.result("r", "child")).toBeUndefined();
      // "optional" handles the failure of "bad" (see the branches suite for a run that fails).
      expect((await rt.workflow("r"))?.status).toBe("succeeded");
    });

    it("leaves an unknown kind ready; classifies failures: typed input, plain errors, thrown values, unserializable results", async () => {
      const rt = await h().runtime();
      rt.registerExecutor(newTypedExecutor("typed", z.object({ n: z.number() }), async (step, input) => step.result(input.n)));
      rt.registerExecutor(newExecutor("plain", async () => {
        throw new Error("plain");
      }));
      rt.registerExecutor(newExecutor("string", async () => {
        throw "just a string";
      }));
      rt.registerExecutor(newExecutor("fn", async (step) => step.result({ f: () => 1 })));
      rt.registerExecutor(newExecutor("custom", async () => {
        throw new WorkflowError("quota", "over quota", { retryable: false, details: { used: 11n } });
      }));
      const runs = { ghost: "no-such-kind", typed: "typed", plain: "plain", string: "string", fn: "fn", custom: "custom" };
      for (const [runId, kind] of Object.entries(runs)) {
        rt.registerPackage(newPackage(runId).entrypoint((run) => void run.step("s", { n: "NaN" }, { kind })).build());
        await rt.startRun(runId, null, { runId });
      }
      rt.registerPackage(newPackage("good").entrypoint((run) => void run.step("s", { n: 7 }, { kind: "typed" })).build());
      await rt.startRun("good", null, { runId: "good" });
      const cycle = await rt.runOnce();
      // A kind no executor here runs is not claimed: it stays ready for a process that has one.
      expect(cycle).toMatchObject({ processed: 6, succeeded: 1, failed: 5 });
      const error = async (runId: string) => (await rt.result(runId, "s"))?.error;
      expect(await error("ghost")).toBeUndefined();
      expect((await rt.steps("ghost")).map((s) => [s.status, s.attempt])).toEqual([["ready", 0]]);
      const typed = await error("typed");
      expect(typed).toMatchObject({ code: "invalid_input", retryable: false });
      expect(Array.isArray(typed?.details)).toBe(true);
      expect(await error("plain")).toMatchObject({ code: "error", message: "plain", retryable: true });
      expect(await error("string")).toMatchObject({ code: "error", retryable: true });
      expect(await error("fn")).toMatchObject({ code: "unserializable_result", retryable: false });
      expect(await error("custom")).toMatchObject({ code: "quota", details: { used: 11n } });
      expect((await rt.result("good", "s"))?.data).toBe(7);
      expect((await error("custom"))?.occurredAt).toEqual(new Date(h().now));
    });

    it("round-trips Date, Map, Set, BigInt and undefined through inputs and results", async () => {
      const rt = await h().runtime();
      const value = { at: new Date("2026-03-04T05:06:07.089Z"), m: new Map([["k", 1n]]), s: new Set([1, 2]), u: undefined, big: 2n ** 70n };
      let seen: unknown;
      rt.registerExecutor(newExecutor("echo", async (step) => {
        seen = step.input();
        step.result(step.input());
      }));
      rt.registerPackage(newPackage("v").entrypoint((run, input) => void run.step("s", input, { kind: "echo" })).build());
      await rt.startRun("v", value, { runId: "r" });
      await rt.runOnce();
      expect(seen).toEqual(value);
      const data = (await rt.result("r", "s"))?.data as typeof value;
      expect(data).toEqual(value);
      expect(data.at).toBeInstanceOf(Date);
      expect("u" in data).toBe(true);
      expect((await rt.workflow("r"))?.input).toEqual(value);
    });

    it("exposes the step, the run, the lease and the attempt to the executor", async () => {
      const rt = await h().runtime({ workerId: "worker-a", leaseDuration: 60_000 });
      let view: Pick<StepContext, "step" | "workflow" | "lease" | "now" | "attempt"> | undefined;
      rt.registerExecutor(newExecutor("look", async (step) => {
        view = { step: step.step, workflow: step.workflow, lease: step.lease, now: step.now, attempt: step.attempt };
        expect(step.signal.aborted).toBe(false);
      }));
      rt.registerPackage(newPackage("p").entrypoint((run) => void run.step("s", 5, { kind: "look", queue: "default", metadata: { a: "b" } })).build());
      await rt.startRun("p", { x: 1 }, { runId: "r", metadata: { m: "1" } });
      await rt.runOnce();
      expect(view?.step).toMatchObject({ runId: "r", id: "s", kind: "look", status: "running", attempt: 1, metadata: { a: "b" } });
      expect(view?.workflow).toMatchObject({ id: "r", package: "p", input: { x: 1 }, metadata: { m: "1" } });
      expect(view?.lease.workerId).toBe("worker-a");
      expect(view?.lease.expiresAt.getTime()).toBe(h().now + 60_000);
      expect(view?.now).toEqual(new Date(h().now));
      expect(view?.attempt).toBe(1);
    });

    it("keeps records and inline artifacts with the result, and stored artifacts in the artifact store", async () => {
      const root = fs.mkdtempSync(path.join(os.tmpdir(), "trellis-artifacts-"));
      try {
        const rt = await h().runtime({ artifactStore: new FileArtifactStore(root) });
        rt.registerExecutor(newExecutor("art", async (step) => {
          step.record("orders", "o-1", { total: 3 });
          const inline = step.artifact("report.md", "text/markdown", "# hi", { metadata: { lang: "en" } });
          const stored = await step.storeArtifact("blob.bin", "application/octet-stream", new Uint8Array([1, 2, 3]));
          step.result({ inline, stored: stored.id });
        }));
        rt.registerPackage(oneStep("art"));
        await rt.startRun("one:art", null, { runId: "r" });
        await rt.runOnce();
        const result = await rt.result("r", "s");
        const { inline, stored } = result?.data as { inline: string; stored: string };
        expect(inline).toBe("s:artifact:001");
        expect(result?.records).toEqual([{ collection: "orders", key: "o-1", data: { total: 3 } }]);
        expect(result?.artifacts).toHaveLength(2);
        const inlineRef = result?.artifacts.find((a) => a.id === inline);
        expect(inlineRef).toMatchObject({ name: "report.md", kind: "text", contentType: "text/markdown", size: 4, metadata: { lang: "en" } });
        const read = await rt.readArtifact("r", inline);
        expect(new TextDecoder().decode(read.body)).toBe("# hi");
        const storedRef = result?.artifacts.find((a) => a.id === stored);
        expect(storedRef?.uri.startsWith("file://")).toBe(true);
        expect(storedRef?.size).toBe(3);
        const opened = await new FileArtifactStore(root).open(stored);
        expect(Buffer.from(await text(opened.stream), "latin1")).toEqual(Buffer.from([1, 2, 3]));
        expect(await rejectionCode(rt.readArtifact("r", "nope"))).toBe("not_found");
      } finally {
        fs.rmSync(root, { recursive: true, force: true });
      }
    });

    it("fails storeArtifact without an artifact store, and projections without a projection store", async () => {
      const rt = await h().runtime();
      rt.registerExecutor(newExecutor("art", async (step) => void (await step.storeArtifact("x", "text/plain", "x"))));
      rt.registerExecutor(newExecutor("proj", async (step) => void (await step.projection("p"))));
      rt.registerPackage(oneStep("art"));
      rt.registerPackage(oneStep("proj"));
      await rt.startRun("one:art", null, { runId: "a" });
      await rt.startRun("one:proj", null, { runId: "p" });
      await rt.runOnce();
      expect((await rt.result("a", "s"))?.error?.code).toBe("no_artifact_store");
      expect((await rt.result("p", "s"))?.error?.code).toBe("no_projection_store");
      expect(await rejectionCode(rt.projection("p"))).toBe("no_projection_store");
    });

    it("gives executors and the application the same projections", async () => {
      const root = fs.mkdtempSync(path.join(os.tmpdir(), "trellis-projections-"));
      try {
        const rt = await h().runtime({ projectionStore: new SQLiteProjectionStore(root) });
        rt.registerExecutor(newExecutor("write", async (step) => {
          const p = await step.projection("orders");
          await p.exec("CREATE TABLE IF NOT EXISTS totals (id TEXT PRIMARY KEY, total INTEGER)");
          await p.exec("INSERT INTO totals VALUES (?, ?)", step.step.runId, step.input<number>());
        }));
        rt.registerPackage(newPackage("w").entrypoint((run, n) => void run.step("s", n, { kind: "write" })).build());
        await rt.startRun("w", 5, { runId: "r1" });
        await rt.startRun("w", 7, { runId: "r2" });
        await rt.runOnce();
        const rows = await (await rt.projection("orders")).query<{ id: string; total: number }>("SELECT * FROM totals ORDER BY id");
        expect(rows).toEqual([
          { id: "r1", total: 5 },
          { id: "r2", total: 7 },
        ]);
        expect(await rejectionCode(rt.projection("../escape"))).toBe("invalid_name");
        // Artifact names too: the step fails with invalid_name and stores nothing.
        rt.registerExecutor(newExecutor("escape", async (step) => void step.artifact("../escape", "text/plain", "x")));
        rt.registerPackage(newPackage("e").entrypoint((run) => void run.step("s", null, { kind: "escape" })).build());
        await rt.startRun("e", null, { runId: "escape" });
        await rt.runOnce();
        const escaped = await rt.result("escape", "s");
        expect(escaped?.error?.code).toBe("invalid_name");
        expect(escaped?.artifacts).toEqual([]);
      } finally {
        fs.rmSync(root, { recursive: true, force: true });
      }
    });
  });
}
