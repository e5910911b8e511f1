/**
 * Laying out steps: the `RunBuilder` an entrypoint receives, and the graph
 * checks made before anything is written. What one step is made of is in
 * `step-options.ts`.
 */
import { ErrorCodes, WorkflowError } from "./errors.js";
import type { Executor } from "./executor.js";
import { hasNul } from "./names.js";
import type { WorkflowPackage } from "./package.js";
import { type StepHandle, type StepOpts, toNewStep } from "./step-options.js";
import type { NewStep } from "./store/store.js";
import { type ChildRunOpts, type SignalWaitOpts, type WaitStepOpts, childRunStep, signalWaitStep, sleepStep } from "./waits.js";

/**
 * Checks a batch of new steps: ids unique, dependencies that stay inside the
 * batch free of cycles, and (when `isKnown` is given) every other dependency known.
 * Dependencies outside the batch are left to the store when `isKnown` is absent.
 */
export function checkGraph(steps: readonly NewStep[], isKnown?: (id: string) => boolean): void {
  const ids = new Set<string>();
  for (const s of steps) {
    if (ids.has(s.id)) throw new WorkflowError(ErrorCodes.duplicateStep, `step id "${s.id}" is used twice`);
    ids.add(s.id);
  }
  // Most batches (a run of independent steps, a fan-out of children) have no edges at all.
  if (steps.every((s) => s.dependsOn.length === 0)) return;
  if (isKnown) {
    for (const s of steps) {
      for (const d of s.dependsOn) {
        if (!ids.has(d.stepId) && !isKnown(d.stepId)) {
          throw new WorkflowError(ErrorCodes.unknownDependency, `step "${s.id}" depends on "${d.stepId}", which is not a step of this run`);
        }
      }
    }
  }
  // Kahn's algorithm over the edges inside the batch: whatever cannot be ordered is on a cycle.
  const waitingOn = new Map<string, number>();
  const dependents = new Map<string, string[]>();
  for (const s of steps) {
    const inside = new Set(s.dependsOn.map((d) => d.stepId).filter((d) => ids.has(d)));
    waitingOn.set(s.id, inside.size);
    for (const d of inside) {
      let list = dependents.get(d);
      if (!list) dependents.set(d, (list = []));
      list.push(s.id);
    }
  }
  const free = [...waitingOn].filter(([, n]) => n === 0).map(([id]) => id);
  let ordered = 0;
  for (let id = free.pop(); id !== undefined; id = free.pop()) {
    ordered++;
    for (const next of dependents.get(id) ?? []) {
      const n = (waitingOn.get(next) ?? 0) - 1;
      waitingOn.set(next, n);
      if (n === 0) free.push(next);
    }
  }
  if (ordered < steps.length) {
    const onCycle = [...waitingOn].filter(([, n]) => n > 0).map(([id]) => id);
    throw new WorkflowError(ErrorCodes.dependencyCycle, `the dependencies of steps ${onCycle.map((id) => `"${id}"`).join(", ")} form a cycle`, {
      details: { steps: onCycle },
    });
  }
}

/** What an entrypoint uses to name the run and lay out its first steps. */
export interface RunBuilder {
  /** The id of the run being laid out. */
  readonly runId: string;
  /** Sets the run's name (`WorkflowRun.name`), over the start's `name` option and the package's display name. */
  name(n: string): void;
  /** Sets one entry of the run's metadata, over the start's `metadata` option. */
  metadata(key: string, value: string): void;
  /**
   * Adds a step; throws `duplicate_step` on a repeated id, `invalid_input` on bad
   * options. With the executor object as `kind`, the input is checked against
   * its input type and the handle carries its output type.
   */
  step<I, O>(id: string, input: NoInfer<I>, opts: StepOpts<Executor<I, O>>): StepHandle<O>;
  /** Adds a step of a kind given by name; `O` types the handle's output (unchecked). */
  step<O = unknown>(id: string, input: unknown, opts: StepOpts): StepHandle<O>;
  /** A built-in step that succeeds `ms` after it becomes ready, holding no worker slot meanwhile. */
  sleep(id: string, ms: number, opts?: WaitStepOpts): StepHandle;
  /**
   * A built-in step that succeeds with the payload of the oldest unconsumed
   * signal `name` sent to this run (before or after the wait began); with
   * `timeout`, fails with code `timeout` when none came in time.
   */
  waitForSignal(id: string, name: string, opts?: SignalWaitOpts): StepHandle;
  /**
   * A built-in step that starts a run of `packageName` (id `<runId>/<id>`) and
   * succeeds with its output, or fails with `child_failed`.
   */
  childRun<I, O>(id: string, pkg: WorkflowPackage<I, O>, input: NoInfer<I>, opts?: ChildRunOpts): StepHandle<O>;
  /** A `childRun` by package name: the input is not checked at compile time and the output is `unknown`. */
  childRun(id: string, packageName: string, input: unknown, opts?: ChildRunOpts): StepHandle;
  /**
   * Names the step whose result data is the run's output (`rt.output`, a
   * parent's child step). A string may name a step emitted later.
   */
  output(handle: StepHandle | string): void;
}

/** The builder handed to an entrypoint; collects what `startRun` then writes in one transaction. */
export class CollectingRunBuilder implements RunBuilder {
  runName: string;
  readonly runMetadata: Record<string, string>;
  readonly steps: NewStep[] = [];
  outputStep: string | undefined;
  readonly #ids = new Set<string>();
  readonly #runId: string;

  readonly #runInput: unknown;
  /** Steps given the run's own input object, encoded once when the entrypoint is done. */
  readonly #takesRunInput: NewStep[] = [];

  constructor(runId: string, name: string, metadata: Record<string, string>, runInput?: unknown) {
    this.#runId = runId;
    this.runName = name;
    this.runMetadata = { ...metadata };
    this.#runInput = runInput;
  }

  get runId(): string {
    return this.#runId;
  }

  /**
   * Sets the input of the steps that were handed the run's input object, from the
   * run input's encoding (made after the entrypoint, so both see the same state).
   */
  fillRunInput(encoded: string): void {
    for (const step of this.#takesRunInput) step.input = encoded;
  }

  name(n: string): void {
    if (typeof n !== "string" || n.trim() === "" || hasNul(n)) throw new WorkflowError(ErrorCodes.invalidInput, "a run name must be a non-empty string");
    this.runName = n;
  }

  metadata(key: string, value: string): void {
    if (typeof key !== "string" || typeof value !== "string") {
      throw new WorkflowError(ErrorCodes.invalidInput, "run metadata keys and values must be strings");
    }
    this.runMetadata[key] = value;
  }

  step<O = unknown>(id: string, input: unknown, opts: StepOpts<string | Executor>): StepHandle<O> {
    this.#assertNew(id);
    // The run's input is often handed to a step as is: encode it once, later.
    const shared = typeof input === "object" && input !== null && input === this.#runInput;
    const step = toNewStep(id, input, opts, shared ? "" : undefined);
    if (shared) this.#takesRunInput.push(step);
    return this.#add(step);
  }

  sleep(id: string, ms: number, opts?: WaitStepOpts): StepHandle {
    this.#assertNew(id);
    return this.#add(sleepStep(id, ms, opts));
  }

  waitForSignal(id: string, name: string, opts?: SignalWaitOpts): StepHandle {
    this.#assertNew(id);
    return this.#add(signalWaitStep(id, name, opts));
  }

  childRun(id: string, pkg: string | WorkflowPackage<unknown, unknown>, input: unknown, opts?: ChildRunOpts): StepHandle {
    this.#assertNew(id);
    const packageName = typeof pkg === "object" && pkg !== null ? pkg.name : pkg;
    return this.#add(childRunStep(this.#runId, id, packageName, input, opts));
  }

  output(handle: StepHandle | string): void {
    // A handle names a step laid out here; a string may also name a step emitted later.
    if (typeof handle === "object" && handle !== null && !this.#ids.has(handle.id)) {
      throw new WorkflowError(ErrorCodes.invalidInput, `run.output: "${String(handle.id)}" is not a step of this run`);
    }
    const id = typeof handle === "string" ? handle : handle?.id;
    if (typeof id !== "string" || id.trim() === "") throw new WorkflowError(ErrorCodes.invalidInput, "run.output needs a step handle or a step id");
    this.outputStep = id;
  }

  #assertNew(id: string): void {
    if (this.#ids.has(id)) throw new WorkflowError(ErrorCodes.duplicateStep, `step id "${id}" is used twice in this run`);
  }

  #add<O = unknown>(step: NewStep): StepHandle<O> {
    this.#ids.add(step.id);
    this.steps.push(step);
    return { id: step.id };
  }
}
