/**
 * A validated definition compiled into the form runs use: templates parsed,
 * transitions resolved, start tasks found, parameters and output as zod schemas.
 * Compiling is pure and deterministic, so every process compiles the definition
 * stored with a run into the same thing. Every author error is collected as a
 * `Problem` at a path into the document; the loader turns paths into lines.
 */
import type { z } from "zod";
import { ErrorCodes, type WorkflowError } from "../errors.js";
import {
  BUILTIN_ACTIONS, MAX_ITEMS, type TaskDef, TRANSITIONS, type Transition, type WorkflowDef, allTasks, asList, publishEntries, targetsOf,
} from "./definition.js";
import { FILTERS } from "./expressions/filters.js";
import { collectReferences, type RootName } from "./expressions/syntax.js";
import { type Template, TemplateValue, parseTemplate } from "./expressions/template.js";
import { objectOf, toZod } from "./schema-node.js";

/** Tasks a definition may hold (nested members included). */
export const MAX_TASKS = 500;

/** A path into the definition document: keys and list indexes. */
export type Path = (string | number)[];

/** One author error: where (a path into the document; `key` points at the key itself) and what. */
export interface Problem {
  path: Path;
  message: string;
  code?: string;
  key?: boolean;
  /** An offset into the string at `path` (template syntax errors). */
  offset?: number;
}

/** One task as runs use it: templates parsed, transitions resolved. */
export interface CompiledTask {
  readonly def: TaskDef;
  readonly name: string;
  readonly parallel: boolean;
  readonly action?: string;
  readonly input: TemplateValue;
  readonly when?: Template;
  readonly items?: TemplateValue;
  readonly publish: readonly [string, TemplateValue][];
  readonly transitions: Readonly<Record<Transition, readonly string[]>>;
  readonly decision: readonly { when?: Template; next: string }[];
  readonly onError?: Template;
  /** Members of a parallel block. */
  readonly members: readonly string[];
  /** The parallel block this task is a member of. */
  readonly block?: string;
  readonly join: boolean;
  /** How many times one path may reach the task (a bounded loop); absent: once per loop is not limited here. */
  readonly maxIterations?: number;
  /** Tasks whose transitions lead here. */
  readonly inbound: readonly string[];
  /** `task.<name>`s its input, `when` and `with_items` read. */
  readonly reads: readonly string[];
  /** `task.<name>`s its publish, decision and retry predicate read. */
  readonly routeReads: readonly string[];
}

/** A definition as runs use it (see `compileWorkflow`). */
export interface CompiledWorkflow {
  readonly def: WorkflowDef;
  readonly tasks: ReadonlyMap<string, CompiledTask>;
  /** Top-level tasks no transition leads to, in document order. */
  readonly start: readonly string[];
  readonly vars: TemplateValue;
  readonly outputMap?: TemplateValue;
  readonly outputReads: readonly string[];
  readonly parameters: z.ZodType<Record<string, unknown>>;
  readonly output?: z.ZodType<unknown>;
  /** Every `kv.get` key the templates name (fetched before evaluation). */
  readonly kvKeys: readonly string[];
}

interface Refs {
  tasks: Set<string>;
  kv: Set<string>;
  roots: Set<RootName>;
}

class Compiler {
  readonly problems: Problem[] = [];
  readonly kv = new Set<string>();
  readonly #def: WorkflowDef;
  readonly #taskNames: Set<string>;
  readonly #varNames: Set<string>;
  readonly #paramNames: Set<string>;

  constructor(def: WorkflowDef) {
    this.#def = def;
    const every = allTasks(def.tasks);
    this.#taskNames = new Set(every.map((t) => t.name));
    this.#varNames = new Set([...Object.keys(def.vars ?? {}), ...every.flatMap((t) => publishEntries(t).map(([name]) => name))]);
    this.#paramNames = new Set(Object.keys(def.parameters ?? {}));
  }

  problem(path: Path, message: string, extra: Partial<Problem> = {}): void {
    this.problems.push({ path, message, ...extra });
  }

  /** Parses the templates in a value and checks the names they read. */
  templates(value: unknown, path: Path, allowed: { item?: boolean; task?: boolean }, reads?: Set<string>): TemplateValue {
    const parsed = new TemplateValue(value, (at, err) => this.#templateError(at, err), path);
    for (const { template, path: at } of parsed.templates()) this.#checkRefs(template, at, allowed, reads);
    return parsed;
  }

  template(source: string, path: Path, allowed: { item?: boolean; task?: boolean }, reads?: Set<string>): Template | undefined {
    try {
      const t = parseTemplate(source.includes("{{") ? source : `{{ ${source} }}`);
      this.#checkRefs(t, path, allowed, reads);
      return t;
    } catch (err) {
      this.#templateError(path, err as WorkflowError);
      return undefined;
    }
  }

  #templateError(path: Path, err: WorkflowError): void {
    const offset = (err.details as { offset?: number } | undefined)?.offset;
    this.problem(path, err.message, { code: err.code, ...(offset !== undefined ? { offset } : {}) });
  }

  #checkRefs(t: Template, path: Path, allowed: { item?: boolean; task?: boolean }, reads?: Set<string>): void {
    const refs: Refs = { tasks: new Set(), kv: new Set(), roots: new Set() };
    for (const part of t.parts) if (typeof part === "object") collectReferences(part.expr, refs);
    for (const k of refs.kv) this.kv.add(k);
    for (const name of refs.tasks) {
      if (!this.#taskNames.has(name)) this.problem(path, `unknown task "${name}" in ${t.source.trim()}${suggest(name, this.#taskNames)}`);
      reads?.add(name);
    }
    if (!allowed.item && (refs.roots.has("item") || refs.roots.has("index"))) this.problem(path, "item and index exist only in the input of a with_items task");
    if (!allowed.task && refs.roots.has("task")) this.problem(path, "task.<name> cannot be read here: no task has run yet");
    for (const part of t.parts) if (typeof part === "object") this.#checkScopedNames(part.expr, path);
  }

  /** `vars.x` and `parameters.x` must name something declared; filters must exist. */
  #checkScopedNames(expr: import("./expressions/syntax.js").Expr, path: Path): void {
    if (expr.type === "filter" && !FILTERS.has(expr.name)) this.problem(path, `unknown filter "${expr.name}"${suggest(expr.name, FILTERS.keys())}`);
    if (expr.type === "member" && expr.object.type === "root" && typeof expr.key === "string") {
      if (expr.object.name === "vars" && !this.#varNames.has(expr.key)) this.problem(path, `unknown var "${expr.key}"${suggest(expr.key, this.#varNames)}`);
      if (expr.object.name === "parameters" && !this.#paramNames.has(expr.key)) this.problem(path, `unknown parameter "${expr.key}"${suggest(expr.key, this.#paramNames)}`);
    }
    for (const child of children(expr)) this.#checkScopedNames(child, path);
  }

  task(t: TaskDef, path: Path, block: string | undefined, inbound: Map<string, string[]>): CompiledTask[] {
    const parallel = t.type === "parallel" || t.tasks !== undefined;
    if (parallel && !t.tasks) this.problem([...path, "type"], `parallel task "${t.name}" needs tasks`);
    if (parallel && t.action !== undefined) this.problem([...path, "action"], `parallel task "${t.name}" runs its tasks; it has no action`, { key: true });
    if (!parallel && t.action === undefined) this.problem(path, `task "${t.name}" needs an action`);
    if (block !== undefined) {
      for (const key of [...TRANSITIONS, "decision", "join"] as const) {
        if (t[key] !== undefined) this.problem([...path, key], `"${key}" is not allowed on "${t.name}", a member of parallel block "${block}": the block's transitions apply`, { key: true });
      }
    }
    for (const key of ["with_items", "retry", "timeout"] as const) {
      if (parallel && t[key] !== undefined) this.problem([...path, key], `"${key}" is not allowed on parallel task "${t.name}"`, { key: true });
    }
    if (Array.isArray(t.with_items) && t.with_items.length > MAX_ITEMS) {
      this.problem([...path, "with_items"], `with_items of "${t.name}" has ${t.with_items.length} items; the limit is ${MAX_ITEMS}`, { code: ErrorCodes.tooManyItems, key: true });
    }
    for (const key of ["batch_size", "concurrency"] as const) {
      if (t[key] !== undefined && t.with_items === undefined) this.problem([...path, key], `"${key}" needs with_items`, { key: true });
    }
    const builtin = t.action?.startsWith("core.");
    if (builtin && !(Object.values(BUILTIN_ACTIONS) as string[]).includes(t.action as string)) {
      this.problem([...path, "action"], `unknown built-in action "${t.action}"${suggest(t.action as string, Object.values(BUILTIN_ACTIONS))}`);
    }
    if (t.retry && builtin) this.problem([...path, "retry"], `retry applies to executor actions, not to ${t.action}`, { key: true });
    const reads = new Set<string>();
    const routeReads = new Set<string>();
    const inItems = t.with_items !== undefined;
    const transitions = Object.fromEntries(TRANSITIONS.map((k) => [k, asList(t[k])])) as Record<Transition, string[]>;
    for (const k of TRANSITIONS) {
      asList(t[k]).forEach((target, i) => this.#checkTarget(target, Array.isArray(t[k]) ? [...path, k, i] : [...path, k]));
    }
    const decision = (t.decision ?? []).map((d, i) => {
      const next = "next" in d ? d.next : d.default;
      this.#checkTarget(next, [...path, "decision", i, "next" in d ? "next" : "default"]);
      const when = "when" in d ? this.template(d.when, [...path, "decision", i, "when"], { task: true }, routeReads) : undefined;
      return when ? { when, next } : { next };
    });
    const compiled: CompiledTask = {
      def: t,
      name: t.name,
      parallel,
      ...(t.action !== undefined ? { action: t.action } : {}),
      input: this.templates(t.input ?? {}, [...path, "input"], { item: inItems, task: true }, reads),
      ...(t.when !== undefined ? (() => {
        const when = this.template(t.when, [...path, "when"], { task: true }, reads);
        return when ? { when } : {};
      })() : {}),
      ...(t.with_items !== undefined ? { items: this.templates(t.with_items, [...path, "with_items"], { task: true }, reads) } : {}),
      publish: publishEntries(t).map(([name, value]) => [name, this.templates(value, [...path, "publish", name], { task: true }, routeReads)]),
      transitions,
      decision,
      ...(t.retry?.on_error !== undefined ? (() => {
        const onError = this.template(t.retry.on_error, [...path, "retry", "on_error"], { task: true }, routeReads);
        return onError ? { onError } : {};
      })() : {}),
      members: (t.tasks ?? []).map((m) => m.name),
      ...(block !== undefined ? { block } : {}),
      join: t.join === "all",
      ...(t.max_iterations !== undefined ? { maxIterations: t.max_iterations } : {}),
      inbound: inbound.get(t.name) ?? [],
      reads: [...reads].sort(),
      routeReads: [...routeReads].sort(),
    };
    const members = (t.tasks ?? []).flatMap((m, i) => this.task(m, [...path, "tasks", i], t.name, inbound));
    return [compiled, ...members];
  }

  #checkTarget(target: string, path: Path): void {
    const top = this.#def.tasks.some((t) => t.name === target);
    if (!this.#taskNames.has(target)) this.problem(path, `unknown task "${target}"${suggest(target, this.#taskNames)}`);
    else if (!top) this.problem(path, `"${target}" is a member of a parallel block; transitions lead to top-level tasks only`);
  }
}

function children(expr: import("./expressions/syntax.js").Expr): import("./expressions/syntax.js").Expr[] {
  switch (expr.type) {
    case "member":
      return typeof expr.key === "string" ? [expr.object] : [expr.object, expr.key];
    case "array":
      return [...expr.items];
    case "unary":
      return [expr.arg];
    case "binary":
      return [expr.left, expr.right];
    case "filter":
      return [expr.input, ...expr.args, ...Object.values(expr.kwargs)];
    case "kv":
      return expr.fallback ? [expr.fallback] : [];
    default:
      return [];
  }
}

/** Levenshtein distance, for "did you mean". */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const next = Math.min((row[j] as number) + 1, (row[j - 1] as number) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = row[j] as number;
      row[j] = next;
    }
  }
  return row[b.length] as number;
}

/** `; did you mean "x"?` for the closest known name within a third of its length, else "". */
export function suggest(name: string, known: Iterable<string>): string {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(name.length / 3)) + 1;
  for (const k of [...known].sort()) {
    const d = distance(name, k);
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return best === undefined ? "" : `; did you mean "${best}"?`;
}

/** Every cycle of transitions (as the tasks on it), each with the task where it closes. */
function findCycles(def: WorkflowDef): { task: string; index: number; target: string; members: string[] }[] {
  const edges = new Map(def.tasks.map((t) => [t.name, targetsOf(t)]));
  const found: { task: string; index: number; target: string; members: string[] }[] = [];
  const state = new Map<string, "visiting" | "done">();
  const stack: string[] = [];
  const visit = (name: string): void => {
    state.set(name, "visiting");
    stack.push(name);
    for (const next of edges.get(name) ?? []) {
      if (!edges.has(next)) continue;
      if (state.get(next) === "visiting") {
        found.push({ task: name, index: def.tasks.findIndex((t) => t.name === name), target: next, members: stack.slice(stack.indexOf(next)) });
      } else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(name, "done");
  };
  for (const t of def.tasks) if (!state.has(t.name)) visit(t.name);
  return found;
}

/** The top-level tasks some path of transitions from a start task leads to (a block's members run with it). */
function reachable(def: WorkflowDef, start: readonly string[]): Set<string> {
  const edges = new Map(def.tasks.map((t) => [t.name, targetsOf(t)]));
  const seen = new Set(start);
  const queue = [...start];
  for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
    for (const next of edges.get(name) ?? []) if (edges.has(next) && !seen.has(next)) (seen.add(next), queue.push(next));
  }
  return seen;
}

/** Compiles a definition; the problems list is empty when it is valid. */
export function compileWorkflow(def: WorkflowDef): { workflow: CompiledWorkflow; problems: Problem[] } {
  const c = new Compiler(def);
  const every = allTasks(def.tasks);
  if (every.length > MAX_TASKS) c.problem(["tasks"], `${every.length} tasks; the limit is ${MAX_TASKS}`, { code: ErrorCodes.tooManyTasks, key: true });
  const seen = new Map<string, Path>();
  const walk = (tasks: readonly TaskDef[], path: Path): void =>
    tasks.forEach((t, i) => {
      if (seen.has(t.name)) c.problem([...path, i, "name"], `task name "${t.name}" is used twice`);
      seen.set(t.name, [...path, i]);
      if (t.tasks) walk(t.tasks, [...path, i, "tasks"]);
    });
  walk(def.tasks, ["tasks"]);
  const inbound = new Map<string, string[]>();
  for (const t of def.tasks) for (const target of new Set(targetsOf(t))) inbound.set(target, [...(inbound.get(target) ?? []), t.name]);
  const tasks = new Map<string, CompiledTask>();
  def.tasks.forEach((t, i) => {
    for (const compiled of c.task(t, ["tasks", i], undefined, inbound)) if (!tasks.has(compiled.name)) tasks.set(compiled.name, compiled);
  });
  const onCycle = new Set<string>();
  for (const cycle of findCycles(def)) {
    for (const m of cycle.members) onCycle.add(m);
    // A loop is allowed when a task on it bounds how often one path may reach it.
    if (cycle.members.some((m) => def.tasks.find((t) => t.name === m)?.max_iterations !== undefined)) continue;
    c.problem(["tasks", cycle.index, "name"], `unbounded loop: "${cycle.task}" leads back to "${cycle.target}"; give a task on the loop max_iterations`);
  }
  def.tasks.forEach((t, i) => {
    if (t.join === "all" && [t.name, ...(inbound.get(t.name) ?? [])].some((n) => onCycle.has(n))) {
      c.problem(["tasks", i, "join"], `join: all on "${t.name}": neither it nor the tasks leading to it may be on a loop`, { key: true });
    }
  });
  // A task that only leads back to itself (a self-loop) still starts the run.
  const start = def.tasks.filter((t) => (inbound.get(t.name) ?? []).every((from) => from === t.name)).map((t) => t.name);
  if (start.length === 0) c.problem(["tasks"], "no task starts the run: every task is the target of a transition", { key: true });
  else {
    const reached = reachable(def, start);
    def.tasks.forEach((t, i) => {
      if (!reached.has(t.name)) c.problem(["tasks", i, "name"], `task "${t.name}" is unreachable: no path from a start task (${start.join(", ")}) leads to it`);
    });
  }
  def.tasks.forEach((t, i) => {
    if (t.join === "all" && (inbound.get(t.name) ?? []).length < 2) c.problem(["tasks", i, "join"], `join: all on "${t.name}" needs two or more tasks leading to it`, { key: true });
  });
  const vars = c.templates(def.vars ?? {}, ["vars"], {});
  const outputReads = new Set<string>();
  const outputMap = def.output_map ? c.templates(def.output_map, ["output_map"], { task: true }, outputReads) : undefined;
  const workflow: CompiledWorkflow = {
    def,
    tasks,
    start,
    vars,
    ...(outputMap ? { outputMap } : {}),
    outputReads: [...outputReads].sort(),
    parameters: objectOf(def.parameters ?? {}),
    ...(def.output ? { output: toZod(def.output) } : {}),
    kvKeys: [...c.kv].sort(),
  };
  return { workflow, problems: c.problems };
}
