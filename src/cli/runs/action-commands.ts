/**
 * `trellis runs retry | retry-run | cancel | pause | resume | signal | purge`:
 * the operator actions. A refused action (a step that is not failed, a finished
 * run) prints the `WorkflowError` message and exits 1.
 */
import os from "node:os";
import type { Runtime } from "../../engine/runtime.js";
import { ErrorCodes, WorkflowError } from "../../errors.js";
import type { OperatorOptions, RunStatus } from "../../types.js";
import { ExitCodes, type CliIO } from "../command.js";
import { cell, json } from "../output.js";
import { parse, withRuntime } from "./context.js";
import { runStatus } from "./read-commands.js";
import type { Subcommand } from "./subcommand.js";

/** `--actor` and `--reason`: who acts and why, written into the event the action logs. */
const NOTE_OPTIONS = { actor: { type: "string" }, reason: { type: "string" } } as const;
const NOTE_USAGE = "[--actor NAME] [--reason TEXT]";

/** The operator's note: `--actor` (default: the user running the command) and `--reason`. */
function noteOf(values: { actor?: string; reason?: string }): OperatorOptions {
  let actor = values.actor;
  if (actor === undefined) {
    try {
      actor = os.userInfo().username || undefined;
    } catch {
      actor = undefined; // no user name to be had (a container's unnamed uid): no actor
    }
  }
  return { ...(actor !== undefined ? { actor } : {}), ...(values.reason !== undefined ? { reason: values.reason } : {}) };
}

/** Prints what an action did: a sentence for people, the object for `--json`. */
function report(io: CliIO, asJson: boolean | undefined, result: Record<string, unknown>, sentence: string): number {
  io.stdout.write(asJson ? json({ ok: true, ...result }) : `${sentence}\n`);
  return ExitCodes.ok;
}

/** A subcommand that takes a run id and calls one runtime method with it. */
function runAction(name: string, summary: string, act: (rt: Runtime, runId: string, note: OperatorOptions) => Promise<void>, done: string): Subcommand {
  return {
    usage: `trellis runs ${name} <runId> ${NOTE_USAGE} [--store URL] [--json]`,
    summary,
    async run(argv, io) {
      const { values, positionals } = parse(argv, NOTE_OPTIONS, ["runId"], this.usage);
      const runId = positionals[0] as string;
      await withRuntime(values.store, io, (rt) => act(rt, runId, noteOf(values)));
      return report(io, values.json, { runId }, `run ${cell(runId)} ${done}`);
    },
  };
}

export const cancel = runAction("cancel", "cancel a run (and its child runs)", (rt, id, note) => rt.cancelRun(id, note), "canceled");
export const pause = runAction("pause", "stop claiming a run's steps", (rt, id, note) => rt.pauseRun(id, note), "paused");
export const resume = runAction("resume", "let a paused run go on", (rt, id, note) => rt.resumeRun(id, note), "resumed");

export const retry: Subcommand = {
  usage: `trellis runs retry <runId> <stepId> ${NOTE_USAGE} [--store URL] [--json]`,
  summary: "run a failed or canceled step again",
  async run(argv, io) {
    const { values, positionals } = parse(argv, NOTE_OPTIONS, ["runId", "stepId"], this.usage);
    const [runId, stepId] = positionals as [string, string];
    await withRuntime(values.store, io, (rt) => rt.retryStep(runId, stepId, noteOf(values)));
    return report(io, values.json, { runId, stepId }, `step ${cell(stepId)} of run ${cell(runId)} is ready to run again`);
  },
};

export const retryRun: Subcommand = {
  usage: `trellis runs retry-run <runId> ${NOTE_USAGE} [--store URL] [--json]`,
  summary: "run every failed step of a run again",
  async run(argv, io) {
    const { values, positionals } = parse(argv, NOTE_OPTIONS, ["runId"], this.usage);
    const runId = positionals[0] as string;
    // One retry per step (rt.retryRun): if one is refused, the ones before it stay done and the error is printed.
    const retried = await withRuntime(values.store, io, (rt) => rt.retryRun(runId, noteOf(values)));
    return report(io, values.json, { runId, retried }, `run ${cell(runId)}: ${retried.length} failed step${retried.length === 1 ? "" : "s"} ready to run again (${retried.map((s) => cell(s)).join(", ")})`);
  },
};

export const signal: Subcommand = {
  usage: `trellis runs signal <runId> <name> [--payload JSON] [--id ID] ${NOTE_USAGE} [--store URL] [--json]`,
  summary: "deliver a signal to a run",
  async run(argv, io) {
    const { values, positionals } = parse(argv, { payload: { type: "string" }, id: { type: "string" }, ...NOTE_OPTIONS }, ["runId", "name"], this.usage);
    const [runId, name] = positionals as [string, string];
    let payload: unknown;
    if (values.payload !== undefined) {
      try {
        payload = JSON.parse(values.payload);
      } catch (err) {
        throw new WorkflowError(ErrorCodes.invalidArgument, `--payload: not JSON (${(err as Error).message})`);
      }
    }
    const { delivered } = await withRuntime(values.store, io, (rt) => rt.signal(runId, name, payload, { ...(values.id !== undefined ? { id: values.id } : {}), ...noteOf(values) }));
    const sentence = delivered ? `signal ${cell(name)} delivered to run ${cell(runId)}` : `signal id ${cell(values.id)} was delivered before; nothing changed`;
    return report(io, values.json, { runId, name, delivered }, sentence);
  },
};

export const purge: Subcommand = {
  usage: `trellis runs purge --before <ISO date> [--status S]... ${NOTE_USAGE} [--store URL] [--json]`,
  summary: "delete finished runs that finished before a date",
  async run(argv, io) {
    const { values } = parse(argv, { before: { type: "string" }, status: { type: "string", multiple: true }, ...NOTE_OPTIONS }, [], this.usage);
    if (values.before === undefined) throw new WorkflowError(ErrorCodes.invalidArgument, `--before is required\nusage: ${this.usage}`);
    const before = new Date(values.before);
    if (Number.isNaN(before.getTime())) throw new WorkflowError(ErrorCodes.invalidArgument, `--before ${values.before}: not a date (use ISO 8601, e.g. 2026-01-31 or 2026-01-31T12:00:00Z)`);
    const statuses: RunStatus[] | undefined = values.status?.map(runStatus);
    const purged = await withRuntime(values.store, io, (rt) => rt.purge({ finishedBefore: before, ...(statuses ? { statuses } : {}), ...noteOf(values) }));
    return report(io, values.json, { purged }, `purged ${purged} run${purged === 1 ? "" : "s"} finished before ${before.toISOString()}`);
  },
};
