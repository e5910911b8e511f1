/**
 * The steps that move a declarative run along. A task's route step runs once
 * its action (items, members) finished: it decides the task's outcome, writes
 * its `publish` into the vars, picks the transitions that fire and lays out the
 * tasks they lead to, all committed with its own success. A join check lays out
 * a `join: all` task once every task leading to it has fired; a done check
 * computes the run's output once no task is left to run.
 */
import { ErrorCodes, WorkflowError, isWorkflowError, permanent } from "../errors.js";
import type { Executor } from "../executor.js";
import type { StepContext } from "../step-context.js";
import type { StepResult } from "../types.js";
import type { CompiledTask, CompiledWorkflow } from "./compile.js";
import {
  type DeclarativeOptions, type HostRef, IDS, type NodeResult, type ScopeBase, type StoredDefinition, type TaskView,
  definitionOf, errorView, scopeBase, scopeOf, taskViews,
} from "./context.js";
import { type EmitEnv, type Kinds, type RouteInput, contextSink, emitFailedRoute, emitTask, readsOf } from "./emit.js";
import { holdsSecret, resolveSecrets } from "./expressions/evaluate.js";
import { renderTemplate } from "./expressions/template.js";
import { newBudget, truthy } from "./expressions/values.js";
import { checkInquiryAnswer } from "./inquiry.js";

interface RouteDeps {
  readonly kinds: Kinds;
  readonly options: DeclarativeOptions;
  readonly hostRef: HostRef;
}

function viewOf(result: StepResult | undefined, fallback: string): TaskView {
  if (!result) return { status: "failed", result: null, error: errorView({ code: ErrorCodes.notFound, message: `${fallback} has no result` }) };
  return result.error ? { status: "failed", result: null, error: errorView(result.error) } : { status: "succeeded", result: result.data ?? null, error: null };
}

/** How the task of a route step ended. */
async function outcomeOf(step: StepContext, task: CompiledTask, input: RouteInput): Promise<{ view: TaskView; vars: Record<string, unknown> }> {
  const id = IDS.instance(task.name, input.iteration ?? 1);
  if (input.failed) return { view: { status: "failed", result: null, error: input.failed }, vars: input.vars };
  if (input.members) {
    const result: Record<string, unknown> = {};
    let error: TaskView["error"] = null;
    let vars = input.vars;
    for (const route of input.members) {
      const data = (await step.dependencyData<NodeResult>(route)) as NodeResult;
      result[data.task] = data.result;
      error ??= data.status === "failed" ? data.error : null;
      vars = { ...vars, ...data.vars };
    }
    return { view: error ? { status: "failed", result, error } : { status: "succeeded", result, error: null }, vars };
  }
  if (input.items !== undefined) {
    const results: unknown[] = [];
    let error: TaskView["error"] = null;
    for (let i = 0; i < input.items; i++) {
      const view = viewOf(await step.dependencyResult(IDS.item(id, i)).catch(() => undefined), IDS.item(id, i));
      results.push(view.result);
      error ??= view.error;
    }
    return { view: error ? { status: "failed", result: results, error } : { status: "succeeded", result: results, error: null }, vars: input.vars };
  }
  const view = viewOf(await step.dependencyResult(id).catch(() => undefined), id);
  if (view.status === "succeeded" && task.action === "core.inquiry") {
    const problem = checkInquiryAnswer(input.inquiry, view.result);
    if (problem) return { view: { status: "failed", result: view.result, error: errorView({ code: ErrorCodes.invalidInput, message: problem }) }, vars: input.vars };
  }
  return { view, vars: input.vars };
}

/** The transitions that fire for an outcome, and whether a failure was handled. */
function firing(task: CompiledTask, view: TaskView, scope: ReturnType<typeof scopeOf>): { targets: string[]; handled: boolean } {
  const t = task.transitions;
  if (view.status === "succeeded") {
    const targets = [...t.on_success, ...t.on_complete];
    const budget = newBudget();
    const chosen = task.decision.find((d) => !d.when || truthy(renderTemplate(d.when, scope, budget)));
    if (chosen) targets.push(chosen.next);
    return { targets, handled: true };
  }
  const failure = view.error?.code === ErrorCodes.timeout && t.on_timeout.length ? t.on_timeout : t.on_failure;
  const targets = [...failure, ...t.on_complete];
  return { targets, handled: targets.length > 0 };
}

/** `known`: task views not committed yet (the outcome the running route step decided). */
async function envFor(
  step: StepContext, deps: RouteDeps, wf: CompiledWorkflow, reads: readonly string[], known: Record<string, TaskView> = {}, counts: Record<string, number> = {},
): Promise<EmitEnv> {
  const base: ScopeBase = await scopeBase(deps.options, wf, step.workflow, step.now);
  return { wf, kinds: deps.kinds, base, host: deps.hostRef.host, runId: step.workflow.id, views: await taskViews(step, reads, known, counts) };
}

/** Lays out the tasks transitions lead to; a `join: all` target gets a join check instead. */
async function follow(
  step: StepContext, deps: RouteDeps, wf: CompiledWorkflow, from: { task: string; view: TaskView; counts: Record<string, number> },
  targets: readonly string[], vars: Record<string, unknown>,
): Promise<string[]> {
  const next: string[] = [];
  const unique = [...new Set(targets)];
  const tasks = unique.map((name) => wf.tasks.get(name) as CompiledTask);
  const env = await envFor(step, deps, wf, tasks.filter((t) => !t.join).flatMap((t) => readsOf(wf, t)), { [from.task]: from.view }, from.counts);
  const sink = contextSink(step);
  for (const target of tasks) {
    if (target.join) {
      const id = IDS.join(target.name, from.task);
      step.emit(id, { target: target.name, source: from.task, vars }, { kind: deps.kinds.join, dedupKey: id, metadata: { "declarative.task": target.name, "declarative.role": "join" } });
      next.push(id);
      continue;
    }
    // A task reached again on this path (a bounded loop) is its next iteration, within its max_iterations.
    const at = { iteration: (from.counts[target.name] ?? 0) + 1, counts: from.counts };
    const limit = target.maxIterations;
    const route =
      limit !== undefined && at.iteration > limit
        ? emitFailedRoute(sink, env, target.name, vars, at, errorView({ code: ErrorCodes.loopLimit, message: `task "${target.name}" was reached ${at.iteration} times; max_iterations is ${limit}` }))
        : emitTask(sink, env, target, vars, [], at);
    if (route) next.push(route);
  }
  return next;
}

function emitDoneCheck(step: StepContext, deps: RouteDeps, wf: CompiledWorkflow, node: string): void {
  if (!wf.outputMap) return;
  const id = IDS.done(node);
  step.emit(id, {}, { kind: deps.kinds.done, dedupKey: id, metadata: { "declarative.role": "done" } });
}

function routeExecutor(deps: RouteDeps): Executor {
  return {
    kind: deps.kinds.route,
    async execute(step) {
      const wf = await definitionOf(step);
      const input = step.rawInput() as RouteInput;
      const task = wf.tasks.get(input.task) as CompiledTask;
      const { view: outcome, vars: varsIn } = await outcomeOf(step, task, input);
      let view = outcome;
      const counts = { ...(input.counts ?? {}), [task.name]: input.iteration ?? 1 };
      const base = await scopeBase(deps.options, wf, step.workflow, step.now);
      const views = { ...(await taskViews(step, task.routeReads, { [task.name]: view }, counts)), [task.name]: view };
      let vars = { ...varsIn };
      if (view.status === "succeeded") {
        // publish runs on success, entry by entry: a later entry sees the earlier ones.
        try {
          const budget = newBudget();
          for (const [name, value] of task.publish) vars = { ...vars, [name]: value.render(scopeOf(base, vars, views), budget) };
        } catch (err) {
          if (!isWorkflowError(err)) throw err;
          view = { status: "failed", result: view.result, error: errorView(err) };
          views[task.name] = view;
          vars = { ...varsIn };
        }
      }
      let decided: { targets: string[]; handled: boolean };
      try {
        decided = task.block === undefined ? firing(task, view, scopeOf(base, vars, views)) : { targets: [], handled: true };
      } catch (err) {
        if (!isWorkflowError(err)) throw err;
        throw permanent(err.code, err);
      }
      if (!decided.handled) {
        const error = view.error;
        throw new WorkflowError(ErrorCodes.taskFailed, `task "${task.name}" failed (${error?.code}: ${error?.message}) and no transition handles it`, {
          details: { task: task.name, error },
        });
      }
      const next = await follow(step, deps, wf, { task: task.name, view, counts }, decided.targets, vars);
      const result: NodeResult = { task: task.name, ...view, vars, next, counts };
      if (next.length === 0 && task.block === undefined) emitDoneCheck(step, deps, wf, step.step.id);
      step.result(result);
    },
  };
}

function joinExecutor(deps: RouteDeps): Executor {
  return {
    kind: deps.kinds.join,
    async execute(step) {
      const wf = await definitionOf(step);
      const { target } = step.rawInput() as { target: string };
      const task = wf.tasks.get(target) as CompiledTask;
      // A source has arrived when its route (committed before its join check was even
      // laid out) lists this join. Each check runs after its own source committed, so
      // the check of the source that committed last sees every arrival.
      let vars: Record<string, unknown> = {};
      let all = true;
      for (const inbound of task.inbound) {
        const routed = await step.dependencyResult(IDS.route(inbound)).catch(() => undefined);
        const data = routed && !routed.error ? (routed.data as NodeResult) : undefined;
        if (!data?.next.includes(IDS.join(target, inbound))) all = false;
        else vars = { ...vars, ...data.vars };
      }
      let next: string[] = [];
      if (all) {
        const env = await envFor(step, deps, wf, readsOf(wf, task));
        const route = emitTask(contextSink(step), env, task, vars);
        if (route) next = [route];
      }
      if (next.length === 0) emitDoneCheck(step, deps, wf, step.step.id);
      const result: NodeResult = { task: target, status: "succeeded", result: null, error: null, vars, next };
      step.result(result);
    },
  };
}

function doneExecutor(deps: RouteDeps): Executor {
  return {
    kind: deps.kinds.done,
    async execute(step) {
      const wf = await definitionOf(step);
      const stored = await step.dependencyData<StoredDefinition>(IDS.definition);
      // Walk the nodes from the start: the run is done when every node reached has finished.
      const queue = [...stored.start];
      const seen = new Set(queue);
      let vars: Record<string, unknown> = {};
      const counts: Record<string, number> = {};
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
        const result = await step.dependencyResult(id).catch(() => undefined);
        if (!result) return step.result({ done: false, waitingFor: id });
        if (result.error) continue;
        const data = result.data as NodeResult;
        vars = { ...vars, ...data.vars };
        for (const [task, n] of Object.entries(data.counts ?? {})) counts[task] = Math.max(counts[task] ?? 0, n);
        for (const n of data.next) if (!seen.has(n)) (seen.add(n), queue.push(n));
      }
      const base = await scopeBase(deps.options, wf, step.workflow, step.now);
      let output: unknown;
      try {
        output = wf.outputMap?.render(scopeOf(base, vars, await taskViews(step, wf.outputReads, {}, counts)), newBudget());
      } catch (err) {
        throw isWorkflowError(err) ? permanent(err.code, err) : err;
      }
      const parsed = wf.output ? wf.output.safeParse(output) : { success: true as const, data: output };
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new WorkflowError(ErrorCodes.invalidInput, `the output of "${wf.def.ref}" is invalid: ${issue?.path.join(".") || "output"}: ${issue?.message}`, { details: parsed.error.issues });
      }
      step.emit(IDS.output, parsed.data ?? null, { kind: deps.kinds.noop, dedupKey: IDS.output, metadata: { "declarative.role": "output" } });
      step.result({ done: true });
    },
  };
}

/** The step as the action's executor sees it: its own input, everything else the guard step's. */
function withInput(step: StepContext, input: unknown): StepContext {
  return new Proxy(step, {
    get(target, prop) {
      if (prop === "rawInput" || prop === "input") return () => input;
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** Runs an executor action whose task has an `on_error` predicate: a failure the predicate rejects is not retried. */
function guardExecutor(deps: RouteDeps): Executor {
  return {
    kind: deps.kinds.guard,
    async execute(step) {
      const { action, input } = step.rawInput() as { action: string; input: unknown };
      const executor = deps.hostRef.host?.executor(action);
      if (!executor) throw new WorkflowError(ErrorCodes.unknownKind, `no executor is registered for action "${action}"`);
      const secrets = deps.options.secrets;
      const resolved = holdsSecret(input)
        ? await resolveSecrets(input, (key) => {
            if (!secrets) throw new WorkflowError(ErrorCodes.invalidState, `kv.get_secret('${key}'): no secrets lookup was given to parseWorkflow / loadWorkflows`);
            return secrets(key);
          })
        : input;
      const inner = withInput(step, resolved);
      try {
        await executor.execute(inner);
      } catch (err) {
        const wf = await definitionOf(step);
        const task = wf.tasks.get(step.step.metadata["declarative.task"] ?? "") as CompiledTask;
        const error = isWorkflowError(err) ? err : new WorkflowError(ErrorCodes.error, (err as Error)?.message ?? String(err), { retryable: true });
        const view: TaskView = { status: "failed", result: null, error: errorView(error) };
        const base = await scopeBase(deps.options, wf, step.workflow, step.now);
        const retry = task.onError ? truthy(renderTemplate(task.onError, scopeOf(base, {}, { [task.name]: view }), newBudget())) : true;
        throw retry ? err : permanent(error.code, error);
      }
    },
  };
}

/** Every executor a declarative package brings. */
export function declarativeExecutors(deps: RouteDeps): Executor[] {
  return [
    { kind: deps.kinds.definition, execute: async (step) => step.result(step.rawInput()) },
    { kind: deps.kinds.noop, execute: async (step) => step.result(step.rawInput()) },
    routeExecutor(deps),
    joinExecutor(deps),
    doneExecutor(deps),
    guardExecutor(deps),
  ];
}
