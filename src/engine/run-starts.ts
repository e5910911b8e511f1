/**
 * Starting runs: each item's version of the package picked (the one named, or
 * the newest), each run prepared (options and input validated, an existing
 * run with the same id found, the entrypoint called to lay out its graph,
 * every value encoded and sized), then all of them written in one
 * transaction, with the first steps leased to this process's idle workers in
 * the same transaction when it offers a start lease. A child run is prepared
 * here too (`prepareRun`), then written by `startChildRun` (child-runs.ts).
 */
import type { ResolvedConfig } from "../config.js";
import { ErrorCodes, WorkflowError, isWorkflowError } from "../errors.js";
import { timeOrderedId } from "../ids.js";
import { checkPayload } from "../limits.js";
import type { WorkflowPackage } from "../package.js";
import type { StepHandle } from "../step-options.js";
import { CollectingRunBuilder, checkGraph } from "../run-builder.js";
import { validate } from "../schema.js";
import { tryEncode } from "../serialization.js";
import type { WorkerTelemetry } from "../observability/worker-telemetry.js";
import { checkTraceparentMetadata } from "../observability/traceparent.js";
import type { CreatedRun, NewRun, Store } from "../store/store.js";
import type { RunHandle } from "../types.js";
import type { PackageRegistry } from "./package-registry.js";
import { asInvalidInput, NO_OPTIONS, startOptionsSchema } from "./runtime-arguments.js";
import type { Scheduler } from "./scheduler.js";

/** What a run start may say besides its input (see `Runtime.startRun`). */
export interface StartRunOptions {
  /** Makes the start idempotent: a second start with the same id returns the first run. */
  runId?: string;
  /** The run's name (default: the package's display name); the entrypoint's `run.name()` overrides it. */
  name?: string;
  /** Applied first; the entrypoint's `run.metadata()` calls override it. */
  metadata?: Record<string, string>;
  /** Which registered version of the package to run (default: the newest). */
  version?: string;
}

export interface RunStartDeps {
  store: Store;
  config: ResolvedConfig;
  telemetry: WorkerTelemetry;
  packages: PackageRegistry;
  scheduler: Scheduler;
}

/** See `Runtime.startRuns`: all of the runs or none; existing run ids come back as they are. */
export async function startRuns(
  deps: RunStartDeps,
  which: string | WorkflowPackage<unknown>,
  items: readonly ({ input: unknown } & StartRunOptions)[],
): Promise<RunHandle[]> {
  const { store, config, packages, scheduler } = deps;
  const newest = packages.resolve(which);
  return deps.telemetry.traceStart(newest.name, items.length, async (stamp) => {
    const handles: (RunHandle | undefined)[] = [];
    const toCreate: { index: number; run: NewRun }[] = [];
    for (const [index, item] of items.entries()) {
      // The version named (unknown_package if it is not registered here), else the newest.
      const pkg = item.version === undefined ? newest : packages.get(newest.name, item.version);
      const prepared = await prepareRun(store, config, pkg, item, stamp).catch(asInvalidInput);
      if ("run" in prepared) toCreate.push({ index, run: prepared });
      handles[index] = "run" in prepared ? undefined : prepared;
    }
    if (toCreate.length) {
      // Idle workers here take the first steps in the same transaction (no claim needed).
      const lease = scheduler.offerStartLease();
      let stored: CreatedRun[];
      try {
        stored = await store.createRuns(
          toCreate.map((c) => c.run),
          lease?.request,
        );
      } catch (err) {
        lease?.cancel();
        throw err;
      }
      lease?.adopt(stored.flatMap((s) => s.claimed ?? []));
      stored.forEach(({ run }, i) => {
        handles[(toCreate[i] as { index: number }).index] = { id: run.id, package: run.package, name: run.name };
      });
      if (stored.some((s) => s.created)) scheduler.wake();
    }
    return handles as RunHandle[];
  });
}

/**
 * Validates one start and lays out its graph; an existing run comes back as
 * its handle. `stamp` adds what the engine stores with every run (the trace
 * context) to its metadata once the entrypoint has run.
 */
export async function prepareRun(
  store: Store,
  config: ResolvedConfig,
  pkg: WorkflowPackage,
  item: { input: unknown } & StartRunOptions,
  stamp?: (metadata: Record<string, string>) => void,
): Promise<NewRun | RunHandle> {
  // The version picked the package already.
  const { input, version: _version, ...opts } = item;
  // Most bulk items carry only an input: nothing to validate.
  const options = Object.keys(opts).length === 0 ? NO_OPTIONS : startOptionsSchema.safeParse(opts);
  if (!options.success) {
    throw new WorkflowError(ErrorCodes.invalidInput, `startRun options: ${options.error.issues[0]?.path.join(".")}: ${options.error.issues[0]?.message}`, {
      details: options.error.issues,
    });
  }
  let value = input;
  if (pkg.inputSchema) value = await validate(pkg.inputSchema, input, `input of package "${pkg.name}"`);
  // A caller-chosen id may exist already: then the entrypoint need not run at all.
  // (A generated one cannot; the store still settles races between processes.)
  if (options.data.runId !== undefined) {
    const existing = await store.getRun(options.data.runId);
    if (existing) return { id: existing.id, package: existing.package, name: existing.name };
  }
  const runId = options.data.runId ?? `${pkg.name}-${timeOrderedId()}`;

  const builder = new CollectingRunBuilder(runId, options.data.name ?? pkg.displayName, options.data.metadata ?? {}, value);
  try {
    const returned: unknown = await pkg.entrypoint(builder, value);
    // A returned handle names the output step, as run.output(handle) would.
    if (returned !== undefined) {
      if (typeof returned !== "object" || returned === null) {
        throw new WorkflowError(ErrorCodes.invalidInput, `the entrypoint of package "${pkg.name}" returned ${typeof returned}: it returns nothing or its output step's handle`);
      }
      builder.output(returned as StepHandle);
    }
  } catch (err) {
    if (isWorkflowError(err)) throw err;
    throw new WorkflowError(ErrorCodes.entrypointFailed, `the entrypoint of package "${pkg.name}" failed: ${(err as Error)?.message ?? String(err)}`, {
      cause: err,
    });
  }
  if (builder.steps.length === 0) throw new WorkflowError(ErrorCodes.emptyRun, `the entrypoint of package "${pkg.name}" added no step`);
  checkGraph(builder.steps, () => false);
  const encoded = tryEncode(value);
  if (!encoded.ok) throw new WorkflowError(ErrorCodes.invalidInput, `run input cannot be stored: ${encoded.error.message}`);
  builder.fillRunInput(encoded.text);
  const limit = config.limits.maxPayloadBytes;
  checkPayload(encoded.text, limit, `the input of run "${runId}"`);
  for (const step of builder.steps) checkPayload(step.input, limit, `the input of step "${step.id}"`);

  const now = config.clock();
  const metadata = builder.runMetadata;
  checkTraceparentMetadata(metadata);
  stamp?.(metadata);
  const run: NewRun["run"] = { id: runId, package: pkg.name, name: builder.runName, status: "running", input: encoded.text, metadata, createdAt: now, updatedAt: now };
  if (builder.outputStep !== undefined) run.outputStep = builder.outputStep;
  if (pkg.version !== undefined) run.packageVersion = pkg.version;
  return { run, steps: builder.steps };
}

