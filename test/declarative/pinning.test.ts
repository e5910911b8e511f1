/**
 * A run is pinned to the definition it started with, which is stored with the
 * run: a runtime restarted with a changed file (same ref, a new version) carries
 * the run on under its old definition, even in a process that never loaded it.
 */
import { describe, expect, it } from "vitest";
import { forgetCompiled } from "../../src/declarative/context.js";
import { parseWorkflow } from "../../src/declarative/index.js";
import { newRuntime } from "../../src/index.js";
import { stores } from "../support/stores.js";
import { testExecutors } from "./support.js";

const version = (v: string, greeting: string, extra = "") => `
ref: t.pinned
version: "${v}"
tasks:
  - name: gate
    action: core.inquiry
    on_success: greet
  - name: greet
    action: t.echo
    input: { text: "${greeting} {{ task.gate.result.name }}" }
${extra}`;

describe.each(stores("dpin"))("pinning on $name", (target) => {
  it("a run started under v1 finishes under v1 after the file changed to v2; new runs take v2", async () => {
    const store = target.fresh();
    const calls = new Map<string, unknown[]>();
    const first = await newRuntime({ store });
    for (const e of testExecutors(new Map())) first.registerExecutor(e);
    first.registerPackage(parseWorkflow(version("1", "hello")));
    const { id } = await first.startRun("t.pinned", {});
    await first.runOnce(); // the definition step runs; the gate waits
    expect((await first.steps(id)).find((s) => s.id === "gate")?.status).toBe("waiting");
    await first.close();

    // A new process: it never compiled v1, and its file now says v2.
    forgetCompiled();
    const second = await newRuntime({ store });
    try {
      for (const e of testExecutors(calls)) second.registerExecutor(e);
      second.registerPackage(parseWorkflow(version("2", "goodbye", "  - name: unused\n    action: core.noop\n")));
      forgetCompiled();
      await second.signal(id, "inquiry:gate", { name: "ada" });
      const fresh = await second.startRun("t.pinned", {});
      await second.signal(fresh.id, "inquiry:gate", { name: "bob" });
      const ac = new AbortController();
      const workers = second.startWorkers({ signal: ac.signal });
      try {
        expect((await second.waitForRun(id, { timeout: 20_000 })).status).toBe("succeeded");
        expect((await second.waitForRun(fresh.id, { timeout: 20_000 })).status).toBe("succeeded");
      } finally {
        ac.abort();
        await workers;
      }
      expect(calls.get("t.echo")).toEqual(expect.arrayContaining([{ text: "hello ada" }, { text: "goodbye bob" }]));
      expect((await second.workflow(id))?.metadata["declarative.version"]).toBe("1");
      expect((await second.workflow(fresh.id))?.metadata["declarative.version"]).toBe("2");
      expect((await second.steps(fresh.id)).some((s) => s.id === "unused")).toBe(true);
    } finally {
      await second.close();
    }
  });

  it("versions side by side: startRun takes the newest, { version } picks one, an unknown one is unknown_package", async () => {
    const rt = await newRuntime({ store: target.fresh() });
    const calls = new Map<string, unknown[]>();
    try {
      for (const e of testExecutors(calls)) rt.registerExecutor(e);
      const plain = (v: string, text: string) => `ref: t.versions\nversion: "${v}"\ntasks:\n  - name: say\n    action: t.echo\n    input: { text: ${text} }\n`;
      rt.registerPackage(parseWorkflow(plain("1.10.0", "ten")));
      rt.registerPackage(parseWorkflow(plain("1.9.0", "nine")));
      expect(() => rt.registerPackage(parseWorkflow(plain("1.9.0", "again")))).toThrow(expect.objectContaining({ code: "duplicate_package" }));
      const newest = await rt.startRun("t.versions", {});
      const older = await rt.startRun("t.versions", {}, { version: "1.9.0" });
      await expect(rt.startRun("t.versions", {}, { version: "2" })).rejects.toMatchObject({ code: "unknown_package" });
      const ac = new AbortController();
      const workers = rt.startWorkers({ signal: ac.signal });
      try {
        for (const id of [newest.id, older.id]) expect((await rt.waitForRun(id, { timeout: 20_000 })).status).toBe("succeeded");
      } finally {
        ac.abort();
        await workers;
      }
      expect((await rt.workflow(newest.id))?.metadata["declarative.version"]).toBe("1.10.0");
      expect((await rt.workflow(older.id))?.metadata["declarative.version"]).toBe("1.9.0");
      // Recorded as the run's package version too, like a code package's.
      expect((await rt.workflow(newest.id))?.packageVersion).toBe("1.10.0");
      expect((await rt.workflow(older.id))?.packageVersion).toBe("1.9.0");
      expect(calls.get("t.echo")).toEqual(expect.arrayContaining([{ text: "ten" }, { text: "nine" }]));
    } finally {
      await rt.close();
    }
  });
});
