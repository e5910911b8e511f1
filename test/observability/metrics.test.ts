import type { DataPoint, Histogram, ResourceMetrics } from "@opentelemetry/sdk-metrics";
import { describe, expect, it } from "vitest";
import { newExecutor, newPackage, newRuntime, permanent, WorkflowError, type Runtime, type StoreConfig } from "../../src/index.js";
import { stores } from "../support/stores.js";
import { pollUntil } from "../crash/harness.js";
import { installOtel } from "./otel-setup.js";

const otel = installOtel();
const RUNS = 5;

/** The data points of one trellis metric whose attributes include `match`. */
function points(metrics: ResourceMetrics, name: string, match: Record<string, unknown> = {}): DataPoint<unknown>[] {
  const metric = metrics.scopeMetrics.filter((s) => s.scope.name === "trellis").flatMap((s) => s.metrics).find((m) => m.descriptor.name === name);
  const all = (metric?.dataPoints ?? []) as DataPoint<unknown>[];
  return all.filter((p) => Object.entries(match).every(([k, v]) => p.attributes[k] === v));
}
const sum = (ps: DataPoint<unknown>[]) => ps.reduce((n, p) => n + (p.value as number), 0);
const histogramCount = (ps: DataPoint<unknown>[]) => ps.reduce((n, p) => n + (p.value as Histogram).count, 0);
const histogramSum = (ps: DataPoint<unknown>[]) => ps.reduce((n, p) => n + ((p.value as Histogram).sum ?? 0), 0);

describe.each(stores("metrics"))("OpenTelemetry metrics on $name", ({ name, fresh }) => {
  // Queue names unique to this store: the meter provider (and its sums) is shared by the file.
  const q1 = `fast-${name}`;
  const q2 = `slow-${name}`;

  it("counts a known workload exactly, fills the histograms, and rt.stats() says the same", async () => {
    const rt: Runtime = await newRuntime({ store: fresh(), statsInterval: 100 });
    rt.registerExecutor(newExecutor("m/ok", async (step) => step.result(1)));
    rt.registerExecutor(
      newExecutor("m/flaky", async (step) => {
        if (step.attempt === 1) throw new WorkflowError("flaky", "first attempt fails", { retryable: true });
        step.result(2);
      }),
    );
    rt.registerExecutor(newExecutor("m/bad", async () => {
      throw permanent("nope", new Error("never works"));
    }));
    rt.registerPackage(
      newPackage("measured")
        .entrypoint((run) => {
          run.step("ok", null, { kind: "m/ok", queue: q1 });
          run.step("flaky", null, { kind: "m/flaky", queue: q2, retry: { maxAttempts: 2, initialBackoff: 1 } });
          run.step("bad", null, { kind: "m/bad", queue: q2 });
        })
        .build(),
    );
    await rt.startRuns("measured", Array.from({ length: RUNS }, (_, i) => ({ input: null, runId: `m${i}` })));

    // Before any work: the gauges read the store (every process's truth).
    let metrics = await otel.collect();
    expect(points(metrics, "trellis.queue.ready", { "trellis.queue": q1 }).map((p) => p.value)).toEqual([RUNS]);
    expect(points(metrics, "trellis.queue.ready", { "trellis.queue": q2 }).map((p) => p.value)).toEqual([2 * RUNS]);
    expect(points(metrics, "trellis.queue.running", { "trellis.queue": q2 }).map((p) => p.value)).toEqual([0]);
    const before = await rt.stats();
    expect(before.queues[q1]).toEqual({ ready: RUNS, running: 0, waiting: 0 });
    expect(before.queues[q2]).toEqual({ ready: 2 * RUNS, running: 0, waiting: 0 });
    expect(before.process).toMatchObject({ started: 0, succeeded: 0, failed: 0, reclaimed: 0 });

    const batchesBefore = points(metrics, "trellis.claim.batch_size");
    let finished = 0;
    while (finished < RUNS) {
      await rt.runOnce();
      finished = (await Promise.all(Array.from({ length: RUNS }, (_, i) => rt.workflow(`m${i}`)))).filter((r) => r?.status === "failed").length;
    }

    metrics = await otel.collect();
    const ok = { "trellis.step.kind": "m/ok", "trellis.queue": q1 };
    const flaky = { "trellis.step.kind": "m/flaky", "trellis.queue": q2 };
    const bad = { "trellis.step.kind": "m/bad", "trellis.queue": q2 };
    expect(sum(points(metrics, "trellis.step.started", ok))).toBe(RUNS);
    expect(sum(points(metrics, "trellis.step.started", flaky))).toBe(2 * RUNS);
    expect(sum(points(metrics, "trellis.step.started", bad))).toBe(RUNS);
    expect(sum(points(metrics, "trellis.step.succeeded", ok))).toBe(RUNS);
    expect(sum(points(metrics, "trellis.step.succeeded", flaky))).toBe(RUNS);
    expect(sum(points(metrics, "trellis.step.succeeded", bad))).toBe(0);
    expect(sum(points(metrics, "trellis.step.failed", { ...flaky, "error.type": "flaky", "trellis.step.outcome": "retry" }))).toBe(RUNS);
    expect(sum(points(metrics, "trellis.step.failed", { ...bad, "error.type": "nope", "trellis.step.outcome": "failed" }))).toBe(RUNS);
    expect(sum(points(metrics, "trellis.step.failed", ok))).toBe(0);

    const attempts = 4 * RUNS;
    expect(histogramCount([...points(metrics, "trellis.step.duration", { "trellis.queue": q1 }), ...points(metrics, "trellis.step.duration", { "trellis.queue": q2 })])).toBe(attempts);
    expect(histogramCount([...points(metrics, "trellis.step.queue_wait", { "trellis.queue": q1 }), ...points(metrics, "trellis.step.queue_wait", { "trellis.queue": q2 })])).toBe(attempts);
    expect(histogramSum(points(metrics, "trellis.step.duration", ok))).toBeGreaterThan(0);
    // Every attempt came through a claim (the runs were started before any worker ran).
    expect(histogramSum(points(metrics, "trellis.claim.batch_size")) - histogramSum(batchesBefore)).toBe(attempts);

    const after = await rt.stats();
    expect(after.process).toMatchObject({ started: attempts, succeeded: 2 * RUNS, failed: 2 * RUNS, reclaimed: 0 });
    expect(after.process.claimedSteps).toBe(attempts);
    // The counts are re-read once the stats interval (100 ms) has passed: poll until then.
    await pollUntil("a fresh read of the counts", async () => (Object.keys((await rt.stats()).queues).length === 0 ? true : undefined));
    await rt.close();
  });

  it("counts a reclaim, and shows the dead worker's step as running until then", async () => {
    const config = fresh();
    let offset = 0;
    const rt = await newRuntime({ store: config, clock: () => Date.now() + offset, statsInterval: 100 });
    const q3 = `reclaimed-${name}`;
    rt.registerExecutor(newExecutor("m/ok", async (step) => step.result(1)));
    rt.registerPackage(newPackage("once").entrypoint((run) => void run.step("s", null, { kind: "m/ok", queue: q3 })).build());
    await rt.startRun("once", null, { runId: "lost" });
    // Another process claims the step and dies holding it.
    const dead = await config.open();
    const { steps } = await dead.claim({ workerId: "dead", limit: 1, now: Date.now(), leaseDuration: 1_000, policyFor: () => ({ maxWorkers: Infinity }) });
    expect(steps).toHaveLength(1);
    expect((await rt.stats()).queues[q3]).toEqual({ ready: 0, running: 1, waiting: 0 });
    const reclaimedBefore = sum(points(await otel.collect(), "trellis.step.reclaimed", { "trellis.reclaim.result": "ready" }));

    offset = 60_000; // the dead worker's lease has long expired
    await rt.runOnce();
    expect((await rt.workflow("lost"))?.status).toBe("succeeded");
    const metrics = await otel.collect();
    expect(sum(points(metrics, "trellis.step.reclaimed", { "trellis.reclaim.result": "ready" })) - reclaimedBefore).toBe(1);
    expect((await rt.stats()).process).toMatchObject({ reclaimed: 1, started: 1, succeeded: 1 });
    await dead.close();
    await rt.close();
  });

  it("reads the store's counts at most once per stats interval, however many scrapes and stats() calls", async () => {
    const inner = fresh();
    let reads = 0;
    const counting: StoreConfig = {
      name: inner.name,
      async open() {
        const store = await inner.open();
        const countSteps = store.countSteps.bind(store);
        store.countSteps = () => {
          reads++;
          return countSteps();
        };
        return store;
      },
    };
    const rt = await newRuntime({ store: counting, statsInterval: 60_000 });
    for (let i = 0; i < 3; i++) await otel.collect();
    const stats = await Promise.all([rt.stats(), rt.stats(), rt.stats()]);
    expect(reads).toBe(1);
    expect(new Set(stats.map((s) => s.at.getTime())).size).toBe(1);
    await rt.close();
    // Closed: its gauges no longer read its store.
    await otel.collect();
    expect(reads).toBe(1);
  });
});
