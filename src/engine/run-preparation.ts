/**
 * Preparing one run to start: its options and input validated, an existing
 * run with the same id found, its entrypoint called to lay out its graph, and
 * every value encoded and sized. Nothing is written here.
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
import type { NewRun, Store } from "../store/store.js";
import type { RunHandle } from "../types.js";
import { checkTraceparentMetadata } from "../observability/traceparent.js";
import { NO_OPTIONS, startOptionsSchema } from "./runtime-arguments.js";

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

