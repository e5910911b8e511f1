/**
 * `trellis schedules list | pause | resume`: the schedules of a store (see
 * docs/schedules.md), read and paused or resumed by an operator, with no
 * workers. The same options and output as `trellis runs`.
 */
import type { ScheduleInfo } from "../../engine/schedules.js";
import { ExitCodes, type CliCommand } from "../command.js";
import { cell, json, table } from "../output.js";
import { parse, withRuntime } from "../runs/context.js";
import { subcommands } from "../runs/dispatch.js";
import type { Subcommand } from "../runs/subcommand.js";

const list: Subcommand = {
  usage: "trellis schedules list [--store URL] [--json]",
  summary: "every schedule with its next tick, last tick and last run",
  async run(argv, io) {
    const { values } = parse(argv, {}, [], this.usage);
    const schedules = await withRuntime(values.store, io, (rt) => rt.listSchedules());
    if (values.json) io.stdout.write(json(schedules));
    else {
      const rows = schedules.map((s) => [s.id, s.cron, s.timezone, s.package, s.paused ? "paused" : "active", s.nextFireAt, lastTick(s), s.lastRun && `${s.lastRun.id} (${s.lastRun.status ?? "purged"})`]);
      io.stdout.write(table(["SCHEDULE", "CRON", "TIMEZONE", "PACKAGE", "STATE", "NEXT", "LAST TICK", "LAST RUN"], rows, "no schedules"));
    }
    return ExitCodes.ok;
  },
};

const lastTick = (s: ScheduleInfo) => s.lastTick && `${s.lastTick.at.toISOString()} ${s.lastTick.outcome}`;

function pauseOrResume(name: "pause" | "resume"): Subcommand {
  return {
    usage: `trellis schedules ${name} <scheduleId> [--store URL] [--json]`,
    summary: name === "pause" ? "stop firing a schedule" : "fire a paused schedule again from its next tick (missed ticks are not fired)",
    async run(argv, io) {
      const { values, positionals } = parse(argv, {}, ["scheduleId"], this.usage);
      const id = positionals[0] as string;
      const schedule = await withRuntime(values.store, io, (rt) => (name === "pause" ? rt.pauseSchedule(id) : rt.resumeSchedule(id)));
      io.stdout.write(values.json ? json({ ok: true, schedule }) : `schedule ${cell(id)} ${name}d${schedule.nextFireAt && name === "resume" ? `, next tick ${schedule.nextFireAt.toISOString()}` : ""}\n`);
      return ExitCodes.ok;
    },
  };
}

const SUBCOMMANDS: Readonly<Record<string, Subcommand>> = { list, pause: pauseOrResume("pause"), resume: pauseOrResume("resume") };

export const schedulesCommand: CliCommand = subcommands("schedules", SUBCOMMANDS);
