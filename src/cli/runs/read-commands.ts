/** `trellis runs list | show | events | graph`: reads, as tables or `--json`. */
import { RUN_STATUSES } from "../../engine/runtime-arguments.js";
import { ErrorCodes, WorkflowError } from "../../errors.js";
import { renderDot } from "../../graph/dot.js";
import { renderMermaid } from "../../graph/mermaid.js";
import { runGraphToModel } from "../../graph/run-graph-model.js";
import { renderSvg } from "../../graph/svg.js";
import type { RunEvent, RunStatus } from "../../types.js";
import { ExitCodes } from "../command.js";
import { fields, json, table } from "../output.js";
import { parse, withRuntime } from "./context.js";
import type { Subcommand } from "./subcommand.js";

/** A positive integer option, or `invalid_argument`. */
export function positiveInt(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new WorkflowError(ErrorCodes.invalidArgument, `--${name} ${value}: expected a positive integer`);
  return n;
}

/** A run status option, or `invalid_argument` naming the statuses there are. */
export function runStatus(value: string): RunStatus {
  if (!(RUN_STATUSES as readonly string[]).includes(value)) throw new WorkflowError(ErrorCodes.invalidArgument, `--status ${value}: expected one of ${RUN_STATUSES.join(", ")}`);
  return value as RunStatus;
}

/** An ISO 8601 date option, or `invalid_argument`. */
function dateOption(value: string, name: string): Date {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) throw new WorkflowError(ErrorCodes.invalidArgument, `--${name} ${value}: not a date (use ISO 8601, e.g. 2026-01-31 or 2026-01-31T12:00:00Z)`);
  return date;
}

/** `--meta key=value`, repeated: every pair must match. */
function metadataOption(pairs: string[]): Record<string, string> {
  const metadata: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new WorkflowError(ErrorCodes.invalidArgument, `--meta ${pair}: write it as key=value`);
    Object.defineProperty(metadata, pair.slice(0, eq), { value: pair.slice(eq + 1), enumerable: true, writable: true, configurable: true });
  }
  return metadata;
}

export const list: Subcommand = {
  usage: "trellis runs list [--status S] [--package P] [--package-version V] [--from DATE] [--to DATE] [--meta KEY=VALUE]... [--prefix ID_PREFIX] [--limit N] [--after RUN_ID] [--store URL] [--json]",
  summary: "runs, newest first, filtered by the store",
  async run(argv, io) {
    const { values } = parse(
      argv,
      {
        status: { type: "string" }, package: { type: "string" }, "package-version": { type: "string" }, from: { type: "string" }, to: { type: "string" },
        meta: { type: "string", multiple: true }, prefix: { type: "string" }, limit: { type: "string" }, after: { type: "string" },
      },
      [],
      this.usage,
    );
    const filter = {
      limit: positiveInt(values.limit, "limit", 50),
      ...(values.status !== undefined ? { status: runStatus(values.status) } : {}),
      ...(values.package !== undefined ? { package: values.package } : {}),
      ...(values["package-version"] !== undefined ? { packageVersion: values["package-version"] } : {}),
      ...(values.from !== undefined ? { createdFrom: dateOption(values.from, "from") } : {}),
      ...(values.to !== undefined ? { createdTo: dateOption(values.to, "to") } : {}),
      ...(values.meta !== undefined ? { metadata: metadataOption(values.meta) } : {}),
      ...(values.prefix !== undefined ? { idPrefix: values.prefix } : {}),
      ...(values.after !== undefined ? { after: values.after } : {}),
    };
    const runs = await withRuntime(values.store, io, (rt) => rt.listRuns(filter));
    if (values.json) io.stdout.write(json(runs));
    else {
      const rows = runs.map((r) => [r.id, r.package, r.status, r.failedSteps || "", r.createdAt, r.updatedAt, r.name]);
      io.stdout.write(table(["RUN", "PACKAGE", "STATUS", "FAILED", "CREATED", "UPDATED", "NAME"], rows, "no runs"));
    }
    return ExitCodes.ok;
  },
};

export const show: Subcommand = {
  usage: "trellis runs show <runId> [--store URL] [--json]",
  summary: "a run and its steps",
  async run(argv, io) {
    const { values, positionals } = parse(argv, {}, ["runId"], this.usage);
    const runId = positionals[0] as string;
    const { run, steps } = await withRuntime(values.store, io, async (rt) => {
      const found = await rt.workflow(runId);
      if (!found) throw new WorkflowError(ErrorCodes.notFound, `no run "${runId}"`);
      return { run: found, steps: await rt.steps(runId) };
    });
    if (values.json) {
      io.stdout.write(json({ run, steps }));
      return ExitCodes.ok;
    }
    io.stdout.write(
      fields([
        ["run", run.id],
        ["package", run.package],
        ["name", run.name],
        ["status", run.status],
        ["failed steps", run.failedSteps || undefined],
        ["created", run.createdAt],
        ["updated", run.updatedAt],
        ["finished", run.finishedAt],
        ["parent", run.parentRunId === undefined ? undefined : `${run.parentRunId} (step ${run.parentStepId})`],
      ]),
    );
    io.stdout.write("\n");
    io.stdout.write(
      table(
        ["STEP", "KIND", "QUEUE", "STATUS", "ATTEMPT", "ERROR", "WAITING FOR"],
        steps.map((s) => [s.id, s.kind, s.queue, s.status, `${s.attempt}/${s.maxAttempts}`, s.error ? `${s.error.code}: ${s.error.message}` : s.lastError ? `earlier: ${s.lastError.code}` : "", s.status === "waiting" ? s.waitingFor : ""]),
        "no steps",
      ),
    );
    return ExitCodes.ok;
  },
};

export const events: Subcommand = {
  usage: "trellis runs events <runId> [--store URL] [--json]",
  summary: "a run's event log, oldest first",
  async run(argv, io) {
    const { values, positionals } = parse(argv, {}, ["runId"], this.usage);
    const runId = positionals[0] as string;
    const log = await withRuntime(values.store, io, async (rt) => {
      if (!(await rt.workflow(runId))) throw new WorkflowError(ErrorCodes.notFound, `no run "${runId}"`);
      return rt.events(runId);
    });
    if (values.json) io.stdout.write(json(log));
    else {
      const detail = (e: RunEvent) => (e.error ? `${e.error.code}: ${e.error.message}` : e.data === undefined ? "" : JSON.stringify(e.data));
      const rows = log.map((e) => [e.seq, e.at, e.type, e.stepId, e.attempt, e.workerId, e.actor, e.reason, detail(e)]);
      io.stdout.write(table(["SEQ", "AT", "TYPE", "STEP", "ATTEMPT", "WORKER", "BY", "REASON", "DETAIL"], rows, "no events"));
    }
    return ExitCodes.ok;
  },
};

const FORMATS = ["mermaid", "dot", "svg"] as const;

export const graph: Subcommand = {
  usage: "trellis runs graph <runId> [--format mermaid|dot|svg] [--expand FAN_OUT_ID]... [--collapse-above N] [--store URL] [--json]",
  summary: "a run's graph as Mermaid, DOT or SVG (--json: the graph as data)",
  async run(argv, io) {
    const { values, positionals } = parse(
      argv,
      { format: { type: "string" }, expand: { type: "string", multiple: true }, "collapse-above": { type: "string" } },
      ["runId"],
      this.usage,
    );
    const format = values.format ?? "mermaid";
    if (!(FORMATS as readonly string[]).includes(format)) throw new WorkflowError(ErrorCodes.invalidArgument, `--format ${format}: expected one of ${FORMATS.join(", ")}`);
    const options = {
      ...(values["collapse-above"] !== undefined ? { collapseAbove: positiveInt(values["collapse-above"], "collapse-above", 0) } : {}),
      ...(values.expand ? { expand: values.expand } : {}),
    };
    const runGraph = await withRuntime(values.store, io, (rt) => rt.graph(positionals[0] as string, options));
    if (values.json) {
      io.stdout.write(json(runGraph));
      return ExitCodes.ok;
    }
    const model = runGraphToModel(runGraph);
    io.stdout.write(format === "svg" ? await renderSvg(model) : format === "dot" ? renderDot(model) : renderMermaid(model));
    return ExitCodes.ok;
  },
};
