/**
 * Schemas from more than one library (zod 4 and valibot, both Standard Schemas)
 * validating run input and step input, on both stores; and executors that
 * return their result.
 */
import * as v from "valibot";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { isWorkflowError, newExecutor, newPackage, newRuntime, newTypedExecutor, type Runtime } from "../../src/index.js";
import { stores } from "../support/stores.js";

const libraries = [
  { name: "zod", order: z.object({ sku: z.string(), qty: z.number().int().positive() }) },
  { name: "valibot", order: v.object({ sku: v.string(), qty: v.pipe(v.number(), v.integer(), v.minValue(1)) }) },
];

async function rejection(promise: Promise<unknown>): Promise<{ code?: string; message: string; details?: unknown }> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  if (!isWorkflowError(err)) throw new Error(`expected a WorkflowError, got ${String(err)}`);
  return { code: err.code, message: err.message, details: err.details };
}

describe.each(stores("schema"))("on $name", (target) => {
  let rt: Runtime;
  afterEach(async () => rt?.close());

  describe.each(libraries)("with a $name schema", ({ order }) => {
    it("validates run input at start, naming the field, and stores nothing on a refusal", async () => {
      rt = await newRuntime({ store: target.fresh() });
      rt.registerExecutor(newExecutor("noop", async () => undefined));
      const pkg = newPackage("orders").entrypoint(order, (run, input) => void run.step("s", input, { kind: "noop" })).build();
      rt.registerPackage(pkg);
      const refused = await rejection(rt.startRun(pkg, { sku: "a", qty: 0 }));
      expect(refused.code).toBe("invalid_input");
      expect(refused.message).toMatch(/^input of package "orders": qty: /);
      expect(refused.details).toEqual([expect.objectContaining({ path: ["qty"], message: expect.any(String) })]);
      expect(await rt.listRuns({ limit: 10 })).toEqual([]);
      const { id } = await rt.startRun(pkg, { sku: "a", qty: 2 });
      expect((await rt.workflow(id))?.status).toBe("running");
    });

    it("fails a step whose input does not match its typed executor with invalid_input, and runs one that does", async () => {
      rt = await newRuntime({ store: target.fresh() });
      rt.registerExecutor(newTypedExecutor("reserve", order, async (_step, input) => ({ reserved: input.qty })));
      rt.registerPackage(newPackage("p").entrypoint((run, input: unknown) => void run.step("s", input, { kind: "reserve" })).build());
      const bad = await rt.startRun("p", { sku: 7, qty: 1 });
      const good = await rt.startRun("p", { sku: "x", qty: 3 });
      while ((await rt.runOnce()).claimed > 0);
      const [failed] = await rt.steps(bad.id);
      expect(failed?.status).toBe("failed");
      expect(failed?.lastError?.code).toBe("invalid_input");
      expect(failed?.lastError?.message).toMatch(/ \(reserve\): sku: /);
      expect((await rt.result(good.id, "s"))?.data).toEqual({ reserved: 3 });
    });
  });

  it("takes a returned value as the step's result, after step.result", async () => {
    rt = await newRuntime({ store: target.fresh() });
    rt.registerExecutor(newExecutor("returns", async () => ({ from: "return" })));
    rt.registerExecutor(newExecutor("both", async (step) => {
      step.result({ from: "step.result" });
      return { from: "return" };
    }));
    rt.registerExecutor(newExecutor("neither", async (step) => void step.result({ from: "step.result" })));
    rt.registerPackage(newPackage("p").entrypoint((run) => {
      run.step("a", null, { kind: "returns" });
      run.step("b", null, { kind: "both" });
      run.step("c", null, { kind: "neither" });
    }).build());
    const { id } = await rt.startRun("p", null);
    while ((await rt.runOnce()).claimed > 0);
    expect((await rt.result(id, "a"))?.data).toEqual({ from: "return" });
    expect((await rt.result(id, "b"))?.data).toEqual({ from: "return" });
    expect((await rt.result(id, "c"))?.data).toEqual({ from: "step.result" });
  });
});

describe("starting by package object", () => {
  it("refuses a package that is not the one registered under its name", async () => {
    const rt = await newRuntime({ store: stores("schema-obj")[0]!.fresh() });
    try {
      const registered = newPackage("p").entrypoint((run) => void run.step("s", null, { kind: "k" })).build();
      const other = newPackage("p").entrypoint((run) => void run.step("t", null, { kind: "k" })).build();
      expect((await rejection(rt.startRun(registered, null))).code).toBe("unknown_package");
      rt.registerPackage(registered);
      expect((await rejection(rt.startRun(other, null))).code).toBe("unknown_package");
      expect((await rt.startRun(registered, null)).package).toBe("p");
    } finally {
      await rt.close();
    }
  });
});
