/**
 * Versioned packages and executor aliases at the API's edge: what is refused
 * (and that nothing is registered or written then), and child runs that name
 * a version. How versions run across processes is in the conformance suite
 * (src/conformance/versions.ts) and test/crash/rolling-deploy.test.ts.
 */
import { afterEach, describe, expect, it } from "vitest";
import { newExecutor, newPackage, newRuntime, type Runtime } from "../src/index.js";
import { stores } from "./support/stores.js";

const code = async (f: () => unknown) => {
  try {
    await f();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return "ok";
};

describe("newPackage(name).version(v)", () => {
  it("refuses a version that is empty, too long or carries NUL, with invalid_input", async () => {
    const entry = () => undefined;
    for (const bad of ["", "  ", "x".repeat(101), "1\u0000", 2 as unknown as string]) {
      expect(await code(() => newPackage("p").version(bad).entrypoint(entry).build())).toBe("invalid_input");
    }
    expect(newPackage("p").version("1.2.0").entrypoint(entry).build().version).toBe("1.2.0");
    expect(newPackage("p").entrypoint(entry).build().version).toBeUndefined();
  });
});

describe.each(stores("versions"))("versions and aliases on $name", ({ fresh }) => {
  let rt: Runtime;
  afterEach(() => rt?.close());

  it("refuses a version registered twice or a version unknown at start, and writes nothing", async () => {
    rt = await newRuntime({ store: fresh() });
    const v = (version: string) => newPackage("p").version(version).entrypoint((run) => void run.step("s", null, { kind: "k" })).build();
    rt.registerPackage(v("1"));
    rt.registerPackage(v("10"));
    rt.registerPackage(v("9"));
    expect(await code(() => rt.registerPackage(v("1")))).toBe("duplicate_package");
    // An unversioned package cannot join versioned ones (which would be newest?).
    expect(await code(() => rt.registerPackage(newPackage("p").entrypoint(() => undefined).build()))).toBe("duplicate_package");
    expect(await code(() => rt.startRun("p", null, { runId: "r", version: "2" }))).toBe("unknown_package");
    expect(await rt.listRuns()).toEqual([]);
    // Newest by numeric parts: 10 after 9.
    await rt.startRun("p", null, { runId: "r" });
    expect((await rt.workflow("r"))?.packageVersion).toBe("10");
  });

  it("refuses an executor whose alias is taken, reserved or repeated, and registers none of its kinds", async () => {
    rt = await newRuntime({ store: fresh() });
    rt.registerExecutor(newExecutor("old", async () => "old"));
    const run = async () => "new";
    expect(await code(() => rt.registerExecutor(newExecutor("new", run, { aliases: ["old"] })))).toBe("duplicate_executor");
    expect(await code(() => rt.registerExecutor(newExecutor("new", run, { aliases: ["trellis/sleep"] })))).toBe("invalid_input");
    expect(await code(() => rt.registerExecutor(newExecutor("new", run, { aliases: ["x", "x"] })))).toBe("invalid_input");
    expect(await code(() => rt.registerExecutor(newExecutor("new", run, { aliases: [""] })))).toBe("invalid_input");
    // "new" was not registered by the refused calls: it still can be.
    rt.registerExecutor(newExecutor("new", run, { aliases: ["older"] }));
    rt.registerPackage(newPackage("p").entrypoint((b) => void b.step("s", null, { kind: "older" })).build());
    await rt.startRun("p", null, { runId: "r" });
    await rt.runOnce();
    expect((await rt.result("r", "s"))?.data).toBe("new");
  });

  it("a child run may name its package's version; otherwise another package's child runs its newest", async () => {
    rt = await newRuntime({ store: fresh() });
    rt.registerExecutor(newExecutor("echo", async (step) => step.rawInput()));
    for (const version of ["1", "2"]) {
      rt.registerPackage(newPackage("child").version(version).entrypoint((run) => void run.output(run.step("s", version, { kind: "echo" }))).build());
    }
    rt.registerPackage(
      newPackage("parent")
        .version("1")
        .entrypoint((run) => {
          run.childRun("pinned", "child", null, { version: "1" });
          run.childRun("newest", "child", null);
        })
        .build(),
    );
    await rt.startRun("parent", null, { runId: "p" });
    await rt.runOnce();
    expect(await rt.workflow("p")).toMatchObject({ status: "succeeded", packageVersion: "1" });
    expect((await rt.workflow("p/pinned"))?.packageVersion).toBe("1");
    expect((await rt.result("p", "pinned"))?.data).toBe("1");
    expect((await rt.workflow("p/newest"))?.packageVersion).toBe("2");
    expect((await rt.result("p", "newest"))?.data).toBe("2");

    // A version of a package that has no versions here fails the step for good (no process will have it).
    rt.registerPackage(newPackage("plain").entrypoint((run) => void run.output(run.step("s", "plain", { kind: "echo" }))).build());
    rt.registerPackage(newPackage("asks").entrypoint((run) => void run.childRun("c", "plain", null, { version: "3" })).build());
    await rt.startRun("asks", null, { runId: "a" });
    await rt.runOnce();
    expect((await rt.result("a", "c"))?.error).toMatchObject({ code: "unknown_package", retryable: false });
  });
});
