/**
 * Hostile values across the public API, generated (fast-check): values that
 * throw while they are read (getters, Proxy traps, toJSON), cycles, nesting
 * deeper than the stack, huge strings, `__proto__` / `constructor` keys, lone
 * surrogates and NUL, alone or buried in plain data. Each goes in as a run
 * input, a signal payload, a step's result, record, emitted input, thrown
 * value or error details. Every case ends with a WorkflowError or a stored
 * step failure (or, for the values that can be stored, the same value read
 * back), nothing reaches onError, and the store keeps working.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newExecutor, newPackage, newRuntime, WorkflowError, type Runtime } from "../../src/index.js";
import { stores } from "../support/stores.js";
import { outcome } from "./support.js";

const LIMIT = 1024 * 1024;

const boom = () => {
  throw new Error("read me if you can");
};

/** Each call makes a fresh value: some of them change when read. */
const HOSTILE: Record<string, () => unknown> = {
  throwingGetter: () => Object.defineProperty({ a: 1 }, "b", { get: boom, enumerable: true }),
  throwingProxy: () => new Proxy({}, { get: boom, ownKeys: boom, getPrototypeOf: boom, has: boom, getOwnPropertyDescriptor: boom }),
  throwingArrayProxy: () => new Proxy([1, 2], { get: boom, getPrototypeOf: boom }),
  revokedProxy: () => {
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    return proxy;
  },
  throwingToJSON: () => ({ toJSON: boom }),
  dateWithThrowingToJSON: () => Object.assign(new Date(0), { toJSON: boom }),
  throwingMapEntry: () => new Map([[1, Object.defineProperty({}, "x", { get: boom, enumerable: true })]]),
  cycle: () => {
    const a: Record<string, unknown> = { n: 1 };
    a.self = { back: a };
    return a;
  },
  cycleThroughMap: () => {
    const m = new Map<string, unknown>();
    m.set("me", m);
    return m;
  },
  deepNesting: () => {
    let v: unknown = 0;
    for (let i = 0; i < 200_000; i++) v = [v];
    return v;
  },
  hugeString: () => "x".repeat(LIMIT + 10),
  protoKey: () => JSON.parse('{"__proto__": {"polluted": true}, "a": 1}'),
  constructorKey: () => ({ constructor: { prototype: { polluted: true } } }),
  richProtoKey: () => ({ when: new Date(0), ...JSON.parse('{"__proto__": {"polluted": true}}') }),
  loneSurrogates: () => ({ high: "a\ud800b", low: "\udc00", key: { "\ud83d": 1 } }),
  nul: () => ({ "a\u0000b": "c\u0000d" }),
};

/** The values among these that are data, not traps: they must come back as they went in. */
const STORABLE = new Set(["protoKey", "constructorKey", "loneSurrogates", "nul"]);

const USES = ["startRun", "signal", "result", "record", "emit", "throw", "details"] as const;
type Use = (typeof USES)[number];

const hostile = fc.record({
  kind: fc.constantFrom(...Object.keys(HOSTILE)),
  // Buried in plain data (an array inside an object), or the value itself.
  buried: fc.boolean(),
});

function make({ kind, buried }: { kind: string; buried: boolean }): unknown {
  const value = (HOSTILE[kind] as () => unknown)();
  return buried ? { plain: "data", list: [1, value] } : value;
}

describe.each(stores("hostile_values"))("on $name", (target) => {
  let rt: Runtime;
  const errors: unknown[] = [];
  /** What the "use" step does with which value, by run id. */
  const plans = new Map<string, { use: Use; value: () => unknown }>();
  let seq = 0;

  beforeAll(async () => {
    rt = await newRuntime({ store: target.fresh(), maxWorkers: 4, limits: { maxPayloadBytes: LIMIT }, onError: (e) => errors.push(e) });
    rt.registerExecutor(
      newExecutor("use", async (step) => {
        const plan = plans.get(step.workflow.id);
        if (!plan) return;
        const value = plan.value();
        switch (plan.use) {
          case "result":
            step.result(value);
            return;
          case "record":
            step.record("c", "k", value);
            return;
          case "emit":
            step.emit("child", value, { kind: "noop" });
            return;
          case "throw":
            throw value;
          case "details":
            throw new WorkflowError("hostile_details", "details attached", { details: value });
          default:
            step.result(step.input());
        }
      }),
    );
    rt.registerExecutor(newExecutor("noop", async () => undefined));
    rt.registerPackage(newPackage("p").entrypoint((run) => void run.step("s", null, { kind: "use", retry: { maxAttempts: 1 } })).build());
    rt.registerPackage(newPackage("echo").entrypoint((run, input) => void run.step("s", input, { kind: "noop" })).build());
    rt.registerPackage(
      newPackage("waits").entrypoint((run) => void run.waitForSignal("w", "go")).build(),
    );
  });
  afterAll(() => rt?.close());

  it("each ends as a WorkflowError, a stored failure or the same value read back; the store keeps working", async () => {
    await fc.assert(
      fc.asyncProperty(hostile, fc.constantFrom(...USES), async (h, use) => {
        const runId = `h-${++seq}`;
        const storable = STORABLE.has(h.kind);
        if (use === "startRun") {
          const code = await outcome(() => rt.startRun("echo", make(h), { runId }));
          if (storable) {
            expect(code).toBe("ok");
            expect((await rt.workflow(runId))?.input).toEqual(make(h));
          } else {
            expect(["invalid_input", "payload_too_large"]).toContain(code);
            expect(await rt.workflow(runId)).toBeUndefined(); // nothing half-written
          }
          return;
        }
        if (use === "signal") {
          await rt.startRun("waits", null, { runId });
          const code = await outcome(() => rt.signal(runId, "go", make(h)));
          expect(storable ? ["ok"] : ["invalid_input", "payload_too_large"]).toContain(code);
          await rt.cancelRun(runId);
          return;
        }
        plans.set(runId, { use, value: () => make(h) });
        await rt.startRun("p", null, { runId });
        await rt.runOnce();
        const run = await rt.workflow(runId);
        const result = await rt.result(runId, "s");
        if (storable && (use === "result" || use === "record" || use === "emit")) {
          expect(run?.status, JSON.stringify(result?.error)).toBe("succeeded");
          if (use === "result") expect(result?.data).toEqual(make(h));
          if (use === "record") expect(result?.records).toEqual([{ collection: "c", key: "k", data: make(h) }]);
          return;
        }
        expect(run?.status).toBe("failed");
        const expected: Record<Use, string[]> = {
          startRun: [],
          signal: [],
          result: ["unserializable_result", "payload_too_large"],
          record: ["unserializable_result", "payload_too_large"],
          emit: ["invalid_input", "payload_too_large"],
          throw: ["error"],
          details: ["hostile_details"],
        };
        expect(expected[use]).toContain(result?.error?.code);
      }),
      { numRuns: 80 },
    );

    // Nothing escaped to onError, nothing polluted a prototype, and the store still works.
    expect(errors).toEqual([]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const { id } = await rt.startRun("echo", { fine: true });
    await rt.runOnce();
    expect((await rt.workflow(id))?.status).toBe("succeeded");
  });
});
