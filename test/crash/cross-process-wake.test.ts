/**
 * Workers in another process wake on new work at once: the worker below polls
 * once an hour, so only a wake-up (the SQLite store watches its WAL file) can
 * make it run the steps this process starts.
 */
import { describe, expect, it } from "vitest";
import { newPackage, requireSteps } from "../../src/index.js";
import { pollUntil, useCrashRuntime } from "./harness.js";

const env = useCrashRuntime(
  newPackage("wake")
    .entrypoint((run) => {
      const a = run.step("a", {}, { kind: "crash/noop" });
      run.step("b", {}, { kind: "crash/noop", dependsOn: requireSteps(a) });
    })
    .build(),
);

describe("wake-ups across processes", () => {
  it("an idle worker in another process runs new work without waiting for its poll", async () => {
    const worker = env.box.spawn({ workerId: "far", pollInterval: 3_600_000 });
    await worker.waitFor("ready");
    for (let i = 0; i < 3; i++) {
      await env.rt.startRun("wake", {}, { runId: `r${i}` });
      // Deadline far below the worker's poll interval: only a wake-up gets here.
      await pollUntil(`run r${i} to succeed`, async () => ((await env.rt.workflow(`r${i}`))?.status === "succeeded" ? true : undefined), 20_000);
    }
    const steps = await env.rt.steps("r2");
    expect(steps.map((s) => s.status)).toEqual(["succeeded", "succeeded"]);
    expect((await env.rt.result("r2", "b"))?.data).toMatchObject({ workerId: "far" });
    await worker.stop();
  });
});
