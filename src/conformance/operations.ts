/** Conformance: operator retry and cancel, leases (fencing, reclaims), workers and shutdown. */
import { describe, expect, it } from "./runner.js";
import { permanent } from "../errors.js";
import { newExecutor } from "../executor.js";
import { newPackage } from "../package.js";
import { requireSteps } from "../step-options.js";
import { type ConformanceTarget, Gate, rejectionCode, useHarness, waitUntil } from "./harness.js";

const statuses = async (rt: { steps(id: string): Promise<{ id: string; status: string }[]> }, runId: string) =>
  Object.fromEntries((await rt.steps(runId)).map((s) => [s.id, s.status]));

export function operationsSuite(target: ConformanceTarget): void {
  describe("operator retry and cancel", () => {
    const h = useHarness(target);

    it("retryStep revives a failed step and the dependents skipped because of it", async () => {
      const rt = await h().runtime();
      let healthy = false;
      rt.registerExecutor(newExecutor("fragile", async () => {
        if (!healthy) throw permanent("down", new Error("dependency down"));
      }));
      rt.registerExecutor(newExecutor("ok", async () => {}));
      rt.registerPackage(
        newPackage("p")
          .entrypoint((run) => {
            const f = run.step("fragile", null, { kind: "fragile", retry: { maxAttempts: 2 } });
            const next = run.step("next", null, { kind: "ok", dependsOn: requireSteps(f) });
            run.step("last", null, { kind: "ok", dependsOn: requireSteps(next, "side") });
            run.step("side", null, { kind: "ok" });
          })
          .build(),
      );
      await rt.startRun("p", null, { runId: "r" });
      await rt.runOnce();
      expect(await statuses(rt, "r")).toEqual({ fragile: "failed", next: "skipped", last: "skipped", side: "succeeded" });
      expect((await rt.workflow("r"))?.status).toBe("failed");

      expect(await rejectionCode(rt.retryStep("r", "side"))).toBe("invalid_state");
      expect(await rejectionCode(rt.retryStep("r", "next"))).toBe("invalid_state");
      expect(await rejectionCode(rt.retryStep("r", "ghost"))).toBe("not_found");
      expect(await rejectionCode(rt.retryStep("ghost", "fragile"))).toBe("not_found");

      healthy = true;
      await rt.retryStep("r", "fragile");
      expect(await statuses(rt, "r")).toEqual({ fragile: "ready", next: "pending", last: "pending", side: "succeeded" });
      expect((await rt.steps("r"))[0]).toMatchObject({ attempt: 0 });
      expect((await rt.workflow("r"))?.status).toBe("running");
      await rt.runOnce();
      expect(await statuses(rt, "r")).toEqual({ fragile: "succeeded", next: "succeeded", last: "succeeded", side: "succeeded" });
      expect((await rt.steps("r"))[0]).toMatchObject({ attempt: 1 });
      expect((await rt.workflow("r"))?.status).toBe("succeeded");
    });

    it("cancelRun cancels every unfinished step, aborts running executors, and discards their late results", async () => {
      const rt = await h().runtime();
      const gate = new Gate();
      let abortReason: unknown;
      rt.registerExecutor(newExecutor("slow", async (step) => {
        step.signal.addEventListener("abort", () => (abortReason = step.signal.reason));
        await gate.pass();
        step.result("too late");
        if (step.step.id === "a") step.emit("child", null, { kind: "slow" });
      }));
      rt.registerPackage(
        newPackage("p")
          .entrypoint((run) => {
            const a = run.step("a", null, { kind: "slow" });
            run.step("b", null, { kind: "slow", dependsOn: requireSteps(a) });
          })
          .build(),
      );
      await rt.startRun("p", null, { runId: "r" });
      const cycle = rt.runOnce();
      await gate.waitFor(1);
      await rt.cancelRun("r");
      expect(abortReason).toMatchObject({ code: "invalid_state" });
      gate.open();
      expect(await cycle).toMatchObject({ claimed: 1, processed: 0 });
      expect(await statuses(rt, "r")).toEqual({ a: "canceled", b: "canceled" });
      expect(await rt.result("r", "a")).toBeUndefined();
      expect((await rt.workflow("r"))?.status).toBe("canceled");
      expect(await rejectionCode(rt.cancelRun("r"))).toBe("invalid_state");
      expect(await rejectionCode(rt.cancelRun("ghost"))).toBe("not_found");

      // A canceled step can be retried; the rest of the run stays canceled.
      await rt.retryStep("r", "a");
      expect(await statuses(rt, "r")).toEqual({ a: "ready", b: "pending" });
      await rt.runOnce();
      expect(await statuses(rt, "r")).toEqual({ a: "succeeded", b: "succeeded", child: "succeeded" });
      expect((await rt.workflow("r"))?.status).toBe("succeeded");
    });

    it("cancelRun in one runtime aborts the step running in another at its next heartbeat", async () => {
      const worker = await h().runtime({ leaseDuration: 150 });
      const admin = await h().runtime();
      let aborted!: () => void;
      const abortSeen = new Promise<void>((resolve) => (aborted = resolve));
      const started = new Gate();
      worker.registerExecutor(newExecutor("wait", async (step) => {
        step.signal.addEventListener("abort", () => aborted());
        void started.pass();
        await abortSeen;
      }));
      worker.registerPackage(newPackage("p").entrypoint((run) => void run.step("s", null, { kind: "wait" })).build());
      await worker.startRun("p", null, { runId: "r" });
      const cycle = worker.runOnce();
      await started.waitFor(1);
      await admin.cancelRun("r");
      await abortSeen;
      await cycle;
      expect((await admin.workflow("r"))?.status).toBe("canceled");
      expect(await statuses(admin, "r")).toEqual({ s: "canceled" });
    });
  });

  describe("leases", () => {
    const h = useHarness(target);

    it("fences a completion whose lease expired and was reclaimed by another worker", async () => {
      const a = await h().runtime({ workerId: "a", leaseDuration: 60_000 });
      const b = await h().runtime({ workerId: "b", leaseDuration: 60_000 });
      const gate = new Gate();
      for (const rt of [a, b]) {
        rt.registerExecutor(newExecutor("k", async (step) => {
          if (step.lease.workerId === "a") await gate.pass();
          step.result(step.lease.workerId);
          step.emit(`child-of-${step.lease.workerId}`, null, { kind: "noop" });
        }));
        rt.registerExecutor(newExecutor("noop", async () => {}));
        rt.registerPackage(newPackage("p").entrypoint((run) => void run.step("s", null, { kind: "k" })).build());
      }
      await a.startRun("p", null, { runId: "r" });
      const slow = a.runOnce();
      await gate.waitFor(1);
      h().advance(60_000); // a's lease expires (its heartbeat has not run)
      expect(await b.runOnce()).toMatchObject({ reclaimed: 1, claimed: 2, succeeded: 2 });
      gate.open();
      expect(await slow).toMatchObject({ claimed: 1, processed: 0, succeeded: 0 });
      expect((await a.result("r", "s"))?.data).toBe("b");
      expect((await a.steps("r")).map((s) => s.id)).toEqual(["s", "child-of-b"]);
      expect((await a.steps("r"))[0]).toMatchObject({ status: "succeeded", attempt: 1, reclaims: 1 });
      expect((await a.workflow("r"))?.status).toBe("succeeded");
    });

    it("knows the earliest lease expiry across queues, and reclaims from that instant on", async () => {
      const rt = await h().runtime();
      rt.registerPackage(newPackage("p").entrypoint((run, queue: string) => void run.step("s", null, { kind: "k", queue })).build());
      const store = await h().store();
      const now = h().now;
      const request = { workerId: "w", limit: 10, now, leaseDuration: 60_000, policyFor: () => ({ maxWorkers: Infinity }) };
      // The earliest expiry is in neither the first queue by name nor the last.
      for (const [queue, leaseDuration] of [["alpha", 3_000], ["beta", 1_000], ["gamma", 2_000]] as const) {
        for (let i = 0; i < 3; i++) await rt.startRun("p", queue, { runId: `${queue}-${i}` });
        expect((await store.claim({ ...request, leaseDuration })).steps.map((c) => c.run.id).sort()).toEqual([0, 1, 2].map((i) => `${queue}-${i}`));
      }
      expect((await store.claim(request)).nextDueAt).toBe(now + 1_000);
      expect(await store.reclaimExpired(now + 999, 3)).toEqual({ reclaimed: 0, failed: 0 });
      expect(await store.reclaimExpired(now + 1_000, 3)).toEqual({ reclaimed: 3, failed: 0 });
      // beta's steps are ready again (this worker leaves them: not its kind); gamma's lease is next.
      expect((await store.claim({ ...request, now: now + 1_000, kinds: ["other"] })).nextDueAt).toBe(now + 2_000);
    });

    it("fails a step with lease_expired once its lease expired more than maxReclaims times", async () => {
      const config = { leaseDuration: 1000, maxReclaims: 1 };
      const hang = new Gate();
      const runtimes = [await h().runtime(config), await h().runtime(config), await h().runtime(config)];
      for (const rt of runtimes) {
        rt.registerExecutor(newExecutor("hang", () => hang.pass()));
        rt.registerExecutor(newExecutor("after", async () => {}));
        rt.registerPackage(
          newPackage("p")
            .entrypoint((run) => {
              const s = run.step("s", null, { kind: "hang" });
              run.step("after", null, { kind: "after", dependsOn: requireSteps(s) });
            })
            .build(),
        );
      }
      const [first, second, third] = runtimes;
      await first!.startRun("p", null, { runId: "r" });
      const cycles = [first!.runOnce()];
      await hang.waitFor(1);
      h().advance(1000);
      cycles.push(second!.runOnce()); // reclaim 1, runs it again
      await hang.waitFor(2);
      h().advance(1000);
      expect(await third!.runOnce()).toMatchObject({ reclaimed: 1, claimed: 0 });
      const [step] = await third!.steps("r");
      expect(step).toMatchObject({ status: "failed", reclaims: 1, lastError: { code: "lease_expired", retryable: false } });
      expect(await statuses(third!, "r")).toEqual({ s: "failed", after: "skipped" });
      expect((await third!.workflow("r"))?.status).toBe("failed");
      hang.open();
      await Promise.all(cycles);
      expect((await third!.steps("r"))[0]?.status).toBe("failed");
    });
  });

  describe("workers", () => {
    const h = useHarness(target);

    it("wake at once on a new run instead of waiting for the poll interval", async () => {
      // With an hour-long poll interval, only the wake-up can make this run finish.
      const rt = await h().runtime({ pollInterval: 3_600_000 });
      rt.registerExecutor(newExecutor("k", async (step) => step.result(step.input())));
      rt.registerPackage(newPackage("p").entrypoint((run, n) => {
        const a = run.step("a", n, { kind: "k" });
        run.step("b", n, { kind: "k", dependsOn: requireSteps(a) });
      }).build());
      const ac = new AbortController();
      const workers = rt.startWorkers({ signal: ac.signal });
      for (let i = 0; i < 3; i++) {
        await rt.startRun("p", i, { runId: `r${i}` });
        await waitUntil(async () => (await rt.workflow(`r${i}`))?.status === "succeeded", `run r${i}`);
      }
      ac.abort();
      await workers;
    });

    it("runs up to maxWorkers steps at once", async () => {
      const rt = await h().runtime({ maxWorkers: 3 });
      const gate = new Gate();
      rt.registerExecutor(newExecutor("k", () => gate.pass()));
      rt.registerPackage(newPackage("p").entrypoint((run) => {
        for (let i = 0; i < 5; i++) run.step(`s${i}`, null, { kind: "k" });
      }).build());
      await rt.startRun("p", null, { runId: "r" });
      const ac = new AbortController();
      const workers = rt.startWorkers({ signal: ac.signal });
      await gate.waitFor(3);
      // The other two are leased (a local buffer) but wait for a free worker.
      expect((await rt.steps("r")).filter((s) => s.status === "running")).toHaveLength(5);
      expect(gate.entered).toBe(3);
      gate.open();
      await waitUntil(async () => (await rt.workflow("r"))?.status === "succeeded", "the run");
      expect(gate.maxInside).toBe(3);
      ac.abort();
      await workers;
    });

    it("on abort gives back at once the steps leased but not started, while the running ones finish", async () => {
      const rt = await h().runtime({ maxWorkers: 2 });
      const gate = new Gate();
      rt.registerExecutor(newExecutor("k", () => gate.pass()));
      rt.registerPackage(newPackage("p").entrypoint((run) => {
        for (let i = 0; i < 6; i++) run.step(`s${i}`, null, { kind: "k" });
      }).build());
      await rt.startRun("p", null, { runId: "r" });
      const ac = new AbortController();
      const workers = rt.startWorkers({ signal: ac.signal });
      await gate.waitFor(2);
      const running = async () => (await rt.steps("r")).filter((s) => s.status === "running").length;
      await waitUntil(async () => (await running()) > 2, "a step leased beyond the two running (a local buffer)");
      ac.abort();
      // Other workers can take the buffered ones while the first two still run.
      await waitUntil(async () => (await running()) === 2, "the buffered steps given back");
      expect(gate.entered).toBe(2);
      const ready = (await rt.steps("r")).filter((s) => s.status === "ready");
      expect(ready).toHaveLength(4);
      expect(ready.every((s) => s.attempt === 0)).toBe(true);
      gate.open();
      await workers;
      expect((await rt.steps("r")).map((s) => s.status).sort()).toEqual(["ready", "ready", "ready", "ready", "succeeded", "succeeded"]);
    });

    it("on abort lets in-flight steps finish, and past the grace period aborts them and gives their leases back", async () => {
      const rt = await h().runtime();
      const polite = new Gate();
      const stubborn = new Gate();
      let stubbornSignal: AbortSignal | undefined;
      rt.registerExecutor(newExecutor("polite", async (step) => {
        await polite.pass();
        step.result("finished");
      }));
      rt.registerExecutor(newExecutor("stubborn", async (step) => {
        stubbornSignal = step.signal;
        await stubborn.pass();
      }));
      rt.registerPackage(newPackage("p").entrypoint((run, kind) => void run.step("s", null, { kind: kind as string })).build());
      await rt.startRun("p", "polite", { runId: "polite" });
      let ac = new AbortController();
      let workers = rt.startWorkers({ signal: ac.signal });
      await polite.waitFor(1);
      ac.abort();
      polite.open();
      await workers;
      expect((await rt.result("polite", "s"))?.data).toBe("finished");

      await rt.startRun("p", "stubborn", { runId: "stubborn" });
      ac = new AbortController();
      workers = rt.startWorkers({ signal: ac.signal, shutdownGrace: 20 });
      await stubborn.waitFor(1);
      ac.abort();
      await workers;
      expect(stubbornSignal?.aborted).toBe(true);
      expect((await rt.steps("stubborn"))[0]).toMatchObject({ status: "ready", attempt: 0 });
      stubborn.open();
      expect((await rt.runOnce()).succeeded).toBe(1);
      expect((await rt.workflow("stubborn"))?.status).toBe("succeeded");
      await rt.close();
      expect(h().errors).toEqual([]); // the abandoned attempt wrote nothing, not even after close
    });

    it("runs one loop at a time, and stops after maxCycles", async () => {
      const rt = await h().runtime();
      rt.registerExecutor(newExecutor("k", async () => {}));
      rt.registerPackage(newPackage("p").entrypoint((run) => void run.step("s", null, { kind: "k" })).build());
      await rt.startRun("p", null, { runId: "r" });
      const ac = new AbortController();
      const workers = rt.startWorkers({ signal: ac.signal, maxCycles: 1 });
      expect(await rejectionCode(rt.startWorkers())).toBe("invalid_state");
      await workers; // one cycle: claims the step, lets it finish, returns without an abort
      expect((await rt.workflow("r"))?.status).toBe("succeeded");
    });

    it("close gives back the leases of steps that outlive its grace period", async () => {
      const rt = await h().runtime();
      const hang = new Gate();
      rt.registerExecutor(newExecutor("hang", () => hang.pass()));
      rt.registerPackage(newPackage("p").entrypoint((run) => void run.step("s", null, { kind: "hang" })).build());
      await rt.startRun("p", null, { runId: "r" });
      void rt.runOnce();
      await hang.waitFor(1);
      await rt.close({ shutdownGrace: 10 });
      const other = await h().runtime();
      expect((await other.steps("r"))[0]).toMatchObject({ status: "ready", attempt: 0 });
      hang.open();
    });

    it("refuses work after close, and close is idempotent", async () => {
      const rt = await h().runtime();
      await rt.close();
      await rt.close();
      expect(await rejectionCode(rt.runOnce())).toBe("runtime_closed");
      expect(await rejectionCode(rt.startRun("p", null))).toBe("runtime_closed");
    });
  });
}
