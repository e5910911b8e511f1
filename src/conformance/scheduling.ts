/** Conformance: retries on a clock, queue limits and rate limits across runtimes, FIFO order. */
import { describe, expect, it } from "./runner.js";
import { WorkflowError, retryable } from "../errors.js";
import { newExecutor } from "../executor.js";
import { newPackage } from "../package.js";
import type { RetryPolicy } from "../retry.js";
import { type ConformanceTarget, Gate, useHarness } from "./harness.js";

export function schedulingSuite(target: ConformanceTarget): void {
  describe("retries", () => {
    const h = useHarness(target);

    const flaky = (failures: number, retry: RetryPolicy) =>
      newPackage("flaky")
        .entrypoint((run) => void run.step("s", failures, { kind: "flaky", retry }))
        .build();

    it("retries a retryable failure after the backoff, on the clock", async () => {
      const rt = await h().runtime();
      const attempts: number[] = [];
      rt.registerExecutor(newExecutor("flaky", async (step) => {
        attempts.push(step.attempt);
        if (step.attempt <= step.input<number>()) throw retryable("busy", new Error(`attempt ${step.attempt}`));
        step.result("done");
      }));
      rt.registerPackage(flaky(2, { maxAttempts: 3, backoff: "exponential", initialBackoff: 1000, multiplier: 3 }));
      await rt.startRun("flaky", null, { runId: "r" });
      const t0 = h().now;

      expect(await rt.runOnce()).toMatchObject({ claimed: 1, failed: 1 });
      let [step] = await rt.steps("r");
      expect(step).toMatchObject({ status: "ready", attempt: 1, lastError: { code: "busy", message: "attempt 1", retryable: true } });
      expect(step?.readyAt?.getTime()).toBe(t0 + 1000);
      expect((await rt.result("r", "s"))?.error?.code).toBe("busy");

      h().advance(999);
      expect((await rt.runOnce()).claimed).toBe(0);
      h().advance(1);
      expect(await rt.runOnce()).toMatchObject({ claimed: 1, failed: 1 });
      [step] = await rt.steps("r");
      expect(step?.readyAt?.getTime()).toBe(t0 + 1000 + 3000); // initial * multiplier^(2-1)

      h().advance(2999);
      expect((await rt.runOnce()).claimed).toBe(0);
      h().advance(1);
      expect(await rt.runOnce()).toMatchObject({ claimed: 1, succeeded: 1 });
      expect(attempts).toEqual([1, 2, 3]);
      const retries = (await rt.events("r")).filter((e) => e.type === "step_retry_scheduled");
      expect(retries.map((e) => e.data)).toEqual([{ readyAt: t0 + 1000 }, { readyAt: t0 + 1000 + 3000 }]);
      expect((await rt.steps("r"))[0]).toMatchObject({ status: "succeeded", attempt: 3 });
      expect((await rt.result("r", "s"))?.error).toBeUndefined();
      expect((await rt.workflow("r"))?.status).toBe("succeeded");
    });

    it("fails for good when attempts run out, on a permanent error, and by default after one attempt", async () => {
      const rt = await h().runtime();
      rt.registerExecutor(newExecutor("flaky", async (step) => {
        const mode = step.input<string>();
        if (mode === "permanent") throw new WorkflowError("fatal", "no", { retryable: false });
        throw new Error("again");
      }));
      for (const [runId, input, retry] of [
        ["exhausted", "plain", { maxAttempts: 2, backoff: "fixed", initialBackoff: 10 }],
        ["permanent", "permanent", { maxAttempts: 5 }],
        ["default", "plain", undefined],
      ] as const) {
        rt.registerPackage(newPackage(runId).entrypoint((run) => void run.step("s", input, { kind: "flaky", ...(retry ? { retry } : {}) })).build());
        await rt.startRun(runId, null, { runId });
      }
      await rt.runOnce();
      h().advance(10);
      await rt.runOnce();
      const info = async (runId: string) => (await rt.steps(runId))[0];
      expect(await info("exhausted")).toMatchObject({ status: "failed", attempt: 2, maxAttempts: 2, lastError: { code: "error" } });
      expect(await info("permanent")).toMatchObject({ status: "failed", attempt: 1, lastError: { code: "fatal", retryable: false } });
      expect(await info("default")).toMatchObject({ status: "failed", attempt: 1, maxAttempts: 1 });
      for (const runId of ["exhausted", "permanent", "default"]) expect((await rt.workflow(runId))?.status).toBe("failed");
    });
  });

  describe("queues", () => {
    const h = useHarness(target);

    const blockedSteps = (queue: string, count: number) =>
      newPackage(`q:${queue}`)
        .entrypoint((run) => {
          for (let i = 0; i < count; i++) run.step(`s${i}`, null, { kind: "gated", queue });
        })
        .build();

    it("runs one step at a time in an unconfigured queue, and up to maxWorkers in the default queue", async () => {
      const rt = await h().runtime({ maxWorkers: 8 });
      const gates = { lonely: new Gate(), default: new Gate() };
      rt.registerExecutor(newExecutor("gated", async (step) => gates[step.step.queue as keyof typeof gates].pass()));
      rt.registerPackage(blockedSteps("lonely", 3));
      rt.registerPackage(blockedSteps("default", 10));
      await rt.startRun("q:lonely", null);
      await rt.startRun("q:default", null);
      const cycle = rt.runOnce();
      await gates.lonely.waitFor(1);
      await gates.default.waitFor(7);
      gates.lonely.open();
      gates.default.open();
      expect((await cycle).succeeded).toBe(13);
      expect(gates.lonely.maxInside).toBe(1);
      expect(gates.default.maxInside).toBe(7);
    });

    it("holds maxWorkers across runtimes sharing the store", async () => {
      const config = { maxWorkers: 4, queues: { pair: { maxWorkers: 2 } } };
      const a = await h().runtime(config);
      const b = await h().runtime(config);
      const gate = new Gate();
      for (const rt of [a, b]) {
        rt.registerExecutor(newExecutor("gated", () => gate.pass()));
        rt.registerPackage(blockedSteps("pair", 6));
      }
      await a.startRun("q:pair", null, { runId: "r" });
      const first = a.runOnce();
      await gate.waitFor(2);
      // Both slots of the queue are taken by the other runtime: this one claims nothing.
      expect(await b.runOnce()).toMatchObject({ claimed: 0 });
      gate.open();
      await first;
      expect(gate.maxInside).toBe(2);
      expect((await a.workflow("r"))?.status).toBe("succeeded");
    });

    it("paces a rate-limited queue with a token bucket shared across runtimes", async () => {
      const config = { maxWorkers: 8, queues: { api: { rateLimit: { ratePerSecond: 2, burst: 2 } } } };
      const a = await h().runtime(config);
      const b = await h().runtime(config);
      for (const rt of [a, b]) {
        rt.registerExecutor(newExecutor("gated", async () => {}));
        rt.registerPackage(blockedSteps("api", 6));
      }
      await a.startRun("q:api", null, { runId: "r" });
      expect((await a.runOnce()).claimed).toBe(2); // the burst
      expect((await b.runOnce()).claimed).toBe(0); // same bucket
      h().advance(499);
      expect((await b.runOnce()).claimed).toBe(0);
      h().advance(1);
      expect((await b.runOnce()).claimed).toBe(1); // 2 per second: one token per 500 ms
      h().advance(10_000);
      expect((await a.runOnce()).claimed).toBe(2); // refills only up to the burst
      h().advance(500);
      expect((await a.runOnce()).claimed).toBe(1);
      expect((await a.workflow("r"))?.status).toBe("succeeded");
    });

    it("claims in order of readiness", async () => {
      const rt = await h().runtime({ maxWorkers: 1 });
      const order: string[] = [];
      rt.registerExecutor(newExecutor("k", async (step) => void order.push(`${step.step.runId}/${step.step.id}`)));
      rt.registerPackage(newPackage("p").entrypoint((run) => {
        run.step("a", null, { kind: "k" });
        run.step("b", null, { kind: "k" });
      }).build());
      await rt.startRun("p", null, { runId: "1" });
      h().advance(1);
      await rt.startRun("p", null, { runId: "2" });
      await rt.runOnce();
      expect(order).toEqual(["1/a", "1/b", "2/a", "2/b"]);
    });
  });
}
