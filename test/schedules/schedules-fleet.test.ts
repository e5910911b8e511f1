/**
 * Exactly one run per tick, whatever the processes do: three runtimes on one
 * store (each its own connection, as three processes would have), driven by
 * one fake clock through 30 simulated minutes of a `* * * * *` schedule with
 * `catchUp: "all"`. At random moments (a seeded RNG: a failure names its seed
 * and reproduces) a runtime is closed, sometimes in the middle of its cycle,
 * and reopened later; sometimes all of them are down across ticks. Every
 * runtime declares the schedule again when it opens, as an application does
 * at start.
 *
 * A crash between a tick's run start and the schedule's advance is what the
 * run id per tick is for: each cycle may lose (before or after its commit) a
 * schedule advance or a run start, as a connection dropping would, and the
 * runtime is then restarted. A runtime is also closed in the middle of its
 * cycle, on both stores (`close()` waits for a cycle's store call to return).
 */
import { afterEach, describe, expect, it } from "vitest";
import { FaultInjector } from "../../src/conformance/index.js";
import { isWorkflowError, type Runtime } from "../../src/index.js";
import { stores } from "../support/stores.js";
import { FakeClock, MINUTE, minuteTicks, runsOf, scheduleRuntime, seededRandom, ticksOf } from "./support.js";

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const PROCESSES = 3;

describe.each(stores("sfleet"))("three restarting runtimes on $name", (target) => {
  const open = new Set<Runtime>();
  afterEach(async () => {
    for (const rt of open) await rt.close();
    open.clear();
  });

  it.each([1, 2, 3])("seed %i: every tick of 30 minutes starts exactly one run", async (seed) => {
    const random = seededRandom(seed);
    const store = target.fresh();
    const clock = new FakeClock(T0);
    const errors: unknown[] = [];
    const slots: (Runtime | undefined)[] = Array.from({ length: PROCESSES });
    const faults: FaultInjector[] = [];
    let lost = 0;
    const start = async (i: number) => {
      const injector = (faults[i] = new FaultInjector());
      const rt = await scheduleRuntime(injector.wrap(store), clock, { errors });
      open.add(rt);
      await rt.schedule({ id: "minutely", cron: "* * * * *", package: "tick", catchUp: "all" });
      slots[i] = rt;
    };
    const stop = async (rt: Runtime, cycle?: Promise<unknown>) => {
      await Promise.all([cycle, rt.close()]);
      open.delete(rt);
    };
    // A cycle cut short by its runtime closing fails with the runtime or its store closed: that is the crash.
    const cycleOf = (rt: Runtime) =>
      rt.runOnce().then(
        () => true,
        (err: unknown) => {
          if (!isWorkflowError(err) || (err.code !== "runtime_closed" && err.code !== "store_error")) throw err;
          return false;
        },
      );
    for (let i = 0; i < PROCESSES; i++) await start(i);

    const end = T0 + 30 * MINUTE;
    while (clock.now < end) {
      clock.advance(Math.min(end - clock.now, 5_000 + Math.floor(random() * 40_000)));
      const cycles: Promise<unknown>[] = [];
      for (const [i, rt] of slots.entries()) {
        if (!rt) {
          if (random() < 0.35) cycles.push(start(i));
          continue;
        }
        const roll = random();
        if (roll < 0.1) {
          // This cycle's connection drops once: a schedule advance or a run start that did not reach the store, or committed unheard.
          (faults[i] as FaultInjector).inject({ method: roll < 0.05 ? "advanceSchedule" : "createRuns", when: random() < 0.5 ? "before" : "after" });
        }
        const cycle = cycleOf(rt);
        if (roll < 0.1 || random() < 0.15) {
          // Closed at a random moment (and after a lost write, as a process would die): mid-cycle, or right after it.
          slots[i] = undefined;
          cycles.push(random() < 0.5 ? stop(rt, cycle) : cycle.then(async (ok) => {
            if (!ok) lost++;
            await stop(rt);
          }));
        } else cycles.push(cycle);
      }
      await Promise.all(cycles);
    }
    // Everyone back, for one last cycle each: a tick whose firing was cut short is fired now.
    for (let i = 0; i < PROCESSES; i++) if (!slots[i]) await start(i);
    for (const rt of slots) await (rt as Runtime).runOnce();

    const rt = slots[0] as Runtime;
    const runs = await runsOf(rt, "minutely");
    expect(ticksOf(runs)).toEqual(minuteTicks(T0, end));
    expect(new Set(runs.map((r) => r.id)).size).toBe(runs.length);
    for (const run of runs) {
      expect(run.status).toBe("succeeded");
      expect(run.id).toBe(`schedule:minutely:${run.metadata["trellis.scheduleTick"]}`);
      const scheduled = (await rt.events(run.id)).filter((e) => e.type === "run_scheduled");
      expect(scheduled.map((e) => e.data)).toEqual([{ schedule: "minutely", tick: run.metadata["trellis.scheduleTick"] }]);
    }
    const [schedule] = await rt.listSchedules();
    expect(schedule).toMatchObject({ nextFireAt: new Date(end + MINUTE), lastTick: { at: new Date(end), outcome: "started" }, skippedTicks: 0 });
    expect(lost).toBeGreaterThan(0); // the seeds do lose writes
    // A lost write is reported by the cycle (it rejects); nothing else went wrong.
    expect(errors).toEqual([]);
  });
});
