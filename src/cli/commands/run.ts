/**
 * `trellis run <file|dir> --executors <module> [--workflow <ref>] [--store <url>]
 * [--input <json|@file>] [--json]`: starts one run of a declarative workflow,
 * runs workers in this process until it finishes, and prints a line per task
 * transition. Exit code 0 when the run succeeded, 1 when it failed or was
 * canceled, 2 on a usage or validation error.
 */
import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import type { Runtime } from "../../engine/runtime.js";
import { ErrorCodes, WorkflowError } from "../../errors.js";
import type { Executor } from "../../executor.js";
import type { RunEvent } from "../../types.js";
import { type CliCommand, type CliIO, ExitCodes } from "../command.js";
import { DEFAULT_STORE_URL, storeFromUrl } from "../store-url.js";
import { loadDefinitions } from "./declarative-files.js";
import { RunProgress } from "./run-progress.js";

const HELP = `usage: trellis run <file|dir> --executors <module> [options]

Runs one declarative workflow to its end in this process.

  --executors <module>  a module whose default export registers executors: a function
                        given the Runtime (may be async), or an array of executors; its
                        exports "config" and "kv" become pack.config and kv.get(...)
  --workflow <ref>      which definition to run (default: the only one, or the first file's)
  --store <url>         sqlite:<path> (default ${DEFAULT_STORE_URL}) or postgres://...
  --input <json|@file>  the run's input (default {})
  --json                print {"id","status","output"} as the last line

Exit code 0 when the run succeeded, 1 when it failed or was canceled, 2 on bad usage
or an invalid definition.
`;

function usage(message: string): never {
  throw new WorkflowError(ErrorCodes.invalidArgument, message);
}

async function readInput(value: string | undefined, cwd: string): Promise<unknown> {
  if (value === undefined) return {};
  const text = value.startsWith("@") ? await readFile(path.resolve(cwd, value.slice(1)), "utf8").catch(() => usage(`--input ${value}: cannot read the file`)) : value;
  try {
    return JSON.parse(text);
  } catch (err) {
    return usage(`--input: not JSON: ${(err as Error).message}`);
  }
}

/** The executors module: its default export registers executors; `config` / `kv` exports feed `pack.config` / `kv`. */
interface ExecutorsModule {
  default?: unknown;
  config?: Record<string, unknown>;
  kv?: Record<string, unknown> | ((key: string) => unknown);
}

async function importExecutors(modulePath: string, cwd: string): Promise<ExecutorsModule> {
  const url = pathToFileURL(path.resolve(cwd, modulePath)).href;
  const mod = (await import(url).catch((err: unknown) => usage(`--executors ${modulePath}: cannot import it: ${(err as Error).message}`))) as ExecutorsModule;
  if (typeof mod.default !== "function" && !Array.isArray(mod.default)) {
    usage(`--executors ${modulePath}: its default export must be a function of the runtime or an array of executors`);
  }
  return mod;
}

async function registerExecutors(rt: Runtime, mod: ExecutorsModule): Promise<void> {
  if (typeof mod.default === "function") await (mod.default as (rt: Runtime) => unknown)(rt);
  else for (const e of mod.default as Executor[]) rt.registerExecutor(e);
}

/** A run input the parameters refuse is a usage error (exit 2), named by its first field. */
function asUsage(err: unknown): never {
  if (err instanceof WorkflowError && err.code === ErrorCodes.invalidInput) {
    const issue = (err.details as { path?: (string | number)[]; message?: string }[] | undefined)?.[0];
    usage(issue ? `--input: ${issue.path?.join(".") || "input"}: ${issue.message}` : `--input: ${err.message}`);
  }
  throw err;
}

/** `trellis run`. */
export const runCommand: CliCommand = {
  async run(argv, io: CliIO) {
    let parsed;
    try {
      parsed = parseArgs({
        args: argv,
        allowPositionals: true,
        options: {
          executors: { type: "string" },
          workflow: { type: "string" },
          store: { type: "string" },
          input: { type: "string" },
          json: { type: "boolean" },
          help: { type: "boolean", short: "h" },
        },
      });
    } catch (err) {
      return usage((err as Error).message);
    }
    const { values, positionals } = parsed;
    if (values.help) {
      io.stdout.write(HELP);
      return ExitCodes.ok;
    }
    if (positionals.length !== 1 || values.executors === undefined) {
      io.stderr.write(HELP);
      return ExitCodes.usage;
    }
    const mod = await importExecutors(values.executors, io.cwd);
    const loaded = await loadDefinitions(positionals, io.cwd, { ...(mod.config ? { config: mod.config } : {}), ...(mod.kv ? { kv: mod.kv } : {}) });
    if (loaded.errors.length) {
      for (const e of loaded.errors) io.stderr.write(`${e.file}:${e.line}:${e.column}: ${e.message}\n`);
      return ExitCodes.usage;
    }
    const chosen = values.workflow ?? loaded.packages[0]?.ref;
    if (!loaded.packages.some((p) => p.ref === chosen)) usage(`--workflow ${chosen}: no such definition (have ${loaded.packages.map((p) => p.ref).join(", ")})`);
    const input = await readInput(values.input, io.cwd);
    const storeUrl = values.store ?? DEFAULT_STORE_URL;
    if (storeUrl.startsWith("sqlite:") && storeUrl !== "sqlite::memory:") await mkdir(path.dirname(path.resolve(io.cwd, storeUrl.slice(7))), { recursive: true });
    const { newRuntime } = await import("../../engine/new-runtime.js");
    const rt = await newRuntime({ store: await storeFromUrl(storeUrl, io.cwd) });
    const ac = new AbortController();
    const stop = () => ac.abort();
    io.signal.addEventListener("abort", stop, { once: true });
    try {
      for (const p of loaded.packages) rt.registerPackage(p);
      await registerExecutors(rt, mod);
      let runId: string | undefined;
      const progress = new RunProgress(io.stdout, Date.now());
      const buffered: RunEvent[] = [];
      rt.on("*", (e) => {
        if (runId === undefined) buffered.push(e);
        else if (e.runId === runId) progress.event(e);
      });
      const workers = rt.startWorkers({ signal: ac.signal });
      const handle = await rt.startRun(chosen as string, input).catch(asUsage);
      runId = handle.id;
      progress.line(`run ${runId} started`);
      for (const e of buffered.splice(0)) if (e.runId === runId) progress.event(e);
      const run = await rt.waitForRun(runId, { signal: ac.signal }).finally(() => ac.abort());
      await workers;
      const output = run.status === "succeeded" ? await rt.output(runId).catch(() => null) : null;
      progress.done();
      io.stdout.write(`run ${runId} ${run.status}\n`);
      if (values.json) io.stdout.write(`${JSON.stringify({ id: runId, status: run.status, output: output ?? null })}\n`);
      return run.status === "succeeded" ? ExitCodes.ok : ExitCodes.failed;
    } finally {
      io.signal.removeEventListener("abort", stop);
      ac.abort();
      await rt.close();
    }
  },
};
