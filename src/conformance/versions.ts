/**
 * Conformance: versioned packages and the kinds a worker runs. A claim that
 * names kinds leases only steps of those kinds (the others stay ready for a
 * worker that has them), the ready steps per kind are counted, and a run keeps
 * the package version it started with: its steps run on that version's code
 * after a newer one is registered, in this process or another.
 */
import { describe, expect, it } from "./runner.js";
import type { Runtime } from "../engine/runtime.js";
import { newExecutor } from "../executor.js";
import { newPackage } from "../package.js";
import type { NewRun, NewStep, StartLease } from "../store/store.js";
import { type ConformanceTarget, useHarness } from "./harness.js";

const RETRY = { maxAttempts: 1, backoff: "fixed", initialBackoff: 0, multiplier: 1, jitter: false } as const;
const unlimited = () => ({ maxWorkers: Infinity });

function step(id: string, kind: string, extra: Partial<NewStep> = {}): NewStep {
  return { id, kind, queue: "default", input: "null", dependsOn: [], metadata: {}, priority: 0, retry: RETRY, ...extra };
}

function newRun(id: string, now: number, steps: NewStep[]): NewRun {
  return { run: { id, package: "p", name: "p", status: "running", input: "null", metadata: {}, createdAt: now, updatedAt: now }, steps };
}

/**
 * Version `v` of package "orders": its entrypoint lays out "prepare", whose
 * executor emits "charge" (steps laid out later, by the version's own code);
 * each kind carries the version, and "charge" says which code ran it.
 */
function registerOrders(rt: Runtime, v: string, opts: { package?: boolean; executors?: boolean } = {}): void {
  if (opts.executors !== false) {
    rt.registerExecutor(newExecutor(`orders/prepare@${v}`, async (step) => void step.emit("charge", step.rawInput(), { kind: `orders/charge@${v}` })));
    rt.registerExecutor(newExecutor(`orders/charge@${v}`, async (step) => ({ code: v, runVersion: step.workflow.packageVersion })));
  }
  if (opts.package !== false) {
    rt.registerPackage(newPackage("orders").version(v).entrypoint((run, input) => void run.step("prepare", input, { kind: `orders/prepare@${v}` })).build());
  }
}

export function versionsSuite(target: ConformanceTarget): void {
  describe("package versions and the kinds a worker runs", () => {
    const h = useHarness(target);

    it("a claim with kinds leases only steps of those kinds, in every kind of queue, and leaves the rest ready", async () => {
      const store = await h().store();
      const now = h().now;
      await store.createRuns([
        newRun("r", now, [
          // A step of another kind at the head of each queue: a claim must look past it.
          step("b-head", "b", { priority: 10 }),
          step("a1", "a"),
          step("c1", "c"),
          step("a2", "a"),
          step("lim-b", "b", { queue: "limited", priority: 10 }),
          step("lim-a", "a", { queue: "limited" }),
        ]),
      ]);
      const policyFor = (queue: string) => (queue === "limited" ? { maxWorkers: 5 } : { maxWorkers: Infinity });
      const claim = (kinds: readonly string[] | undefined, workerId: string) =>
        store.claim({ workerId, limit: 100, now, leaseDuration: 30_000, policyFor, ...(kinds ? { kinds } : {}) });

      const onlyA = await claim(["a", "x"], "w-a");
      expect(onlyA.steps.map((c) => c.step.id).sort()).toEqual(["a1", "a2", "lim-a"]);
      expect(onlyA.steps.every((c) => c.step.kind === "a")).toBe(true);
      expect(await claim(["a"], "w-a2")).toMatchObject({ steps: [] });
      expect(await claim([], "w-none")).toMatchObject({ steps: [] });
      const byId = async () => Object.fromEntries((await store.getSteps("r")).map((s) => [s.id, [s.status, s.attempt]]));
      expect(await byId()).toEqual({
        "b-head": ["ready", 0], a1: ["running", 1], c1: ["ready", 0], a2: ["running", 1], "lim-b": ["ready", 0], "lim-a": ["running", 1],
      });

      const onlyB = await claim(["b"], "w-b");
      expect(onlyB.steps.map((c) => c.step.id).sort()).toEqual(["b-head", "lim-b"]);
      // No kinds named: any kind (what is left).
      expect((await claim(undefined, "w-any")).steps.map((c) => c.step.id)).toEqual(["c1"]);
    });

    it("counts ready steps per kind", async () => {
      const store = await h().store();
      const now = h().now;
      expect(await store.countReadyKinds()).toEqual([]);
      await store.createRuns([
        newRun("r", now, [step("a1", "a"), step("a2", "a", { queue: "q" }), step("b1", "b"), step("b2", "b", { dependsOn: [{ stepId: "b1", on: "succeeded" }] })]),
      ]);
      expect(await store.countReadyKinds()).toEqual([{ kind: "a", ready: 2 }, { kind: "b", ready: 1 }]);
      await store.claim({ workerId: "w", limit: 10, now, leaseDuration: 30_000, policyFor: unlimited, kinds: ["a"] });
      expect(await store.countReadyKinds()).toEqual([{ kind: "b", ready: 1 }]);
    });

    it("a start lease takes only steps of the kinds it accepts", async () => {
      const store = await h().store();
      const now = h().now;
      const lease: StartLease = { workerId: "w-start", now, leaseDuration: 30_000, limit: 10, eligible: (_queue, kind) => kind === "a" };
      const [created] = await store.createRuns([newRun("r", now, [step("a1", "a"), step("b1", "b")])], lease);
      if (target.startLeases) expect((created?.claimed ?? []).map((c) => c.step.id)).toEqual(["a1"]);
      expect((created?.claimed ?? []).every((c) => c.step.kind === "a")).toBe(true);
      expect((await store.getSteps("r")).find((s) => s.id === "b1")?.status).toBe("ready");
    });

    it("a run started on v1 finishes on v1's code after v2 is registered; startRun takes the newest unless told a version", async () => {
      const rt = await h().runtime();
      registerOrders(rt, "1");
      await rt.startRun("orders", { n: 1 }, { runId: "old" });
      registerOrders(rt, "2");
      await rt.startRun("orders", { n: 2 }, { runId: "new" });
      await rt.startRun("orders", { n: 3 }, { runId: "pinned", version: "1" });
      await rt.runOnce();
      for (const [runId, v] of [["old", "1"], ["new", "2"], ["pinned", "1"]] as const) {
        expect(await rt.workflow(runId)).toMatchObject({ status: "succeeded", packageVersion: v });
        expect((await rt.result(runId, "charge"))?.data).toEqual({ code: v, runVersion: v });
      }
      expect((await rt.listRuns({ package: "orders", packageVersion: "1" })).map((r) => r.id)).toEqual(["pinned", "old"]);
      expect((await rt.listRuns({ packageVersion: "2" })).map((r) => r.id)).toEqual(["new"]);
      expect(await rt.listRuns({ package: "orders", packageVersion: "3" })).toEqual([]);
    });

    it("two processes on different versions each run only the steps they have code for; missing kinds are counted, not failed", async () => {
      const oldRt = await h().runtime({ statsInterval: 100 });
      const newRt = await h().runtime({ statsInterval: 100 });
      registerOrders(oldRt, "1");
      registerOrders(newRt, "2");
      await oldRt.startRun("orders", { n: 1 }, { runId: "v1-run" });
      await newRt.startRun("orders", { n: 2 }, { runId: "v2-run" });

      // The new process runs its own run, and leaves v1's steps ready.
      expect(await newRt.runOnce()).toMatchObject({ claimed: 2, failed: 0 });
      expect(await newRt.workflow("v2-run")).toMatchObject({ status: "succeeded", packageVersion: "2" });
      expect((await oldRt.steps("v1-run")).map((s) => [s.id, s.status, s.attempt])).toEqual([["prepare", "ready", 0]]);
      expect((await newRt.stats()).missingKinds).toEqual({ "orders/prepare@1": 1 });
      expect((await oldRt.stats()).missingKinds).toEqual({});

      // The old process runs v1's steps, the one laid out later (emitted) included, on v1's code.
      await oldRt.runOnce();
      expect(await oldRt.workflow("v1-run")).toMatchObject({ status: "succeeded", packageVersion: "1" });
      expect((await oldRt.result("v1-run", "charge"))?.data).toEqual({ code: "1", runVersion: "1" });
    });

    it("an executor's aliases run the steps old runs laid out under a kind since renamed", async () => {
      const oldRt = await h().runtime();
      oldRt.registerExecutor(newExecutor("charge", async () => "old code"));
      oldRt.registerPackage(newPackage("pay").version("1").entrypoint((run) => void run.step("s", null, { kind: "charge" })).build());
      await oldRt.startRun("pay", null, { runId: "old" });

      const newRt = await h().runtime();
      newRt.registerExecutor(newExecutor("payments/charge", async (step) => `new code for ${step.step.kind}`, { aliases: ["charge"] }));
      newRt.registerPackage(newPackage("pay").version("2").entrypoint((run) => void run.step("s", null, { kind: "payments/charge" })).build());
      await newRt.startRun("pay", null, { runId: "new" });
      await newRt.runOnce();
      expect((await newRt.result("old", "s"))?.data).toBe("new code for charge");
      expect((await newRt.result("new", "s"))?.data).toBe("new code for payments/charge");
      expect((await newRt.workflow("old"))?.packageVersion).toBe("1");
    });

    it("a child run of the parent's package runs the parent's version; a process without that version leaves it to one that has it", async () => {
      const tree = (v: string) =>
        newPackage("tree")
          .version(v)
          .entrypoint((run, depth: number) => {
            if (depth > 0) run.output(run.childRun("child", "tree", depth - 1));
            else run.output(run.step("leaf", null, { kind: `leaf@${v}` }));
          })
          .build();
      const both = await h().runtime();
      both.registerExecutor(newExecutor("leaf@1", async (step) => `leaf v1 of ${step.workflow.packageVersion}`));
      both.registerExecutor(newExecutor("leaf@2", async () => "leaf v2"));
      both.registerPackage(tree("1"));
      await both.startRun("tree", 1, { runId: "t" });
      both.registerPackage(tree("2"));
      await both.runOnce();
      expect(await both.workflow("t/child")).toMatchObject({ status: "succeeded", packageVersion: "1" });
      expect(await both.output("t")).toBe("leaf v1 of 1");

      // A process with v2 only does not start a v1 child: the step waits (no attempt spent) for one that has v1.
      const onlyNew = await h().runtime();
      onlyNew.registerExecutor(newExecutor("leaf@2", async () => "leaf v2"));
      onlyNew.registerPackage(tree("2"));
      await both.startRun("tree", 1, { runId: "u", version: "1" });
      await onlyNew.runOnce();
      expect(await onlyNew.workflow("u/child")).toBeUndefined();
      expect((await onlyNew.steps("u")).map((s) => [s.id, s.status, s.attempt])).toEqual([["child", "waiting", 0]]);
      h().advance(60_000);
      await both.runOnce();
      expect(await both.workflow("u")).toMatchObject({ status: "succeeded", packageVersion: "1" });
      expect(await both.workflow("u/child")).toMatchObject({ status: "succeeded", packageVersion: "1" });
    });

    it("an operator retry runs the step again on the run's version", async () => {
      const rt = await h().runtime();
      let failing = true;
      rt.registerExecutor(newExecutor("flaky@1", async () => {
        if (failing) throw new Error("down");
        return "v1";
      }));
      rt.registerExecutor(newExecutor("flaky@2", async () => "v2"));
      rt.registerPackage(newPackage("f").version("1").entrypoint((run) => void run.step("s", null, { kind: "flaky@1" })).build());
      await rt.startRun("f", null, { runId: "r" });
      await rt.runOnce();
      expect((await rt.workflow("r"))?.status).toBe("failed");
      rt.registerPackage(newPackage("f").version("2").entrypoint((run) => void run.step("s", null, { kind: "flaky@2" })).build());
      failing = false;
      await rt.retryStep("r", "s");
      await rt.runOnce();
      expect(await rt.workflow("r")).toMatchObject({ status: "succeeded", packageVersion: "1" });
      expect((await rt.result("r", "s"))?.data).toBe("v1");
    });
  });
}
