/**
 * Type tests (vitest's typecheck mode, run by `npm test`): what an application
 * gets at compile time from a package built with a schema, from typed
 * executors, and from schemas of more than one library.
 */
import * as v from "valibot";
import { describe, expectTypeOf, it } from "vitest";
import { z } from "zod";
import { newExecutor, newPackage, newTypedExecutor, type Runtime, type RunHandle, type WorkflowPackage } from "../../src/index.js";

declare const rt: Runtime;

const hello = newPackage("hello")
  .entrypoint(z.object({ message: z.string() }), (run, input) => {
    expectTypeOf(input).toEqualTypeOf<{ message: string }>();
    run.step("greet", input, { kind: "greet" });
  })
  .build();

describe("a package built with a schema", () => {
  it("carries its input type", () => {
    expectTypeOf(hello).toEqualTypeOf<WorkflowPackage<{ message: string }>>();
  });

  it("makes startRun(pkg, input) check the input", () => {
    // @ts-expect-error message must be a string
    void rt.startRun(hello, { message: 42 });
    // @ts-expect-error message is required
    void rt.startRun(hello, {});
    expectTypeOf(rt.startRun(hello, { message: "hi" })).toEqualTypeOf<Promise<RunHandle>>();
    // @ts-expect-error every item's input is checked
    void rt.startRuns(hello, [{ input: { message: "a" } }, { input: { message: 1 } }]);
  });

  it("still accepts the package's name, unchecked", () => {
    void rt.startRun("hello", { message: 42 });
  });

  it("makes rt.schedule({ package: pkg, input }) check the input", () => {
    void rt.schedule({ id: "s", cron: "* * * * *", package: hello, input: { message: "hi" } });
    // @ts-expect-error message must be a string
    void rt.schedule({ id: "s", cron: "* * * * *", package: hello, input: { message: 42 } });
    void rt.schedule({ id: "s", cron: "* * * * *", package: "hello", input: { message: 42 } });
  });

  it("accepts the schema's input type where it differs from its output (a transform)", () => {
    const counted = newPackage("counted")
      .entrypoint(v.pipe(v.string(), v.transform((s) => s.length)), (_run, input) => {
        expectTypeOf(input).toEqualTypeOf<number>();
      })
      .build();
    void rt.startRun(counted, "abc");
    // @ts-expect-error the input is the string before the transform
    void rt.startRun(counted, 3);
  });

  it("types an entrypoint without a schema by what it declares", () => {
    const plain = newPackage("plain").entrypoint((_run, input: { n: number }) => void input).build();
    void rt.startRun(plain, { n: 1 });
    // @ts-expect-error n is a number
    void rt.startRun(plain, { n: "1" });
    rt.registerPackage(plain);
    rt.registerPackage(hello);
  });
});

describe("executors", () => {
  it("give a typed executor the schema's output, from zod or valibot", () => {
    newTypedExecutor("a", z.object({ to: z.string() }), async (_step, input) => {
      expectTypeOf(input).toEqualTypeOf<{ to: string }>();
    });
    newTypedExecutor("b", v.object({ n: v.number() }), async (_step, input) => {
      expectTypeOf(input).toEqualTypeOf<{ n: number }>();
      return input.n * 2;
    });
  });

  it("may return their result", () => {
    newExecutor("c", async () => ({ ok: true }));
    // @ts-expect-error an executor is async
    newExecutor("d", () => 1);
  });

  it("take only schemas", () => {
    // @ts-expect-error a plain object is not a schema
    newTypedExecutor("e", { parse: () => 1 }, async () => undefined);
  });
});
