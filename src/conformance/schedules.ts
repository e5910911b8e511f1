/**
 * Conformance: what a store keeps for schedules (`rt.schedule`): the upsert
 * that keeps a schedule's next fire time when cron and time zone stay, the
 * due query, pause and resume, the compare-and-set advance with its
 * `run_scheduled` event, and the next tick reported by `claim` as due.
 */
import { describe, expect, it } from "./runner.js";
import type { NewSchedule } from "../store/store.js";
import { tryEncode } from "../serialization.js";
import { newPackage } from "../package.js";
import { type ConformanceTarget, registerOk, useHarness } from "./harness.js";

const MINUTE = 60_000;
const encode = (value: unknown): string => {
  const encoded = tryEncode(value);
  if (!encoded.ok) throw encoded.error;
  return encoded.text;
};

export function schedulesSuite(target: ConformanceTarget): void {
  describe("schedules", () => {
    const h = useHarness(target);
    const schedule = (over: Partial<NewSchedule> = {}): NewSchedule => ({
      id: "s",
      cron: "* * * * *",
      timezone: "UTC",
      package: "p",
      input: encode({ n: 1 }),
      overlap: "allow",
      catchUp: "latest",
      nextFireAt: h().now + MINUTE,
      now: h().now,
      ...over,
    });
    const noLimits = { workerId: "w", limit: 10, leaseDuration: 30_000, policyFor: () => ({ maxWorkers: Infinity }) };

    it("creates, reads, lists and deletes schedules", async () => {
      const store = await h().store();
      const created = await store.putSchedule(schedule());
      expect(created).toMatchObject({ id: "s", cron: "* * * * *", timezone: "UTC", package: "p", overlap: "allow", catchUp: "latest", paused: false, skippedTicks: 0 });
      expect(created.nextFireAt).toBe(h().now + MINUTE);
      expect(created.lastTickAt).toBeUndefined();
      await store.putSchedule(schedule({ id: "a" }));
      expect((await store.listSchedules()).map((s) => s.id)).toEqual(["a", "s"]);
      expect(await store.getSchedule("s")).toEqual(created);
      expect(await store.deleteSchedule("s")).toBe(true);
      expect(await store.deleteSchedule("s")).toBe(false);
      expect(await store.getSchedule("s")).toBeUndefined();
    });

    it("an update keeps the next fire time while cron and time zone stay, and takes the new one when they change", async () => {
      const store = await h().store();
      const first = h().now + MINUTE;
      await store.putSchedule(schedule({ nextFireAt: first }));
      const kept = await store.putSchedule(schedule({ nextFireAt: first + 10 * MINUTE, input: encode({ n: 2 }), overlap: "skip", catchUp: "all" }));
      expect(kept).toMatchObject({ nextFireAt: first, overlap: "skip", catchUp: "all", input: encode({ n: 2 }) });
      const moved = await store.putSchedule(schedule({ cron: "*/5 * * * *", nextFireAt: first + 4 * MINUTE }));
      expect(moved.nextFireAt).toBe(first + 4 * MINUTE);
      const zoned = await store.putSchedule(schedule({ cron: "*/5 * * * *", timezone: "Europe/Berlin", nextFireAt: first + 3 * MINUTE }));
      expect(zoned.nextFireAt).toBe(first + 3 * MINUTE);
    });

    it("lists due schedules, earliest first, without paused ones", async () => {
      const store = await h().store();
      const now = h().now;
      await store.putSchedule(schedule({ id: "later", nextFireAt: now - 1_000 }));
      await store.putSchedule(schedule({ id: "earlier", nextFireAt: now - 2_000 }));
      await store.putSchedule(schedule({ id: "future", nextFireAt: now + 1 }));
      await store.putSchedule(schedule({ id: "paused", nextFireAt: now - 3_000 }));
      await store.setSchedulePaused("paused", true, undefined, now);
      expect((await store.dueSchedules(now, 10)).map((s) => s.id)).toEqual(["earlier", "later"]);
      expect((await store.dueSchedules(now, 1)).map((s) => s.id)).toEqual(["earlier"]);
    });

    it("pauses (keeping the next fire time) and resumes (taking the given one); unknown ids come back undefined", async () => {
      const store = await h().store();
      const first = h().now + MINUTE;
      await store.putSchedule(schedule({ nextFireAt: first }));
      const paused = await store.setSchedulePaused("s", true, undefined, h().now);
      expect(paused).toMatchObject({ paused: true, nextFireAt: first });
      // An update while paused stays paused.
      expect((await store.putSchedule(schedule({ overlap: "skip" }))).paused).toBe(true);
      const resumed = await store.setSchedulePaused("s", false, first + 5 * MINUTE, h().now);
      expect(resumed).toMatchObject({ paused: false, nextFireAt: first + 5 * MINUTE });
      expect(await store.setSchedulePaused("nope", true, undefined, h().now)).toBeUndefined();
    });

    it("advances by compare-and-set: of two stores advancing the same tick one wins, and only it logs run_scheduled", async () => {
      const rt = await h().runtime();
      registerOk(rt);
      rt.registerPackage(newPackage("p").entrypoint((run) => void run.step("one", null, { kind: "ok" })).build());
      const tick = h().now;
      await rt.startRun("p", null, { runId: "schedule:s:tick" });
      const [a, b] = [await h().store(), await h().store()];
      await a.putSchedule(schedule({ nextFireAt: tick }));
      const advance = { id: "s", expected: tick, next: tick + MINUTE, tick, outcome: "started" as const, runId: "schedule:s:tick", skipped: 0, now: tick };
      const results = await Promise.all([a.advanceSchedule(advance), b.advanceSchedule(advance)]);
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await a.getSchedule("s")).toMatchObject({ nextFireAt: tick + MINUTE, lastTickAt: tick, lastOutcome: "started", lastRunId: "schedule:s:tick" });
      const scheduled = (await rt.events("schedule:s:tick")).filter((e) => e.type === "run_scheduled");
      expect(scheduled.map((e) => e.data)).toEqual([{ schedule: "s", tick: new Date(tick).toISOString() }]);
      // A stale expectation writes nothing.
      expect(await a.advanceSchedule({ ...advance, next: tick + 2 * MINUTE })).toBe(false);
      // A skip keeps the last run and counts.
      expect(await a.advanceSchedule({ id: "s", expected: tick + MINUTE, next: undefined, tick: tick + MINUTE, outcome: "skipped", skipped: 3, now: tick })).toBe(true);
      const after = await a.getSchedule("s");
      expect(after).toMatchObject({ lastOutcome: "skipped", lastRunId: "schedule:s:tick", skippedTicks: 3 });
      expect(after?.nextFireAt).toBeUndefined();
      expect(await a.dueSchedules(tick + 10 * MINUTE, 10)).toEqual([]);
    });

    it("claim reports the earliest future tick of an unpaused schedule as due", async () => {
      const store = await h().store();
      const now = h().now;
      expect((await store.claim({ ...noLimits, now })).nextDueAt).toBeUndefined();
      await store.putSchedule(schedule({ id: "b", nextFireAt: now + 2 * MINUTE }));
      await store.putSchedule(schedule({ id: "a", nextFireAt: now + 5 * MINUTE }));
      expect((await store.claim({ ...noLimits, now })).nextDueAt).toBe(now + 2 * MINUTE);
      await store.setSchedulePaused("b", true, undefined, now);
      expect((await store.claim({ ...noLimits, now })).nextDueAt).toBe(now + 5 * MINUTE);
      // A tick that has come is the firing worker's, not a due time to sleep for.
      expect((await store.claim({ ...noLimits, now: now + 5 * MINUTE })).nextDueAt).toBeUndefined();
    });
  });
}
