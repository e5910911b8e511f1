/**
 * What a crash costs: a worker whose store writes outcomes slower than its
 * handlers run is SIGKILLed mid-drain. The steps it had executed without their
 * outcome committed run again elsewhere; there are at most
 * UNCOMMITTED_PER_WORKER × maxWorkers of them, however far the handlers could
 * have run ahead of the writes. Every step still commits once.
 */
import { describe, expect, it } from "vitest";
import { UNCOMMITTED_PER_WORKER } from "../../src/engine/scheduler.js";
import { checkDrained, type DrainShape, drainPackage, noRunRunning, startDrainBacklog } from "./drain.js";
import { pollUntil, STORE_KINDS, useCrashRuntime } from "./harness.js";

const RUNS = 200;
const SHAPE: DrainShape = { fanOut: 1, emitAudit: false };
const MAX_WORKERS = 4;
const BOUND = UNCOMMITTED_PER_WORKER * MAX_WORKERS;

describe.each(STORE_KINDS)("on %s", (kind) => {
  const env = useCrashRuntime(kind, drainPackage(SHAPE));

  it(`re-runs at most ${BOUND} executed steps after a SIGKILL, with writes slower than handlers`, async () => {
    await startDrainBacklog(env.rt, 0, RUNS);
    const config = { leaseDuration: 2_000, pollInterval: 50, maxWorkers: MAX_WORKERS };
    // Each batch of outcomes waits 150 ms before it is written: sub-millisecond
    // handlers could otherwise run far ahead of the commits.
    const victim = env.box.spawn({ workerId: "victim", completeDelayMs: 150, ...config });
    const victimStarts = () => env.box.starts().filter((s) => s.workerId === "victim").length;
    // Well past the bound, so that an unbounded worker would have shown it.
    await pollUntil("the victim to execute 4x the bound", async () => (victimStarts() >= 4 * BOUND ? true : undefined), 30_000, 10);
    expect(await victim.kill()).toEqual({ code: null, signal: "SIGKILL" });
    const executedByVictim = victimStarts();

    const survivor = env.box.spawn({ workerId: "survivor", ...config });
    await pollUntil("every run to finish", noRunRunning(env.rt), 45_000, 100);
    expect(await survivor.stop()).toEqual({ code: 0, signal: null });
    expect(survivor.errors).toEqual([]);

    // Each step committed once, by its last execution (checkDrained); the ones
    // the victim executed and the survivor ran again are what the crash cost.
    const steps = await checkDrained(env.rt, SHAPE, RUNS, env.box.starts());
    const reRun = steps.filter((s) => s.starts.length > 1);
    for (const s of reRun) expect(s.starts.map((l) => l.workerId), s.key).toEqual(["victim", "survivor"]);
    console.log(`[uncommitted bound, ${kind}] the victim executed ${executedByVictim} steps; ${reRun.length} ran again after the kill (bound ${BOUND})`);
    expect(reRun.length).toBeLessThanOrEqual(BOUND);
  });
});
