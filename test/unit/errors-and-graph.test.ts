import { describe, expect, it } from "vitest";
import { ErrorCodes, WorkflowError, isWorkflowError, newExecutor, newPackage, permanent, Registry, requireSteps, retryable } from "../../src/index.js";
import { checkGraph, toNewStep } from "../../src/run-builder.js";
import { tryEncode } from "../../src/serialization.js";

const step = (id: string, ...deps: string[]) => toNewStep(id, null, { kind: "k", dependsOn: requireSteps(...deps) });

describe("errors", () => {
  it("permanent and retryable wrap an error with a code, keeping it as the cause", () => {
    const cause = new Error("disk full");
    const p = permanent("no_space", cause);
    expect(p).toBeInstanceOf(WorkflowError);
    expect(p).toMatchObject({ code: "no_space", message: "disk full", retryable: false, cause });
    expect(retryable("busy", cause)).toMatchObject({ code: "busy", retryable: true });
    expect(permanent("bare").message).toBe("bare");
    expect(isWorkflowError(p)).toBe(true);
    expect(isWorkflowError(cause)).toBe(false);
  });

  it("keeps every library code unique", () => {
    const codes = Object.values(ErrorCodes);
    expect(new Set(codes).size).toBe(codes.length);
  });
});

describe("registries and builders", () => {
  it("Registry registers, finds and lists executors", () => {
    const r = new Registry();
    r.register(newExecutor("b", async () => {}));
    r.register(newExecutor("a", async () => {}));
    expect(r.kinds()).toEqual(["a", "b"]);
    expect(r.get("a")?.kind).toBe("a");
    expect(() => r.register(newExecutor("a", async () => {}))).toThrow(expect.objectContaining({ code: "duplicate_executor" }));
    expect(() => r.register(newExecutor("", async () => {}))).toThrow(expect.objectContaining({ code: "invalid_input" }));
  });

  it("newPackage needs a name and an entrypoint", () => {
    expect(() => newPackage("").entrypoint(() => {}).build()).toThrow(expect.objectContaining({ code: "invalid_input" }));
    expect(() => newPackage("p").build()).toThrow(expect.objectContaining({ code: "invalid_input" }));
    expect(newPackage("p").entrypoint(() => {}).build()).toMatchObject({ name: "p", displayName: "p" });
  });

  it("requireSteps accepts handles and ids", () => {
    expect(requireSteps({ id: "a" }, "b")).toEqual([
      { stepId: "a", required: true },
      { stepId: "b", required: true },
    ]);
  });
});

describe("graph checks", () => {
  it("accepts a DAG declared in any order", () => {
    expect(() => checkGraph([step("c", "b"), step("a"), step("b", "a")], () => false)).not.toThrow();
  });

  it("names the steps on a cycle", () => {
    try {
      checkGraph([step("a", "c"), step("b", "a"), step("c", "b"), step("d")]);
      throw new Error("no cycle found");
    } catch (err) {
      expect(err).toMatchObject({ code: "dependency_cycle", details: { steps: expect.arrayContaining(["a", "b", "c"]) } });
      expect((err as WorkflowError).details).toEqual({ steps: expect.not.arrayContaining(["d"]) });
    }
  });

  it("reports unknown dependencies and duplicate ids", () => {
    expect(() => checkGraph([step("a", "zzz")], () => false)).toThrow(expect.objectContaining({ code: "unknown_dependency" }));
    expect(() => checkGraph([step("a", "zzz")], (id) => id === "zzz")).not.toThrow();
    expect(() => checkGraph([step("a"), step("a")])).toThrow(expect.objectContaining({ code: "duplicate_step" }));
  });
});

describe("serialization", () => {
  it("refuses values that would not come back as they went in", () => {
    class Money {
      constructor(readonly cents: number) {}
    }
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(tryEncode({ f: () => 1 }).ok).toBe(false);
    expect(tryEncode(new Money(5)).ok).toBe(false);
    expect(tryEncode(circular).ok).toBe(false);
    expect(tryEncode(Symbol("s")).ok).toBe(false);
    const shared = { x: 1 };
    expect(tryEncode({ a: shared, b: shared, d: new Date(0), m: new Map(), s: new Set(), n: 1n, u: undefined, url: new URL("https://example.com/x") }).ok).toBe(true);
  });
});

describe("the plain-JSON fast path", () => {
  it("writes exactly what superjson writes, and reads both forms back", async () => {
    const superjson = (await import("superjson")).default;
    const { decode } = await import("../../src/serialization.js");
    const plain = [{ a: 1, b: ["x", true, null, { c: 2.5 }] }, "text", 0, [], {}, null];
    for (const value of plain) {
      const encoded = tryEncode(value);
      expect(encoded.ok && encoded.text).toBe(superjson.stringify(value));
      expect(decode(superjson.stringify(value))).toEqual(value);
    }
    const rich = [{ d: new Date(5) }, [1, undefined], { u: undefined }, -0, NaN, 2n, new Set([1]), new Map([[1, 2]]), undefined];
    for (const value of rich) {
      const encoded = tryEncode(value);
      expect(encoded.ok && encoded.text).toBe(superjson.stringify(value));
      expect(encoded.ok && decode(encoded.text)).toEqual(value);
    }
  });
});

describe("generated run ids", () => {
  it("are UUIDv7-shaped, unique, and ordered by time", async () => {
    const { timeOrderedId } = await import("../../src/ids.js");
    const ids = Array.from({ length: 2000 }, (_, i) => timeOrderedId(1_700_000_000_000 + i));
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
  });
});
