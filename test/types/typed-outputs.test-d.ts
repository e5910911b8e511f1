/**
 * Type tests for outputs (vitest's typecheck mode, run by `npm test`): a step
 * whose kind is its executor object checks its input and carries its output;
 * the handle types `step.dependencyData`, `rt.result`, and, returned from the
 * entrypoint, the package's output that `rt.output(handle)` gives back.
 */
import { describe, expectTypeOf, it } from "vitest";
import { z } from "zod";
import { newExecutor, newPackage, newTypedExecutor, type Executor, type Runtime, type RunHandle, type StepHandle, type StepResult, type WorkflowPackage } from "../../src/index.js";

declare const rt: Runtime;

const fetchUser = newTypedExecutor("users/fetch", z.object({ id: z.number() }), async (_step, input) => ({ id: input.id, name: "Ada" }));
const untyped = newExecutor("audit", async (step) => step.result("logged"));
const greet = newExecutor("greet", async (step) => {
  const user = await step.dependencyData<{ name: string }>("fetch");
  return `hello ${user.name}`;
});

const profile = newPackage("profile")
  .entrypoint(z.object({ userId: z.number() }), (run, input) => {
    const fetched = run.step("fetch", { id: input.userId }, { kind: fetchUser });
    expectTypeOf(fetched).toEqualTypeOf<StepHandle<{ id: number; name: string }>>();
    run.step("audit", null, { kind: untyped });
    return run.step("greet", null, { kind: greet, dependsOn: [{ stepId: fetched.id, required: true }] });
  })
  .build();

describe("executors carry their types", () => {
  it("an executor's output is what it returns, or unknown when it sets its result with step.result", () => {
    expectTypeOf(fetchUser).toEqualTypeOf<Executor<{ id: number }, { id: number; name: string }>>();
    expectTypeOf(untyped).toEqualTypeOf<Executor<unknown, unknown>>();
    expectTypeOf(greet).toEqualTypeOf<Executor<unknown, string>>();
  });

  it("a step naming its executor object checks the input against the executor's schema", () => {
    newPackage("bad")
      .entrypoint((run) => {
        // @ts-expect-error id must be a number
        run.step("fetch", { id: "7" }, { kind: fetchUser });
        // @ts-expect-error id is required
        run.step("fetch2", {}, { kind: fetchUser });
        // a kind named by string stays unchecked
        run.step("fetch3", { id: "7" }, { kind: "users/fetch" });
      })
      .build();
  });
});

describe("a package carries its output", () => {
  it("from the handle its entrypoint returns", () => {
    expectTypeOf(profile).toEqualTypeOf<WorkflowPackage<{ userId: number }, string>>();
  });

  it("through startRun's handle to rt.output", async () => {
    const run = await rt.startRun(profile, { userId: 1 });
    expectTypeOf(run).toEqualTypeOf<RunHandle<string>>();
    expectTypeOf(rt.output(run)).toEqualTypeOf<Promise<string>>();
    expectTypeOf(rt.output(run.id)).toEqualTypeOf<Promise<unknown>>();
  });

  it("is unknown for an entrypoint that returns nothing", () => {
    const plain = newPackage("plain").entrypoint((run) => void run.step("a", null, { kind: "a" })).build();
    expectTypeOf(plain).toEqualTypeOf<WorkflowPackage<unknown, unknown>>();
  });

  it("types a child run's step by the child package's output, and checks its input", () => {
    newPackage("parent")
      .entrypoint((run) => {
        const child = run.childRun("child", profile, { userId: 2 });
        expectTypeOf(child).toEqualTypeOf<StepHandle<string>>();
        // @ts-expect-error the child's input is checked
        run.childRun("child2", profile, { userId: "2" });
        return child;
      })
      .build();
  });
});

describe("handles type results", () => {
  it("rt.result(runId, handle) and step.dependencyData(handle)", () => {
    const handle = {} as StepHandle<{ id: number; name: string }>;
    expectTypeOf(rt.result("r", handle)).toEqualTypeOf<Promise<StepResult<{ id: number; name: string }> | undefined>>();
    expectTypeOf(rt.result("r", "fetch")).toEqualTypeOf<Promise<StepResult<unknown> | undefined>>();
    newExecutor("reader", async (step) => {
      expectTypeOf(await step.dependencyData(handle)).toEqualTypeOf<{ id: number; name: string }>();
      expectTypeOf(await step.dependencyData("fetch")).toEqualTypeOf<unknown>();
    });
  });
});
