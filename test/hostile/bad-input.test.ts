/**
 * Bad input across the public API, generated (fast-check): random ids, names,
 * payloads of every shape and size, step graphs and configs. Every call either
 * succeeds or throws a WorkflowError with one of the stable codes expected for
 * it; none crashes, hangs, or leaves a half-written run behind.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isWorkflowError, newExecutor, newPackage, newRuntime, type Runtime, type RunBuilder, type StepOpts } from "../../src/index.js";
import { stores } from "../support/stores.js";
import { outcome } from "./support.js";

const LIMIT = 4096; // a small payload limit, so generated values cross it
const KINDS = ["k0", "k1"];


const text = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.constantFrom("", " ", "../etc", "a\u0000b", "trellis/sleep", "x".repeat(300), "ü🙂"),
);
const payload = fc.oneof(
  fc.anything({ maxDepth: 3, withBigInt: true, withDate: true, withMap: true, withSet: true, withTypedArray: true, withSparseArray: true }),
  fc.string({ minLength: 1000, maxLength: 6000 }),
  fc.constantFrom(undefined, null, Number.NaN, -0, Infinity, () => 1, Symbol("s")),
);
const number = fc.oneof(fc.integer({ min: -5, max: 5 }), fc.double(), fc.constantFrom(0, -1, 2 ** 31, Number.NaN, 1.5));
const stepOpts: fc.Arbitrary<Record<string, unknown>> = fc.record(
  {
    kind: fc.oneof(fc.constantFrom(...KINDS), text),
    queue: text,
    dedupKey: text,
    dependsOn: fc.array(
      fc.record(
        { stepId: fc.oneof(fc.constantFrom("a", "b", "c", "d"), text), required: fc.boolean(), on: fc.constantFrom("succeeded", "failed", "completed", "sometimes") },
        { requiredKeys: ["stepId"] },
      ),
      { maxLength: 3 },
    ),
    priority: number,
    delay: number,
    timeout: number,
    runAt: fc.oneof(fc.date(), fc.constant(new Date(Number.NaN))),
    retry: fc.record({ maxAttempts: number, initialBackoff: number, backoff: fc.constantFrom("fixed", "linear", "exponential", "never") }, { requiredKeys: [] }),
    metadata: fc.oneof(fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 })), fc.constant({ n: 1 })),
    bogus: fc.constant(true),
  },
  { requiredKeys: ["kind"] },
);
const graph = fc.array(
  fc.record({ id: fc.oneof(fc.constantFrom("a", "b", "c", "d"), text), input: payload, opts: stepOpts, special: fc.constantFrom("step", "step", "step", "sleep", "signal", "child") }),
  { maxLength: 5 },
);

const START_CODES = ["ok", "invalid_input", "duplicate_step", "unknown_dependency", "dependency_cycle", "payload_too_large", "empty_run"];

describe.each(stores("badinput"))("hostile: bad input on $name", ({ name, fresh }) => {
  let rt: Runtime;
  const store = fresh();
  beforeAll(async () => {
    rt = await newRuntime({ store, limits: { maxPayloadBytes: LIMIT }, onError: () => undefined });
    for (const kind of KINDS) rt.registerExecutor(newExecutor(kind, async (step) => step.result(step.rawInput())));
    rt.registerPackage(
      newPackage("random-graph")
        .entrypoint((run: RunBuilder, input: unknown) => {
          for (const s of input as { id: string; input: unknown; opts: Record<string, unknown>; special: string }[]) {
            if (s.special === "sleep") run.sleep(s.id, s.opts.delay as number, s.opts as never);
            else if (s.special === "signal") run.waitForSignal(s.id, s.opts.queue as string, s.opts as never);
            else if (s.special === "child") run.childRun(s.id, s.opts.queue as string, s.input, s.opts as never);
            else run.step(s.id, s.input, s.opts as unknown as StepOpts);
          }
        })
        .build(),
    );
    rt.registerPackage(newPackage("echo").entrypoint((run, input) => void run.step("s", input, { kind: "k0" })).build());
    rt.registerPackage(newPackage("gate").entrypoint((run) => void run.waitForSignal("w", "go")).build());
    await rt.startRun("gate", null, { runId: "gate" });
  });
  afterAll(async () => rt.close());
  const runs = name === "sqlite" ? 150 : 60;

  it("random run graphs: a stable code or a complete run, never a half-written one", async () => {
    await fc.assert(
      fc.asyncProperty(graph, fc.option(text, { nil: undefined }), async (steps, runId) => {
        // The graph travels as the run input, so it must itself be storable: keep the payloads in the steps.
        const code = await outcome(() => rt.startRun("random-graph", steps, runId === undefined ? {} : { runId }));
        expect(START_CODES).toContain(code);
      }),
      { numRuns: runs },
    );
  });

  it("random start options, payloads and signals: a stable code or success", async () => {
    await fc.assert(
      fc.asyncProperty(text, payload, fc.option(fc.dictionary(text, text, { maxKeys: 3 }), { nil: undefined }), text, async (runId, input, metadata, signalName) => {
        const start = await outcome(() => rt.startRun("echo", input, { runId, ...(metadata ? { metadata } : {}) }));
        expect(["ok", "invalid_input", "payload_too_large"]).toContain(start);
        const signal = await outcome(() => rt.signal("gate", signalName, input, { id: runId }));
        expect(["ok", "invalid_input", "payload_too_large"]).toContain(signal);
        const unknown = await outcome(() => rt.signal(`${runId}-missing`, "go"));
        expect(["not_found", "invalid_input"]).toContain(unknown);
      }),
      { numRuns: runs },
    );
  });

  it("random runtime configs: invalid_config naming the field, or a runtime", async () => {
    const field = fc.oneof(number, text, fc.boolean(), fc.constant(null), fc.constant({}), fc.array(number, { maxLength: 2 }));
    await fc.assert(
      fc.asyncProperty(
        fc.record(
          { maxWorkers: field, pollInterval: field, leaseDuration: field, maxReclaims: field, workerId: field, queues: fc.oneof(field, fc.dictionary(text, fc.record({ maxWorkers: field }))), retention: fc.oneof(field, fc.record({ maxAge: field })), limits: fc.oneof(field, fc.record({ maxPayloadBytes: field })), extra: field },
          { requiredKeys: [] },
        ),
        async (config) => {
          let opened: Runtime | undefined;
          const code = await outcome(async () => {
            opened = await newRuntime({ store, ...(config as object) });
          });
          expect(["ok", "invalid_config"]).toContain(code);
          await opened?.close();
        },
      ),
      { numRuns: 80 },
    );
  });

  it("leaves a consistent store: every run has its steps, every edge names a step of its run", async () => {
    const all = await rt.listRuns({ limit: 10_000 });
    expect(all.length).toBeGreaterThan(1);
    for (const run of all) {
      const steps = await rt.steps(run.id);
      expect(steps.length, run.id).toBeGreaterThan(0);
      const ids = new Set(steps.map((s) => s.id));
      for (const s of steps) for (const d of s.dependsOn) expect(ids.has(d.stepId), `${run.id}/${s.id} -> ${d.stepId}`).toBe(true);
    }
    // And the runs that could finish, do.
    await rt.runOnce();
    const echo = await rt.listRuns({ package: "echo", limit: 10_000 });
    for (const run of echo) expect(["succeeded", "failed"]).toContain((await rt.workflow(run.id))?.status);
    expect(isWorkflowError(new Error("x"))).toBe(false);
  });
});
