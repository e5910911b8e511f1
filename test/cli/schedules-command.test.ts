/** `trellis schedules list | pause | resume` over a store with schedules, on both stores. */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { cliStoreTargets, inProcessCli } from "../support/cli.js";
import { FakeClock, MINUTE, scheduleRuntime } from "../schedules/support.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "trellis-cli-schedules-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const targets = cliStoreTargets("cli_sched", dir);
const trellis = inProcessCli(dir);

describe.each(targets)("trellis schedules on $name", ({ fresh }) => {
  it("lists schedules with their next and last ticks, pauses and resumes one", async () => {
    const { config, url } = fresh();
    const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
    const clock = new FakeClock(T0);
    const rt = await scheduleRuntime(config, clock);
    try {
      await rt.schedule({ id: "hourly", cron: "0 * * * *", timezone: "Europe/Berlin", package: "tick" });
      await rt.schedule({ id: "minutely", cron: "* * * * *", package: "tick" });
      clock.advance(MINUTE);
      await rt.runOnce();
    } finally {
      await rt.close();
    }
    const listed = await trellis("schedules", "list", "--store", url);
    expect(listed.code).toBe(0);
    const lines = listed.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^SCHEDULE\s+CRON\s+TIMEZONE\s+PACKAGE\s+STATE\s+NEXT\s+LAST TICK\s+LAST RUN$/);
    expect(lines[1]).toMatch(/^hourly\s+0 \* \* \* \*\s+Europe\/Berlin\s+tick\s+active\s+2026-01-01T13:00:00.000Z$/);
    expect(lines[2]).toMatch(/^minutely\s+\* \* \* \* \*\s+UTC\s+tick\s+active\s+2026-01-01T12:02:00.000Z\s+2026-01-01T12:01:00.000Z started\s+schedule:minutely:2026-01-01T12:01:00.000Z \(succeeded\)$/);
    const asJson = JSON.parse((await trellis("schedules", "list", "--store", url, "--json")).stdout);
    expect(asJson.map((s: { id: string }) => s.id)).toEqual(["hourly", "minutely"]);

    expect(await trellis("schedules", "pause", "hourly", "--store", url)).toMatchObject({ code: 0, stdout: "schedule hourly paused\n" });
    expect((await trellis("schedules", "list", "--store", url)).stdout).toMatch(/^hourly\s.*\spaused\s/m);
    const resumed = await trellis("schedules", "resume", "hourly", "--store", url, "--json");
    expect(JSON.parse(resumed.stdout)).toMatchObject({ ok: true, schedule: { id: "hourly", paused: false } });
    expect(await trellis("schedules", "pause", "nope", "--store", url)).toMatchObject({ code: 1, stderr: expect.stringContaining('no schedule "nope"') });
    expect((await trellis("schedules")).code).toBe(2);
    expect((await trellis("schedules", "frobnicate", "--store", url)).code).toBe(2);
  });
});
