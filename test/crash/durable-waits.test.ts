/**
 * Durable waits survive a killed worker: runs that sleep or wait for a signal
 * in a worker process that is then SIGKILLed finish in a new worker process,
 * including the signal sent while no worker ran. The new worker polls once an
 * hour, so it can only get there by sleeping until the timers' due time and by
 * the wake-up of the signal it finds stored.
 */
import { describe, expect, it } from "vitest";
import { newPackage, requireSteps } from "../../src/index.js";
import { pollUntil, STORE_KINDS, useCrashRuntime } from "./harness.js";

const SLEEP_MS = 1_500;
const nap = newPackage("nap")
  .entrypoint((run) => {
    const nap = run.sleep("nap", SLEEP_MS);
    run.step("after", {}, { kind: "crash/noop", dependsOn: requireSteps(nap) });
  })
  .build();
const gate = newPackage("gate")
  .entrypoint((run) => {
    const go = run.waitForSignal("go", "go");
    run.step("after", {}, { kind: "crash/noop", dependsOn: requireSteps(go) });
  })
  .build();

describe.each(STORE_KINDS)("on %s", (kind) => {
  const env = useCrashRuntime(kind, nap, gate);

  describe("durable waits across a crash", () => {
    it("a killed worker's sleeping and waiting runs finish in the next worker, signal included", async () => {
      const { rt, box } = env;
      const runs = ["n0", "n1", "n2"];
      const gates = ["g0", "g1"];
      for (const id of runs) await rt.startRun("nap", {}, { runId: id });
      for (const id of gates) await rt.startRun("gate", {}, { runId: id });

      const first = box.spawn({ workerId: "first", pollInterval: 3_600_000 });
      await first.waitFor("ready");
      const waiting = async () => {
        const all = [...runs, ...gates];
        const statuses = await Promise.all(all.map(async (id) => (await rt.steps(id))[0]?.status));
        return statuses.every((s) => s === "waiting") ? true : undefined;
      };
      await pollUntil("every run to wait", waiting);
      await first.kill();

      // Sent while no worker runs at all.
      for (const id of gates) expect(await rt.signal(id, "go", { from: "test" })).toEqual({ delivered: true });

      const second = box.spawn({ workerId: "second", pollInterval: 3_600_000 });
      await second.waitFor("ready");
      for (const id of [...runs, ...gates]) {
        await pollUntil(`run ${id} to succeed`, async () => ((await rt.workflow(id))?.status === "succeeded" ? true : undefined), 20_000);
      }
      for (const id of runs) {
        const sleep = (await rt.steps(id)).find((s) => s.id === "nap");
        // It ended at its due time, not before (wakeAt was set by the first worker).
        expect(sleep?.finishedAt?.getTime()).toBeGreaterThanOrEqual(sleep?.wakeAt?.getTime() ?? Infinity);
        const late = (sleep?.finishedAt?.getTime() ?? NaN) - (sleep?.wakeAt?.getTime() ?? NaN);
        console.log(`[durable waits, ${kind}] ${id}: sleep finished ${late} ms after its due time (in the second worker)`);
      }
      for (const id of gates) expect((await rt.result(id, "go"))?.data).toEqual({ from: "test" });
      // Every executor step ran once, in the second worker (the first only parked the waits).
      expect(box.starts().map((l) => `${l.workerId} ${l.runId}/${l.stepId}`).sort()).toEqual([...gates, ...runs].map((r) => `second ${r}/after`).sort());
      expect(await second.stop()).toEqual({ code: 0, signal: null });
      expect(second.errors).toEqual([]);
    });

    it("an idle worker in another process wakes for a runAt set by this one, with no poll", async () => {
      const { rt, box } = env;
      const worker = box.spawn({ workerId: "idle", pollInterval: 3_600_000 });
      await worker.waitFor("ready");
      rt.registerPackage(
        newPackage("later").entrypoint((run, at) => void run.step("s", {}, { kind: "crash/noop", runAt: new Date(at as number) })).build(),
      );
      const at = Date.now() + 600;
      await rt.startRun("later", at, { runId: "l" });
      await pollUntil("the runAt step to run", async () => ((await rt.workflow("l"))?.status === "succeeded" ? true : undefined), 20_000);
      const start = box.starts().find((l) => l.runId === "l");
      expect(start?.at).toBeGreaterThanOrEqual(at);
      console.log(`[runAt across processes, ${kind}] started ${(start?.at ?? NaN) - at} ms after its runAt`);
      expect(await worker.stop()).toEqual({ code: 0, signal: null });
    });
  });
});
