/**
 * Built-in waits: steps the engine runs itself (no executor to register) that
 * wait for time, a signal or a child run without holding a worker slot. Here
 * they are laid out; `engine/builtins.ts` runs them.
 *
 * Each one is an ordinary step of a reserved kind, so it takes part in the run
 * graph like any other (dependencies, branches, skips, cancel, retry), and its
 * waiting is durable: a `waiting` step is a row, not a timer in a process.
 */
import { z } from "zod";
import { ErrorCodes, WorkflowError } from "./errors.js";
import type { Executor } from "./executor.js";
import { MAX_DURATION_MS } from "./limits.js";
import { hasNul, storedText } from "./names.js";
import { type StepOpts, toNewStep } from "./step-options.js";
import type { NewStep } from "./store/store.js";

/** The reserved executor kinds; `registerExecutor` refuses the `trellis/` prefix. */
export const BuiltinKinds = {
  /** The kind of a `run.sleep(...)` step. */
  sleep: "trellis/sleep",
  /** The kind of a `run.waitForSignal(...)` step. */
  signal: "trellis/signal",
  /** The kind of a `run.childRun(...)` step. */
  child: "trellis/child",
} as const;

export const RESERVED_KIND_PREFIX = "trellis/";

/**
 * Checks the kinds an application registers an executor for (its kind and
 * aliases): no NUL, and none under the built-in prefix. `invalid_input` otherwise.
 */
export function assertApplicationKinds(executor: Executor): void {
  for (const kind of [executor?.kind, ...(Array.isArray(executor?.aliases) ? executor.aliases : [])]) {
    if (hasNul(kind)) throw new WorkflowError(ErrorCodes.invalidInput, "an executor kind must not contain NUL characters");
    if (typeof kind === "string" && kind.startsWith(RESERVED_KIND_PREFIX)) {
      throw new WorkflowError(ErrorCodes.invalidInput, `executor kinds starting with "${RESERVED_KIND_PREFIX}" are reserved for built-in steps ("${kind}")`);
    }
  }
}


/** Options of a built-in wait step: a step's options without kind, retry or timeout. */
export type WaitStepOpts = Omit<StepOpts, "kind" | "retry" | "timeout">;

export interface SignalWaitOpts extends WaitStepOpts {
  /** ms to wait for the signal; then the step fails with code `timeout`. */
  timeout?: number;
}

export interface ChildRunOpts extends WaitStepOpts {
  /** The child run's name (default: its package's display name). */
  runName?: string;
  /** The child run's metadata. */
  runMetadata?: Record<string, string>;
  /**
   * Which version of the child's package to run. Default: the parent run's own
   * version when the child is of the parent's package, the newest registered
   * otherwise (picked when the child starts, and kept by it).
   */
  version?: string;
}

/** The input a sleep step stores. */
export interface SleepInput {
  ms: number;
}
/** The input a signal wait stores. */
export interface SignalWaitInput {
  name: string;
  timeout?: number;
}
/** The input a child-run step stores. */
export interface ChildRunInput {
  package: string;
  input: unknown;
  runName?: string;
  runMetadata?: Record<string, string>;
  version?: string;
}

/** A child run's id: derived from its parent step, so starting it again is idempotent. */
export function childRunId(parentRunId: string, stepId: string): string {
  return `${parentRunId}/${stepId}`;
}

const duration = z.number().int().min(0).max(MAX_DURATION_MS);
const signalName = storedText(1, 200);

function check<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new WorkflowError(ErrorCodes.invalidInput, `${what}: ${parsed.error.issues[0]?.message}`, { details: parsed.error.issues });
  }
  return parsed.data;
}

function builtin(kind: string, id: string, input: unknown, opts: WaitStepOpts | undefined, waitFor?: string): NewStep {
  const rest = { ...(opts ?? {}) } as Record<string, unknown>;
  for (const key of ["kind", "retry", "timeout", "runName", "runMetadata", "version"]) delete rest[key];
  const step = toNewStep(id, input, { ...(rest as WaitStepOpts), kind });
  if (waitFor !== undefined) step.waitFor = waitFor;
  return step;
}

export function sleepStep(id: string, ms: number, opts?: WaitStepOpts): NewStep {
  const checked = check(duration, ms, `sleep "${id}": ms`);
  return builtin(BuiltinKinds.sleep, id, { ms: checked } satisfies SleepInput, opts);
}

export function signalWaitStep(id: string, name: string, opts?: SignalWaitOpts): NewStep {
  const checkedName = check(signalName, name, `waitForSignal "${id}": name`);
  const input: SignalWaitInput = { name: checkedName };
  if (opts?.timeout !== undefined) input.timeout = check(duration, opts.timeout, `waitForSignal "${id}": timeout`);
  return builtin(BuiltinKinds.signal, id, input, opts, `signal:${checkedName}`);
}

export function childRunStep(parentRunId: string, id: string, packageName: string, input: unknown, opts?: ChildRunOpts): NewStep {
  const pkg = check(storedText(), packageName, `childRun "${id}": package`);
  const stored: ChildRunInput = { package: pkg, input };
  if (opts?.runName !== undefined) stored.runName = check(storedText(), opts.runName, `childRun "${id}": runName`);
  if (opts?.runMetadata !== undefined) stored.runMetadata = check(z.record(z.string(), z.string()), opts.runMetadata, `childRun "${id}": runMetadata`);
  if (opts?.version !== undefined) stored.version = check(storedText(1, 100), opts.version, `childRun "${id}": version`);
  return builtin(BuiltinKinds.child, id, stored, opts, `run:${childRunId(parentRunId, id)}`);
}
