/**
 * Starting the child run of a `childRun` step: a run like any other, linked to
 * its parent step (which its end wakes), started at most once whatever the
 * attempts and races (its id derives from the parent step).
 */
import type { ResolvedConfig } from "../config.js";
import { ErrorCodes, WorkflowError } from "../errors.js";
import type { WorkerTelemetry } from "../observability/worker-telemetry.js";
import type { ClaimedStep, NewRun, RunRecord, Store } from "../store/store.js";
import type { RunHandle } from "../types.js";
import type { ChildRunInput } from "../waits.js";
import { type BuiltinServices, childStartError } from "./builtins.js";
import type { PackageRegistry } from "./package-registry.js";
import { prepareRun } from "./run-starts.js";

export interface ChildRunDeps {
  store: Store;
  config: ResolvedConfig;
  telemetry: WorkerTelemetry;
  packages: PackageRegistry;
  /** Wakes this process's workers (the child's first steps are ready). */
  wake: () => void;
}

/** What the built-in steps (waits, child runs) need from the runtime. */
export function builtinServices(deps: ChildRunDeps): BuiltinServices {
  return {
    getRun: (runId) => deps.store.getRun(runId),
    resultData: async (runId, stepId) => {
      const result = await deps.store.getResult(runId, stepId);
      return result && !result.error ? result.result : undefined;
    },
    startChild: (parent, input, childId) => startChildRun(deps, parent, input, childId),
  };
}

/**
 * Starts (or finds, when an earlier attempt started it) the child run. Errors
 * that no retry can fix (an unknown package, a bad input) fail the step for good.
 * Undefined when the version to start is one this process lacks while it has
 * others of the package (a rolling deploy): the step then waits a while and
 * runs again, in whichever process claims it.
 */
export async function startChildRun(deps: ChildRunDeps, parent: ClaimedStep, input: ChildRunInput, childId: string): Promise<RunRecord | undefined> {
  const { store, config, telemetry } = deps;
  // A child of the parent's own package runs the parent's version: the whole tree on the code that started it.
  const version = input.version ?? (input.package === parent.run.package ? parent.run.packageVersion : undefined);
  // Another version than those registered here (a rolling deploy): another process may have it; the step waits and tries again.
  const known = deps.packages.versionsOf(input.package);
  if (version !== undefined && known.length > 0 && !known.includes(version)) return undefined;
  const pkg = deps.packages.get(input.package, version); // unknown_package: not retryable
  let prepared: NewRun | RunHandle;
  try {
    const item = {
      input: input.input,
      runId: childId,
      ...(input.runName !== undefined ? { name: input.runName } : {}),
      ...(input.runMetadata !== undefined ? { metadata: input.runMetadata } : {}),
    };
    // Started inside the parent step's span: the child run joins its trace.
    prepared = await telemetry.traceStart(pkg.name, 1, (stamp) => prepareRun(store, config, pkg, item, stamp));
  } catch (err) {
    throw childStartError(err);
  }
  if ("run" in prepared) {
    prepared.run.parentRunId = parent.run.id;
    prepared.run.parentStepId = parent.step.id;
    const [stored] = await store.createRuns([prepared]);
    if (stored) {
      if (stored.created) deps.wake();
      return stored.run;
    }
  }
  // Started by an earlier attempt (or a racing one): read it as stored.
  const existing = await store.getRun(childId);
  if (!existing) throw new WorkflowError(ErrorCodes.storeError, `child run "${childId}" was started but cannot be read`);
  return existing;
}
