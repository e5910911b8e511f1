/**
 * The policies of a schedule on both stores, driven by a fake clock and
 * `runOnce`: overlap (allow / skip / cancel-previous) while the previous run
 * waits for a signal, catch-up (none / latest / all, and the bound of all)
 * after downtime, and a daily schedule across Europe/Berlin's DST changes.
 */
import { afterEach, describe, expect, it } from "vitest";
import { CATCH_UP_LIMIT, type Runtime } from "../../src/index.js";
import { stores } from "../support/stores.js";
import { FakeClock, MINUTE, minuteTicks, runsOf, scheduleRuntime, ticksOf } from "./support.js";

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const iso = (t: number) => new Date(t).toISOString();

describe.each(stores("spol"))("schedule policies on $name", (target) => {
  const open: Runtime[] = [];
  afterEach(async () => {
    for (const rt of open.splice(0)) await rt.close();
  });
  async function runtime(start = T0) {
    const clock = new FakeClock(start);
    const rt = await scheduleRuntime(target.fresh(), clock);
    open.push(rt);
    return { rt, clock };
  }

  describe("overlap, while the previous run waits for a signal", () => {
    async function twoTicks(overlap: "allow" | "skip" | "cancel-previous") {
      const { rt, clock } = await runtime();
      await rt.schedule({ id: "o", cron: "* * * * *", package: "held", overlap });
      clock.advance(MINUTE);
      await rt.runOnce();
      clock.advance(MINUTE);
      await rt.runOnce();
      return { rt, runs: await runsOf(rt, "o"), schedule: (await rt.listSchedules())[0] };
    }

    it("allow: both ticks start a run", async () => {
      const { runs } = await twoTicks("allow");
      expect(runs.map((r) => [r.metadata["trellis.scheduleTick"], r.status])).toEqual([
        [iso(T0 + MINUTE), "running"],
        [iso(T0 + 2 * MINUTE), "running"],
      ]);
    });

    it("skip: the second tick starts nothing and is recorded as skipped", async () => {
      const { runs, schedule } = await twoTicks("skip");
      expect(ticksOf(runs)).toEqual([iso(T0 + MINUTE)]);
      expect(schedule).toMatchObject({ skippedTicks: 1, lastTick: { at: new Date(T0 + 2 * MINUTE), outcome: "skipped" }, lastRun: { id: runs[0]?.id, status: "running" } });
    });

    it("cancel-previous: the second tick cancels the first run and starts its own", async () => {
      const { runs } = await twoTicks("cancel-previous");
      expect(runs.map((r) => [r.metadata["trellis.scheduleTick"], r.status])).toEqual([
        [iso(T0 + MINUTE), "canceled"],
        [iso(T0 + 2 * MINUTE), "running"],
      ]);
    });
  });

  it("skip starts the next tick once the previous run has finished", async () => {
    const { rt, clock } = await runtime();
    await rt.schedule({ id: "o", cron: "* * * * *", package: "held", overlap: "skip" });
    clock.advance(MINUTE);
    await rt.runOnce();
    const [first] = await runsOf(rt, "o");
    await rt.signal(first?.id as string, "go");
    await rt.runOnce();
    clock.advance(MINUTE);
    await rt.runOnce();
    expect(ticksOf(await runsOf(rt, "o"))).toEqual([iso(T0 + MINUTE), iso(T0 + 2 * MINUTE)]);
  });

  describe("catch-up after ten minutes (and a half) of downtime", () => {
    async function afterDowntime(catchUp: "none" | "latest" | "all") {
      const { rt, clock } = await runtime();
      await rt.schedule({ id: "c", cron: "* * * * *", package: "tick", catchUp });
      clock.advance(10 * MINUTE + 30_000); // ticks T0+1m .. T0+10m came while nothing ran
      await rt.runOnce();
      return { rt, clock, runs: await runsOf(rt, "c"), schedule: (await rt.listSchedules())[0] };
    }

    it("none: no missed tick fires; the schedule goes on from the next future tick", async () => {
      const { rt, clock, runs, schedule } = await afterDowntime("none");
      expect(runs).toEqual([]);
      expect(schedule).toMatchObject({ nextFireAt: new Date(T0 + 11 * MINUTE), skippedTicks: 10, lastTick: { at: new Date(T0 + 10 * MINUTE), outcome: "skipped" } });
      clock.advance(30_000);
      await rt.runOnce();
      expect(ticksOf(await runsOf(rt, "c"))).toEqual([iso(T0 + 11 * MINUTE)]);
    });

    it("latest: only the most recent missed tick fires", async () => {
      const { runs, schedule } = await afterDowntime("latest");
      expect(ticksOf(runs)).toEqual([iso(T0 + 10 * MINUTE)]);
      expect(schedule).toMatchObject({ nextFireAt: new Date(T0 + 11 * MINUTE), skippedTicks: 9 });
    });

    it("all: every missed tick fires, oldest first", async () => {
      const { runs, schedule } = await afterDowntime("all");
      expect(ticksOf(runs)).toEqual(minuteTicks(T0, T0 + 10 * MINUTE));
      expect(runs.every((r) => r.status === "succeeded")).toBe(true);
      expect(schedule).toMatchObject({ nextFireAt: new Date(T0 + 11 * MINUTE), skippedTicks: 0 });
    });

    it(`all is bounded: at most the ${CATCH_UP_LIMIT} most recent missed ticks fire`, async () => {
      const { rt, clock } = await runtime();
      await rt.schedule({ id: "secs", cron: "* * * * * *", package: "tick", catchUp: "all" });
      clock.advance(150_000); // 150 ticks of a seconds schedule
      await rt.runOnce();
      const ticks = ticksOf(await runsOf(rt, "secs"));
      expect(ticks).toHaveLength(CATCH_UP_LIMIT);
      expect(ticks[0]).toBe(iso(T0 + 51_000));
      expect(ticks.at(-1)).toBe(iso(T0 + 150_000));
      expect((await rt.listSchedules())[0]?.nextFireAt).toEqual(new Date(T0 + 151_000));
    });
  });

  describe("DST in Europe/Berlin, as croner documents it", () => {
    async function daily(cron: string, from: number, hours: number) {
      const { rt, clock } = await runtime(from);
      await rt.schedule({ id: "d", cron, timezone: "Europe/Berlin", package: "tick", catchUp: "all" });
      for (let h = 0; h < hours; h++) {
        clock.advance(60 * MINUTE);
        await rt.runOnce();
      }
      return ticksOf(await runsOf(rt, "d"));
    }

    it("spring forward: a daily 02:30, which does not exist on 29 March, fires once that day at the first valid time after the gap (03:00 CEST)", async () => {
      expect(await daily("30 2 * * *", Date.UTC(2026, 2, 27, 12), 72)).toEqual([
        "2026-03-28T01:30:00.000Z", // 02:30 CET
        "2026-03-29T01:00:00.000Z", // 03:00 CEST
        "2026-03-30T00:30:00.000Z", // 02:30 CEST
      ]);
    });

    it("autumn repeat: a daily 02:30, which happens twice on 25 October, fires once, at its first occurrence (CEST)", async () => {
      expect(await daily("30 2 * * *", Date.UTC(2026, 9, 23, 12), 72)).toEqual([
        "2026-10-24T00:30:00.000Z", // 02:30 CEST
        "2026-10-25T00:30:00.000Z", // 02:30 CEST, the first of the two
        "2026-10-26T01:30:00.000Z", // 02:30 CET
      ]);
    });

    it("an interval schedule (every 30 minutes) fires in both passes through the repeated hour", async () => {
      const ticks = await daily("*/30 * * * *", Date.UTC(2026, 9, 24, 23, 45), 3);
      const berlin = new Intl.DateTimeFormat("en-GB", { timeZone: "Europe/Berlin", hour: "2-digit", minute: "2-digit", timeZoneName: "short" });
      expect(ticks.map((t) => berlin.format(new Date(t)))).toEqual(["02:00 CEST", "02:30 CEST", "02:00 CET", "02:30 CET", "03:00 CET", "03:30 CET"]);
      expect(ticks[0]).toBe("2026-10-25T00:00:00.000Z");
    });
  });
});
