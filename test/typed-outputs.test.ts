/**
 * What the typed-output API does at run time (its types are pinned in
 * test/types/typed-outputs.test-d.ts): a step may name its executor object as
 * `kind`, an entrypoint may return its output step's handle, a handle reads a
 * dependency's data, and `childRun` takes a package object.
 */
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { newExecutor, newPackage, newRuntime, newTypedExecutor, type Runtime } from "../src/index.js";
import { stores } from "./support/stores.js";

const fetchUser = newTypedExecutor("users/fetch", z.object({ id: z.number() }), async (_step, input) => ({ id: input.id, name: `user ${input.id}` }));
const greet = newExecutor("greet", async (step) => {
  const user = await step.dependencyData({ id: "fetch" });
  return `hello ${(user as { name: string }).name}`;
});

const profile = newPackage("profile")
  .entrypoint(z.object({ userId: z.number() }), (run, input) => {
    const fetched = run.step("fetch", { id: input.userId }, { kind: fetchUser });
    return run.step("greet", null, { kind: greet, dependsOn: [{ stepId: fetched.id, required: true }] });
  })
  .build();

const family = newPackage("family")
  .entrypoint((run) => run.childRun("child", profile, { userId: 7 }))
  .build();

describe.each(stores("typed_outputs"))("typed outputs on $name", (target) => {
  const open: Runtime[] = [];
  afterEach(async () => {
    for (const rt of open.splice(0)) await rt.close();
  });

  async function runtime() {
    const rt = await newRuntime({ store: target.fresh() });
    open.push(rt);
    rt.registerExecutor(fetchUser);
    rt.registerExecutor(greet);
    rt.registerPackage(profile);
    rt.registerPackage(family);
    return rt;
  }

  async function drain(rt: Runtime, runId: string) {
    const ac = new AbortController();
    const workers = rt.startWorkers({ signal: ac.signal, pollInterval: 10 });
    const run = await rt.waitForRun(runId, { timeout: 20_000 });
    ac.abort();
    await workers;
    return run;
  }

  it("runs steps named by executor object, and the returned handle is the run's output", async () => {
    const rt = await runtime();
    const run = await rt.startRun(profile, { userId: 3 });
    expect((await rt.step(run.id, "fetch"))?.kind).toBe("users/fetch");
    expect((await drain(rt, run.id)).status).toBe("succeeded");
    expect(await rt.output(run)).toBe("hello user 3");
    expect((await rt.result(run.id, { id: "fetch" }))?.data).toEqual({ id: 3, name: "user 3" });
  });

  it("childRun takes the package object and its output becomes the step's data", async () => {
    const rt = await runtime();
    const run = await rt.startRun(family, null);
    expect((await drain(rt, run.id)).status).toBe("succeeded");
    expect(await rt.output(run)).toBe("hello user 7");
  });

  it("refuses an entrypoint that returns something other than a handle of its run, writing nothing", async () => {
    const rt = await runtime();
    rt.registerPackage(newPackage("returns-text").entrypoint((run) => {
      run.step("a", null, { kind: "greet" });
      return "a" as unknown as void; // what a JavaScript caller could do
    }).build());
    rt.registerPackage(newPackage("returns-foreign").entrypoint((run) => {
      run.step("a", null, { kind: "greet" });
      return { id: "not-a-step-here" };
    }).build());
    await expect(rt.startRun("returns-text", null, { runId: "t" })).rejects.toMatchObject({ code: "invalid_input" });
    await expect(rt.startRun("returns-foreign", null, { runId: "f" })).rejects.toMatchObject({ code: "invalid_input" });
    expect(await rt.workflow("t")).toBeUndefined();
    expect(await rt.workflow("f")).toBeUndefined();
  });
});
