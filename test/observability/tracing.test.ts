import { trace } from "@opentelemetry/api";
import { describe, expect, it } from "vitest";
import { newExecutor, newPackage, newRuntime, requireSteps, TRACEPARENT_KEY, WorkflowError, type Runtime, type StoreConfig } from "../../src/index.js";
import { stores } from "../support/stores.js";
import { installOtel, parentOf } from "./otel-setup.js";

const otel = installOtel();

/** dag3 (A -> B -> C, each reading its dependency); B fails its first attempt; C opens a span of its own. */
async function dag3Runtime(store: StoreConfig, telemetry?: boolean): Promise<Runtime> {
  const rt = await newRuntime({ store, ...(telemetry === undefined ? {} : { telemetry }) });
  rt.registerExecutor(newExecutor("dag/a", async (step) => step.result({ a: 1 })));
  rt.registerExecutor(
    newExecutor("dag/b", async (step) => {
      if (step.attempt === 1) throw new WorkflowError("flaky", "B fails once", { retryable: true });
      step.result({ b: (await step.dependencyData<{ a: number }>("A")).a + 1 });
    }),
  );
  rt.registerExecutor(
    newExecutor("dag/c", async (step) => {
      await otel.tracer.startActiveSpan("inside C", async (span) => {
        step.result(await step.dependencyData("B"));
        span.end();
      });
    }),
  );
  rt.registerPackage(
    newPackage("dag3")
      .entrypoint((run) => {
        const a = run.step("A", null, { kind: "dag/a" });
        const b = run.step("B", null, { kind: "dag/b", queue: "q-b", dependsOn: requireSteps(a), retry: { maxAttempts: 2, initialBackoff: 1 } });
        run.step("C", null, { kind: "dag/c", dependsOn: requireSteps(b) });
      })
      .build(),
  );
  return rt;
}

/** Runs workers until the run finished, then stops them (every attempt's span has ended by then). */
async function work(rt: Runtime, runId: string) {
  const ac = new AbortController();
  const workers = rt.startWorkers({ signal: ac.signal, pollInterval: 10 });
  const run = await rt.waitForRun(runId, { timeout: 20_000 });
  ac.abort();
  await workers;
  return run;
}

describe.each(stores("tracing"))("OpenTelemetry tracing on $name", ({ name, fresh }) => {
  it("draws a dag3 run as one trace: the caller's span, the start, a span per attempt, the executor's own spans", async () => {
    const rt = await dag3Runtime(fresh());
    const traceId = await otel.tracer.startActiveSpan("POST /orders", async (request) => {
      await rt.startRun("dag3", null, { runId: "traced" });
      request.end();
      return request.spanContext().traceId;
    });
    expect((await work(rt, "traced")).status).toBe("succeeded");
    await rt.close();

    const spans = otel.spansOf(traceId);
    const byName = (name: string) => spans.filter((s) => s.name === name);
    const [request] = byName("POST /orders");
    const [start] = byName("trellis.start dag3");
    expect(request && start).toBeTruthy();
    expect(parentOf(start!)).toBe(request!.spanContext().spanId);
    expect(start!.attributes).toMatchObject({ "trellis.package": "dag3", "trellis.run.count": 1, "messaging.system": "trellis" });

    const steps = spans.filter((s) => s.name.startsWith("trellis.step "));
    expect(steps.map((s) => [s.name, s.attributes["trellis.step.attempt"], s.attributes["trellis.step.outcome"]]).sort()).toEqual([
      ["trellis.step dag/a", 1, "succeeded"],
      ["trellis.step dag/b", 1, "retry"],
      ["trellis.step dag/b", 2, "succeeded"],
      ["trellis.step dag/c", 1, "succeeded"],
    ]);
    // Every attempt continues the run's trace, as a child of its start.
    for (const s of steps) expect(parentOf(s)).toBe(start!.spanContext().spanId);

    const failedB = steps.find((s) => s.attributes["trellis.step.id"] === "B" && s.attributes["trellis.step.attempt"] === 1)!;
    expect(failedB.attributes).toMatchObject({
      "trellis.run.id": "traced",
      "trellis.step.kind": "dag/b",
      "messaging.destination.name": "q-b",
      "messaging.operation.type": "process",
      "error.type": "flaky",
    });
    // The documented set, exactly (docs/observability.md): the queue is messaging.destination.name.
    expect(Object.keys(failedB.attributes).sort()).toEqual([
      "error.type",
      "messaging.destination.name",
      "messaging.operation.name",
      "messaging.operation.type",
      "messaging.system",
      "trellis.package",
      "trellis.run.id",
      "trellis.step.attempt",
      "trellis.step.id",
      "trellis.step.kind",
      "trellis.step.outcome",
    ]);
    expect(failedB.status).toMatchObject({ code: 2, message: "B fails once" }); // SpanStatusCode.ERROR
    expect(failedB.events.map((e) => e.name)).toEqual(["exception", "trellis.step.retry_scheduled"]);
    const okB = steps.find((s) => s.attributes["trellis.step.id"] === "B" && s.attributes["trellis.step.attempt"] === 2)!;
    expect(okB.status.code).toBe(0); // unset on success, as the conventions say
    expect(okB.attributes["error.type"]).toBeUndefined();

    const [inner] = byName("inside C");
    const c = steps.find((s) => s.attributes["trellis.step.id"] === "C")!;
    expect(parentOf(inner!)).toBe(c.spanContext().spanId);
  });

  it("stores the start's trace context with the run (W3C traceparent), and keeps one the caller put there", async () => {
    const rt = await dag3Runtime(fresh());
    await otel.tracer.startActiveSpan("caller", async (span) => {
      await rt.startRun("dag3", null, { runId: "stamped" });
      span.end();
    });
    const stamped = await rt.workflow("stamped");
    const start = otel.finishedSpans().find((s) => s.name === "trellis.start dag3" && s.attributes["trellis.run.count"] === 1 && stamped?.metadata[TRACEPARENT_KEY]?.includes(s.spanContext().spanId));
    expect(stamped?.metadata[TRACEPARENT_KEY]).toBe(`00-${start!.spanContext().traceId}-${start!.spanContext().spanId}-01`);

    const chosen = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    const runId = `chosen-${name}`;
    await rt.startRun("dag3", null, { runId, metadata: { [TRACEPARENT_KEY]: chosen } });
    expect((await rt.workflow(runId))?.metadata[TRACEPARENT_KEY]).toBe(chosen);
    await work(rt, runId);
    await rt.close();
    // Both stores' runs continue this trace (one exporter per file): keep this store's.
    const steps = otel.spansOf("0af7651916cd43dd8448eb211c80319c").filter((s) => s.name.startsWith("trellis.step ") && s.attributes["trellis.run.id"] === runId);
    expect(steps).toHaveLength(4);
    for (const s of steps) expect(parentOf(s)).toBe("b7ad6b7169203331");
  });

  it("refuses a bad value under the reserved key, and stores nothing", async () => {
    const rt = await dag3Runtime(fresh());
    for (const bad of ["not-a-traceparent", "00-00000000000000000000000000000000-b7ad6b7169203331-01", "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"]) {
      await expect(rt.startRun("dag3", null, { runId: "bad", metadata: { [TRACEPARENT_KEY]: bad } })).rejects.toMatchObject({ code: "invalid_input" });
    }
    expect(await rt.workflow("bad")).toBeUndefined();
    await rt.close();
  });

  it("with telemetry: false, makes no span and stores no trace context", async () => {
    const rt = await dag3Runtime(fresh(), false);
    const traceId = await otel.tracer.startActiveSpan("untraced caller", async (span) => {
      await rt.startRun("dag3", null, { runId: "off" });
      span.end();
      return span.spanContext().traceId;
    });
    await work(rt, "off");
    expect((await rt.workflow("off"))?.metadata[TRACEPARENT_KEY]).toBeUndefined();
    await rt.close();
    expect(otel.spansOf(traceId).map((s) => s.name)).toEqual(["untraced caller"]);
  });

  it("with no caller span, the start is the root of the run's trace", async () => {
    expect(trace.getActiveSpan()).toBeUndefined();
    const rt = await dag3Runtime(fresh());
    await rt.startRun("dag3", null, { runId: "rooted" });
    await work(rt, "rooted");
    const traceId = (await rt.workflow("rooted"))!.metadata[TRACEPARENT_KEY]!.split("-")[1]!;
    await rt.close();
    const spans = otel.spansOf(traceId);
    const start = spans.find((s) => s.name === "trellis.start dag3")!;
    expect(parentOf(start)).toBe("");
    expect(spans.filter((s) => parentOf(s) === start.spanContext().spanId)).toHaveLength(4);
  });

  it("a child run joins its parent's trace, under the parent step that started it", async () => {
    const rt = await newRuntime({ store: fresh() });
    rt.registerExecutor(newExecutor("kid/work", async (step) => step.result("done")));
    rt.registerPackage(newPackage("kid").entrypoint((run) => void run.step("k", null, { kind: "kid/work" })).build());
    rt.registerPackage(newPackage("parent").entrypoint((run) => void run.childRun("spawn", "kid", null)).build());
    const traceId = await otel.tracer.startActiveSpan("parent caller", async (span) => {
      await rt.startRun("parent", null, { runId: `parent-${name}` });
      span.end();
      return span.spanContext().traceId;
    });
    expect((await work(rt, `parent-${name}`)).status).toBe("succeeded");
    await rt.close();
    const spans = otel.spansOf(traceId);
    const kidStart = spans.find((s) => s.name === "trellis.start kid")!;
    const spawnAttempts = spans.filter((s) => s.attributes["trellis.step.id"] === "spawn");
    expect(spawnAttempts.map((s) => parentOf(s))).toEqual(spawnAttempts.map(() => spans.find((s) => s.name === "trellis.start parent")!.spanContext().spanId));
    expect(spawnAttempts.map((s) => s.spanContext().spanId)).toContain(parentOf(kidStart));
    const kidStep = spans.find((s) => s.name === "trellis.step kid/work")!;
    expect(parentOf(kidStep)).toBe(kidStart.spanContext().spanId);
  });
});
