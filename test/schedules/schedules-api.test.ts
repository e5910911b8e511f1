/**
 * rt.schedule and its siblings on both stores, driven by a fake clock and
 * `runOnce`: validation that names the field, create / update / pause /
 * resume / unschedule, what a fired tick leaves (run id, metadata, event
 * log), rt.stats(), and a process without the package leaving the schedule
 * to one that has it.
 */
import { afterEach, describe, expect, it } from "vitest";
import { type Runtime, isWorkflowError, newPackage, scheduledRunId } from "../../src/index.js";
import { stores } from "../support/stores.js";
import { FakeClock, MINUTE, runsOf, scheduleRuntime, ticksOf } from "./support.js";

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

async function failure(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (err) {
    if (isWorkflowError(err)) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error("expected a rejection");
}

describe.each(stores("sapi"))("schedules on $name", (target) => {
  const open: Runtime[] = [];
  afterEach(async () => {
    for (const rt of open.splice(0)) await rt.close();
  });
  async function runtime(store = target.fresh(), clock = new FakeClock(T0), opts: { packages?: boolean } = {}) {
    const rt = await scheduleRuntime(store, clock, opts);
    open.push(rt);
    return { rt, clock, store };
  }

  it("refuses bad input with a WorkflowError naming the field, and writes nothing", async () => {
    const { rt } = await runtime();
    expect(await failure(rt.schedule({ id: "s", cron: "every minute", package: "tick" }))).toMatchObject({ code: "invalid_input", message: expect.stringMatching(/schedule "s": cron: /) });
    expect(await failure(rt.schedule({ id: "s", cron: "61 * * * *", package: "tick" }))).toMatchObject({ code: "invalid_input", message: expect.stringMatching(/cron: /) });
    expect(await failure(rt.schedule({ id: "s", cron: "* * * * *", timezone: "Mars/Olympus", package: "tick" }))).toMatchObject({ code: "invalid_input", message: expect.stringMatching(/timezone: unknown IANA time zone "Mars\/Olympus"/) });
    expect(await failure(rt.schedule({ id: "s", cron: "* * * * *", package: "nope" }))).toMatchObject({ code: "unknown_package", message: expect.stringMatching(/schedule "s": package: /) });
    expect(await failure(rt.schedule({ id: "s", cron: "0 0 30 2 *", package: "tick" }))).toMatchObject({ code: "invalid_input", message: expect.stringMatching(/has no future tick/) });
    expect(await failure(rt.schedule({ id: "", cron: "* * * * *", package: "tick" }))).toMatchObject({ code: "invalid_input", message: expect.stringMatching(/^schedule: id: /) });
    expect(await failure(rt.schedule({ id: "s", cron: "* * * * *", package: "tick", overlap: "queue" as never }))).toMatchObject({ code: "invalid_input", message: expect.stringMatching(/overlap/) });
    expect(await failure(rt.schedule({ id: "s", cron: "* * * * *", package: "tick", input: () => 1 }))).toMatchObject({ code: "invalid_input", message: expect.stringMatching(/input/) });
    const typed = newPackage("typed").entrypoint({ "~standard": { version: 1, vendor: "test", validate: (v: unknown) => (typeof v === "number" ? { value: v } : { issues: [{ message: "a number" }] }) } }, (run) => void run.step("x", null, { kind: "tick/ok" })).build();
    rt.registerPackage(typed);
    expect(await failure(rt.schedule({ id: "s", cron: "* * * * *", package: typed, input: "one" }))).toMatchObject({ code: "invalid_input", message: expect.stringMatching(/schedule "s": input of package "typed"/) });
    expect(await rt.listSchedules()).toEqual([]);
    expect(await failure(rt.pauseSchedule("missing"))).toMatchObject({ code: "not_found" });
    expect(await failure(rt.resumeSchedule("missing"))).toMatchObject({ code: "not_found" });
    expect(await rt.unschedule("missing")).toBe(false);
  });

  it("fires a tick once it has come: one run with the tick in its id, metadata and event log", async () => {
    const { rt, clock } = await runtime();
    const info = await rt.schedule({ id: "every-minute", cron: "* * * * *", package: "tick", input: { n: 1 } });
    expect(info).toMatchObject({ id: "every-minute", timezone: "UTC", overlap: "allow", catchUp: "latest", paused: false, nextFireAt: new Date(T0 + MINUTE), input: { n: 1 } });
    await rt.runOnce();
    expect(await runsOf(rt, "every-minute")).toEqual([]);
    clock.advance(MINUTE + 250); // a little late: still this tick
    await rt.runOnce();
    const [run, ...others] = await runsOf(rt, "every-minute");
    expect(others).toEqual([]);
    const tick = new Date(T0 + MINUTE).toISOString();
    expect(run?.id).toBe(scheduledRunId("every-minute", T0 + MINUTE));
    expect(run?.id).toBe(`schedule:every-minute:${tick}`);
    expect(run?.status).toBe("succeeded");
    expect(run?.metadata).toMatchObject({ "trellis.schedule": "every-minute", "trellis.scheduleTick": tick });
    const events = await rt.events(run?.id as string);
    expect(events.filter((e) => e.type === "run_scheduled").map((e) => e.data)).toEqual([{ schedule: "every-minute", tick }]);
    expect((await rt.result(run?.id as string, "only"))?.data).toEqual({ n: 1 });
    const [listed] = await rt.listSchedules();
    expect(listed).toMatchObject({ nextFireAt: new Date(T0 + 2 * MINUTE), lastTick: { at: new Date(T0 + MINUTE), outcome: "started" }, lastRun: { id: run?.id, status: "succeeded" } });
    // Another cycle in the same minute fires nothing more.
    await rt.runOnce();
    expect(await runsOf(rt, "every-minute")).toHaveLength(1);
  });

  it("an update keeps the next fire time unless cron or time zone change; pause stops firing, resume skips what passed", async () => {
    const { rt, clock } = await runtime();
    await rt.schedule({ id: "s", cron: "*/10 * * * *", package: "tick" });
    clock.advance(5 * MINUTE);
    const same = await rt.schedule({ id: "s", cron: "*/10 * * * *", package: "tick", input: { v: 2 }, overlap: "skip" });
    expect(same).toMatchObject({ nextFireAt: new Date(T0 + 10 * MINUTE), overlap: "skip", input: { v: 2 } });
    const changed = await rt.schedule({ id: "s", cron: "*/15 * * * *", package: "tick" });
    expect(changed.nextFireAt).toEqual(new Date(T0 + 15 * MINUTE));
    expect((await rt.pauseSchedule("s")).paused).toBe(true);
    clock.advance(40 * MINUTE); // T0+45m: ticks at 15, 30 and 45 passed while paused
    await rt.runOnce();
    expect(await runsOf(rt, "s")).toEqual([]);
    const resumed = await rt.resumeSchedule("s");
    expect(resumed).toMatchObject({ paused: false, nextFireAt: new Date(T0 + 60 * MINUTE) });
    await rt.runOnce();
    expect(await runsOf(rt, "s")).toEqual([]);
    clock.advance(15 * MINUTE);
    await rt.runOnce();
    expect(ticksOf(await runsOf(rt, "s"))).toEqual([new Date(T0 + 60 * MINUTE).toISOString()]);
    expect(await rt.unschedule("s")).toBe(true);
    expect(await rt.listSchedules()).toEqual([]);
    clock.advance(15 * MINUTE);
    await rt.runOnce();
    expect(await runsOf(rt, "s")).toHaveLength(1); // its runs stay; it fires no more
  });

  it("rt.stats() counts the schedules, the paused ones, and the next fire time", async () => {
    const { rt } = await runtime();
    expect((await rt.stats()).schedules).toEqual({ count: 0, paused: 0 });
    await rt.schedule({ id: "a", cron: "0 * * * *", package: "tick" });
    await rt.schedule({ id: "b", cron: "*/5 * * * *", package: "tick" });
    expect((await rt.stats()).schedules).toEqual({ count: 2, paused: 0, nextFireAt: new Date(T0 + 5 * MINUTE) });
    await rt.pauseSchedule("b");
    expect((await rt.stats()).schedules).toEqual({ count: 2, paused: 1, nextFireAt: new Date(T0 + 60 * MINUTE) });
  });

  it("a process without the package leaves the schedule to one that has it", async () => {
    const { rt: withPackage, clock, store } = await runtime();
    const { rt: without } = await runtime(store, clock, { packages: false });
    await withPackage.schedule({ id: "s", cron: "* * * * *", package: "tick" });
    clock.advance(MINUTE);
    await without.runOnce();
    expect(await runsOf(without, "s")).toEqual([]);
    expect((await without.listSchedules())[0]?.nextFireAt).toEqual(new Date(T0 + MINUTE));
    await withPackage.runOnce();
    expect(ticksOf(await runsOf(withPackage, "s"))).toEqual([new Date(T0 + MINUTE).toISOString()]);
  });

  it("a tick whose start fails is recorded as failed, and the schedule goes on", async () => {
    const { rt, clock } = await runtime();
    let fail = true;
    rt.registerPackage(newPackage("flaky").entrypoint((run) => {
      if (fail) throw new Error("not today");
      run.step("x", null, { kind: "tick/ok" });
    }).build());
    await rt.schedule({ id: "f", cron: "* * * * *", package: "flaky" });
    clock.advance(MINUTE);
    await rt.runOnce();
    const [failed] = await rt.listSchedules();
    expect(failed?.lastTick).toMatchObject({ outcome: "failed", error: expect.stringMatching(/not today/) });
    expect(failed?.nextFireAt).toEqual(new Date(T0 + 2 * MINUTE));
    fail = false;
    clock.advance(MINUTE);
    await rt.runOnce();
    expect(ticksOf(await runsOf(rt, "f"))).toEqual([new Date(T0 + 2 * MINUTE).toISOString()]);
  });
});
