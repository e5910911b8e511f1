/**
 * Three worker processes drain one store: 400 runs of 6 steps (s0 → s1..s3 →
 * s4, and s4 emits s4-audit), 2400 steps. Once with every worker alive: each
 * step is executed exactly once. Once with a worker SIGKILLed mid-drain: every
 * step still finishes, and each is committed once, by the last execution.
 */
import { describe, expect, it } from "vitest";
import { checkDrained, type DrainShape, drainPackage, drainStepIds, noRunRunning, startDrainBacklog, startDrainRuns, startsPerWorker } from "./drain.js";
import { pollUntil, STORE_KINDS, useCrashRuntime } from "./harness.js";

const RUNS = 400;
// Steps of 3 ms: each worker buffers a few, so all three get a share even when
// the machine is loaded (with sub-millisecond steps one process could be starved
// of CPU for the whole drain while the other two hoarded it: seen under the full suite).
const SHAPE: DrainShape = { fanOut: 3, emitAudit: true, holdMs: 3 };
const STEPS = RUNS * drainStepIds(SHAPE).length;

describe.each(STORE_KINDS)("on %s", (kind) => {
  const env = useCrashRuntime(kind, drainPackage(SHAPE));

  describe("three worker processes on one store", () => {
    it(`execute each of ${STEPS} steps exactly once, all three doing work`, async () => {
      // A long lease: nothing is reclaimed from a live worker, so each step runs once.
      const config = { leaseDuration: 10_000, pollInterval: 50, maxWorkers: 4 };
      const workers = ["w1", "w2", "w3"].map((workerId) => env.box.spawn({ workerId, ...config }));
      // Runs only once all three are up, so that each gets a share: half at once
      // (one transaction), the rest one by one while they drain.
      await Promise.all(workers.map((w) => w.waitFor("ready")));
      await startDrainBacklog(env.rt, 0, RUNS / 2);
      await startDrainRuns(env.rt, RUNS / 2, RUNS);

      await pollUntil("every run to finish", noRunRunning(env.rt), 45_000, 100);
      for (const w of workers) expect(await w.stop()).toEqual({ code: 0, signal: null });
      for (const w of workers) expect(w.errors).toEqual([]);

      const starts = env.box.starts();
      const steps = await checkDrained(env.rt, SHAPE, RUNS, starts);
      expect(steps.filter((s) => s.starts.length !== 1 || s.info.reclaims !== 0).map((s) => s.key)).toEqual([]);
      expect(starts).toHaveLength(STEPS);
      const perWorker = startsPerWorker(starts);
      console.log(`[three-process drain, ${kind}] executor starts per worker: ${JSON.stringify(perWorker)}`);
      for (const w of workers) expect(perWorker[w.config.workerId] ?? 0).toBeGreaterThan(0);
    });

    it(`finish all ${STEPS} steps when one of them is SIGKILLed mid-drain; each step commits once`, async () => {
      // A short lease, so that the dead worker's steps are reclaimed soon.
      const config = { leaseDuration: 2000, pollInterval: 100, maxWorkers: 4 };
      await startDrainBacklog(env.rt, 0, RUNS);
      // The victim starts first, on the whole backlog; at its 40th execution it
      // hangs in the executor (others of its executors keep going) and is killed.
      const victim = env.box.spawn({ workerId: "victim", hangAtStart: 40, ...config });
      await victim.waitFor("ready");
      const survivors = ["s1", "s2"].map((workerId) => env.box.spawn({ workerId, ...config }));
      const hanging = await victim.waitFor("hanging");
      expect(await victim.kill()).toEqual({ code: null, signal: "SIGKILL" });

      await pollUntil("every run to finish", noRunRunning(env.rt), 45_000, 100);
      for (const w of survivors) expect(await w.stop()).toEqual({ code: 0, signal: null });
      for (const w of survivors) expect(w.errors).toEqual([]);

      const starts = env.box.starts();
      const steps = await checkDrained(env.rt, SHAPE, RUNS, starts);
      for (const { key, info, starts: s } of steps) {
        const [first, second, ...more] = s;
        expect(more, key).toEqual([]);
        if (info.reclaims === 0) {
          // Never leased by the victim, or committed by it before it died: one execution.
          expect(second, key).toBeUndefined();
        } else {
          // Leased by the victim when it died (running or buffered), reclaimed once
          // and committed by a survivor; the victim may have started it too.
          expect(info.reclaims, key).toBe(1);
          const committed = second ?? first;
          expect(committed?.workerId, key).not.toBe("victim");
          expect(committed?.reclaims, key).toBe(1);
          if (second) expect([first?.workerId, first?.reclaims], key).toEqual(["victim", 0]);
        }
      }
      // The step the victim hung in was executed twice and committed once, by a survivor.
      const hung = steps.find((s) => s.key === `${hanging.runId}/${hanging.stepId}`);
      expect(hung?.info.reclaims).toBe(1);
      expect(hung?.starts.map((l) => [l.workerId, l.reclaims])).toEqual([
        ["victim", 0],
        [hung?.starts[1]?.workerId, 1],
      ]);
      expect(["s1", "s2"]).toContain(hung?.starts[1]?.workerId);

      const perWorker = startsPerWorker(starts);
      const reclaimed = steps.filter((s) => s.info.reclaims > 0).length;
      const twice = steps.filter((s) => s.starts.length === 2).length;
      console.log(
        `[three-process drain with a kill, ${kind}] executor starts per worker: ${JSON.stringify(perWorker)}; ` +
          `steps reclaimed from the victim: ${reclaimed}, of which it had started: ${twice}`,
      );
      expect(perWorker.victim).toBeGreaterThanOrEqual(40); // its other executors ran on until the SIGKILL
      for (const w of survivors) expect(perWorker[w.config.workerId] ?? 0).toBeGreaterThan(0);
      expect(starts).toHaveLength(STEPS + twice);
    });
  });
});
