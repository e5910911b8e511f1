import { describe, expect, it } from "vitest";
import { ErrorCodes, WorkflowError, isWorkflowError, newExecutor, newPackage, onComplete, onFailure, permanent, Registry, requireSteps, retryable } from "../../src/index.js";
import { checkGraph } from "../../src/run-builder.js";
import { toNewStep } from "../../src/step-options.js";
import { edgeState } from "../../src/store-kit.js";

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

  it("requireSteps, onFailure and onComplete accept handles and ids", () => {
    expect(requireSteps({ id: "a" }, "b")).toEqual([
      { stepId: "a", required: true, on: "succeeded" },
      { stepId: "b", required: true, on: "succeeded" },
    ]);
    expect(onFailure({ id: "a" })).toEqual([{ stepId: "a", required: true, on: "failed" }]);
    expect(onComplete("a")).toEqual([{ stepId: "a", required: false, on: "completed" }]);
  });

  it("edge rules: what each dependency state asks for, and that a skipped step satisfies no edge", () => {
    const cases: [Parameters<typeof edgeState>[0], Parameters<typeof edgeState>[1], string][] = [
      ["running", "completed", "waiting"],
      ["waiting", "succeeded", "waiting"],
      ["succeeded", "succeeded", "satisfied"],
      ["failed", "succeeded", "violated"],
      ["failed", "failed", "satisfied"],
      ["succeeded", "failed", "violated"],
      ["canceled", "completed", "satisfied"],
      ["failed", "completed", "satisfied"],
      ["skipped", "completed", "violated"],
      ["skipped", "failed", "violated"],
    ];
    for (const [status, on, expected] of cases) expect(edgeState(status, on), `${status} on ${on}`).toBe(expected);
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
