/**
 * Two worker processes drain one store: 300 runs of 10 steps (a fan-out /
 * fan-in graph each), started by the test process while both workers run. Every
 * step must be executed exactly once, by one of the two processes. On SQLite
 * and on PostgreSQL.
 */
import { describe, expect, it } from "vitest";
import { checkDrained, type DrainShape, drainPackage, noRunRunning, startDrainRuns, startsPerWorker } from "./drain.js";
import { pollUntil, STORE_KINDS, useCrashRuntime } from "./harness.js";

const RUNS = 300;
const SHAPE: DrainShape = { fanOut: 8, emitAudit: false }; // s0 → s1..s8 → s9: 10 steps a run

describe.each(STORE_KINDS)("on %s", (kind) => {
  const env = useCrashRuntime(kind, drainPackage(SHAPE));

  describe("two worker processes on one store", () => {
    it(`execute each of ${RUNS * 10} steps exactly once`, async () => {
      // A long lease: nothing is reclaimed from a live worker, so "at least once"
      // must be "exactly once" here.
      const config = { leaseDuration: 10_000, pollInterval: 20, maxWorkers: 8 };
      // A backlog before the workers exist, the rest while they drain it.
      await startDrainRuns(env.rt, 0, RUNS / 3);
      const workers = [env.box.spawn({ workerId: "drain-1", ...config }), env.box.spawn({ workerId: "drain-2", ...config })];
      await Promise.all(workers.map((w) => w.waitFor("ready")));
      await startDrainRuns(env.rt, RUNS / 3, RUNS);

      await pollUntil("every run to finish", noRunRunning(env.rt), 45_000, 100);
      for (const w of workers) expect(await w.stop()).toEqual({ code: 0, signal: null });
      for (const w of workers) expect(w.errors).toEqual([]);

      const starts = env.box.starts();
      const steps = await checkDrained(env.rt, SHAPE, RUNS, starts);
      // Exactly once: one executor start a step, and no reclaims.
      expect(steps.filter((s) => s.starts.length !== 1 || s.info.reclaims !== 0).map((s) => s.key)).toEqual([]);
      expect(starts).toHaveLength(RUNS * 10);
      // Both processes did work, each under its own pid.
      for (const w of workers) expect(starts.filter((s) => s.workerId === w.config.workerId).every((s) => s.pid === w.pid)).toBe(true);
      const perWorker = startsPerWorker(starts);
      console.log(`[two-process drain, ${kind}] executor starts per worker: ${JSON.stringify(perWorker)}`);
      for (const w of workers) expect(perWorker[w.config.workerId] ?? 0).toBeGreaterThan(0);
    });
  });
});
