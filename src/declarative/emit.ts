/**
 * Laying out one task's steps once the task is reached: its input evaluated
 * from committed state and stored with the step, its action step (or its items,
 * or its parallel members), and the route step that decides what follows. The
 * entrypoint does this for the start tasks, route steps for the tasks they lead
 * to; either way the steps are written in one transaction with the step that
 * laid them out, so an evaluation is committed once or not at all.
 */
import { ErrorCodes, WorkflowError, isWorkflowError } from "../errors.js";
import type { PackageHost } from "../package.js";
import type { RetryPolicy } from "../retry.js";
import type { RunBuilder } from "../run-builder.js";
import type { StepContext } from "../step-context.js";
import type { StepOpts } from "../step-options.js";
import type { Dependency } from "../types.js";
import type { CompiledTask, CompiledWorkflow } from "./compile.js";
import { IDS, MAX_CHILD_DEPTH, MAX_ITEMS, type ScopeBase, type TaskView, errorView, scopeOf } from "./context.js";
import { BUILTIN_ACTIONS } from "./definition.js";
import { inquirySignalName } from "./inquiry.js";
import { type Scope, holdsSecret } from "./expressions/evaluate.js";
import { renderTemplate } from "./expressions/template.js";
import { type Budget, newBudget, truthy } from "./expressions/values.js";

/** Where new steps go: the run builder at start, the route step's emits later. */
export interface StepSink {
  step(id: string, input: unknown, opts: StepOpts): void;
  sleep(id: string, ms: number, opts: Omit<StepOpts, "kind">): void;
  waitForSignal(id: string, name: string, opts: Omit<StepOpts, "kind"> & { timeout?: number }): void;
  childRun(id: string, pkg: string, input: unknown, opts: Omit<StepOpts, "kind">): void;
}

/** New steps into the run builder (the start tasks). */
export function builderSink(run: RunBuilder): StepSink {
  return {
    step: (id, input, opts) => void run.step(id, input, opts),
    sleep: (id, ms, opts) => void run.sleep(id, ms, opts),
    waitForSignal: (id, name, opts) => void run.waitForSignal(id, name, opts),
    childRun: (id, pkg, input, opts) => void run.childRun(id, pkg, input, opts),
  };
}

/** New steps emitted by a running step (committed with its success). */
export function contextSink(step: StepContext): StepSink {
  return {
    step: (id, input, opts) => void step.emit(id, input, opts),
    sleep: (id, ms, opts) => void step.emitSleep(id, ms, opts),
    waitForSignal: (id, name, opts) => void step.emitWaitForSignal(id, name, opts),
    childRun: (id, pkg, input, opts) => void step.emitChildRun(id, pkg, input, opts),
  };
}

/** The step kinds a declarative package registers, named after its ref. */
export interface Kinds {
  definition: string;
  route: string;
  join: string;
  done: string;
  noop: string;
  guard: string;
}

/** The step kinds of a definition's own steps. */
export function kindsFor(ref: string): Kinds {
  return { definition: `${ref}#definition`, route: `${ref}#route`, join: `${ref}#join`, done: `${ref}#done`, noop: `${ref}#noop`, guard: `${ref}#guard` };
}

/** What emitting needs besides the task. */
export interface EmitEnv {
  readonly wf: CompiledWorkflow;
  readonly kinds: Kinds;
  readonly base: ScopeBase;
  readonly host: PackageHost | undefined;
  readonly runId: string;
  /** `task.<name>` values for every name the tasks being emitted read. */
  readonly views: Record<string, unknown>;
}

/** What a route step is given to decide a task's outcome. */
export interface RouteInput {
  task: string;
  vars: Record<string, unknown>;
  /** Items laid out (with_items), or members' route ids (parallel). */
  items?: number;
  members?: string[];
  /** The task's time on this path (bounded loops; default 1) and the path's counts. */
  iteration?: number;
  counts?: Record<string, number>;
  /** An inquiry's answer schema (JSON), checked when the answer arrives. */
  inquiry?: string;
  /** The task failed before it ran (its input, `when` or items did not evaluate). */
  failed?: TaskView["error"];
}

/** Every `task.<name>` a task (and its parallel members) reads before it runs. */
export function readsOf(wf: CompiledWorkflow, task: CompiledTask): string[] {
  const names = new Set(task.reads);
  for (const m of task.members) {
    const member = wf.tasks.get(m);
    if (member) for (const n of readsOf(wf, member)) names.add(n);
  }
  return [...names];
}

function retryPolicy(task: CompiledTask): RetryPolicy | undefined {
  const r = task.def.retry;
  if (!r) return undefined;
  const policy: RetryPolicy = {
    maxAttempts: r.count + 1,
    backoff: r.backoff === "constant" || r.backoff === undefined ? "fixed" : r.backoff,
    initialBackoff: Math.round((r.delay ?? 0) * 1000),
    multiplier: 2,
    jitter: false,
  };
  if (r.max_delay !== undefined) policy.maxBackoff = Math.round(r.max_delay * 1000);
  return policy;
}

/** A subworkflow nests one level deeper than its run; child run ids are `<parent run id>/<step id>`. */
export function depthOf(runId: string): number {
  return runId.split("/").length - 1;
}

type Emission = (sink: StepSink) => void;

/** Checks and prepares one action step; the returned function writes it (nothing is written if any check throws). */
function prepareAction(env: EmitEnv, task: CompiledTask, id: string, input: unknown, deps: Dependency[]): Emission {
  const action = task.action as string;
  const common = { dedupKey: id, metadata: { "declarative.task": task.name }, ...(deps.length ? { dependsOn: deps } : {}) };
  const timeoutMs = task.def.timeout !== undefined ? Math.max(1, Math.round(task.def.timeout * 1000)) : undefined;
  if (action === BUILTIN_ACTIONS.noop) return (sink) => sink.step(id, input, { ...common, kind: env.kinds.noop });
  if (action === BUILTIN_ACTIONS.sleep) {
    const seconds = (input as { seconds?: unknown } | null)?.seconds;
    if (typeof seconds !== "number" || !(seconds >= 0)) throw new WorkflowError(ErrorCodes.invalidInput, `core.sleep needs input.seconds, a number of at least 0`);
    return (sink) => sink.sleep(id, Math.round(seconds * 1000), common);
  }
  if (action === BUILTIN_ACTIONS.inquiry) {
    const { prompt, schema } = (input ?? {}) as { prompt?: unknown; schema?: unknown };
    const metadata = {
      ...common.metadata,
      "declarative.inquiry": "true",
      ...(typeof prompt === "string" ? { "declarative.prompt": prompt } : {}),
      ...(schema !== undefined ? { "declarative.schema": JSON.stringify(schema) } : {}),
    };
    return (sink) => sink.waitForSignal(id, inquirySignalName(id), { ...common, metadata, ...(timeoutMs !== undefined ? { timeout: timeoutMs } : {}) });
  }
  if (env.host?.hasPackage(action) && !env.host.executor(action)) {
    const depth = depthOf(env.runId) + 1;
    if (depth > MAX_CHILD_DEPTH) throw new WorkflowError(ErrorCodes.childDepthExceeded, `subworkflow "${action}" would nest ${depth} levels deep; the limit is ${MAX_CHILD_DEPTH}`);
    return (sink) => sink.childRun(id, action, input, common);
  }
  const retry = retryPolicy(task);
  const opts = { ...common, ...(retry ? { retry } : {}), ...(timeoutMs !== undefined ? { timeout: timeoutMs } : {}) };
  // A guard step runs the executor when an on_error predicate must decide on retries,
  // or when secrets (stored as { $secret } placeholders) must be resolved first.
  if (task.onError || holdsSecret(input)) return (sink) => sink.step(id, { action, input }, { ...opts, kind: env.kinds.guard });
  return (sink) => sink.step(id, input, { ...opts, kind: action });
}


/** Where a task is on its path: its iteration, and the counts of the path that reached it. */
export interface Reach {
  iteration: number;
  counts: Record<string, number>;
}

const FIRST: Reach = { iteration: 1, counts: {} };

/** The route input's fields for a reach (omitted on a first time with no loop behind it). */
function reachFields(at: Reach): Pick<RouteInput, "iteration" | "counts"> {
  return { ...(at.iteration > 1 ? { iteration: at.iteration } : {}), ...(Object.keys(at.counts).length ? { counts: at.counts } : {}) };
}

/** A route that fails its task at once (it could not be laid out, or a loop ran out of iterations). */
export function emitFailedRoute(sink: StepSink, env: EmitEnv, task: string, vars: Record<string, unknown>, at: Reach, error: TaskView["error"], deps: Dependency[] = []): string {
  return emitRoute(sink, env, { task, vars, ...reachFields(at), failed: error }, deps);
}

function emitRoute(sink: StepSink, env: EmitEnv, input: RouteInput, deps: Dependency[]): string {
  const id = IDS.route(IDS.instance(input.task, input.iteration ?? 1));
  sink.step(id, input, { kind: env.kinds.route, dedupKey: id, metadata: { "declarative.task": input.task, "declarative.role": "route" }, ...(deps.length ? { dependsOn: deps } : {}) });
  return id;
}

const completed = (stepId: string): Dependency => ({ stepId, required: false, on: "completed" });

/**
 * Lays out a reached task: nothing if its `when` is false (it is skipped), else
 * its steps and its route step; returns the route step's id. An evaluation
 * that fails fails the task (its route records the error), so that the task's
 * failure transitions apply.
 */
export function emitTask(
  sink: StepSink, env: EmitEnv, task: CompiledTask, vars: Record<string, unknown>, extraDeps: Dependency[] = [], at: Reach = FIRST,
): string | undefined {
  const scope = scopeOf(env.base, vars, env.views);
  const id = IDS.instance(task.name, at.iteration);
  const reach = reachFields(at);
  const budget = newBudget();
  if (task.parallel) {
    if (task.when && !whenHolds(task, scope, budget)) return undefined;
    const members: string[] = [];
    for (const name of task.members) {
      const route = emitTask(sink, env, env.wf.tasks.get(name) as CompiledTask, vars, extraDeps, at);
      if (route) members.push(route);
    }
    return emitRoute(sink, env, { task: task.name, vars, ...reach, members }, members.map(completed));
  }
  let emissions: Emission[];
  let route: { input: RouteInput; deps: Dependency[] };
  try {
    if (task.when && !whenHolds(task, scope, budget)) return undefined;
    if (task.items) {
      const items = task.items.render(scope, budget);
      if (!Array.isArray(items)) throw new WorkflowError(ErrorCodes.expressionError, `with_items of "${task.name}" is not a list`);
      if (items.length > MAX_ITEMS) throw new WorkflowError(ErrorCodes.tooManyItems, `with_items of "${task.name}" has ${items.length} items; the limit is ${MAX_ITEMS}`);
      const size = task.def.batch_size;
      const units: unknown[] = [];
      if (size) for (let i = 0; i < items.length; i += size) units.push(items.slice(i, i + size));
      else units.push(...items);
      const concurrency = task.def.concurrency;
      emissions = units.map((item, index) => {
        const input = task.input.render(scopeOf(env.base, vars, env.views, { item, index }), budget);
        // At most `concurrency` items at a time, in every process: item i waits for item i - concurrency to finish.
        const deps = concurrency && index >= concurrency ? [completed(IDS.item(id, index - concurrency))] : extraDeps;
        return prepareAction(env, task, IDS.item(id, index), input, deps);
      });
      route = { input: { task: task.name, vars, ...reach, items: units.length }, deps: units.map((_, i) => completed(IDS.item(id, i))) };
    } else {
      const input = task.input.render(scope, budget);
      emissions = [prepareAction(env, task, id, input, extraDeps)];
      const schema = task.action === BUILTIN_ACTIONS.inquiry ? (input as { schema?: unknown } | null)?.schema : undefined;
      route = { input: { task: task.name, vars, ...reach, ...(schema !== undefined ? { inquiry: JSON.stringify(schema) } : {}) }, deps: [completed(id)] };
    }
  } catch (err) {
    if (!isWorkflowError(err)) throw err;
    // Nothing of the task was laid out: its route fails it at once, and its failure transitions apply.
    return emitFailedRoute(sink, env, task.name, vars, at, errorView(err), extraDeps);
  }
  for (const emit of emissions) emit(sink);
  // Items with no dependency of their own would otherwise run before the definition step at start.
  return emitRoute(sink, env, route.input, route.deps.length ? route.deps : extraDeps);
}

function whenHolds(task: CompiledTask, scope: Scope, budget: Budget): boolean {
  return task.when ? truthy(renderTemplate(task.when, scope, budget)) : true;
}
