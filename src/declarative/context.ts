/**
 * What every step of a declarative run shares: the package's options, its step
 * kinds, the compiled definition a run is pinned to, and the scopes templates
 * are evaluated in. The definition is stored with the run (the input of its
 * `~definition` step) and found again by its digest, so a changed file never
 * changes a run in flight, and a process that never loaded the file can still
 * carry the run on.
 */
import { createHash } from "node:crypto";
import { ErrorCodes, WorkflowError } from "../errors.js";
import type { PackageHost } from "../package.js";
import type { StepContext } from "../step-context.js";
import type { StepError } from "../types.js";
import { type CompiledWorkflow, compileWorkflow } from "./compile.js";
import { type WorkflowDef, workflowDef } from "./definition.js";
import type { Scope } from "./expressions/evaluate.js";

/** Values the application provides to templates (`pack.config.*`, `kv.get('key')`). */
export interface DeclarativeOptions {
  /** `pack.config`: a plain object. */
  config?: Record<string, unknown>;
  /** `kv.get(key)`: a plain object, or an async lookup (undefined for a missing key). */
  kv?: Record<string, unknown> | ((key: string) => unknown | Promise<unknown>);
  /** `kv.get_secret(key)`: resolved only inside the step that uses it, never stored in an input. */
  secrets?: (key: string) => string | undefined | Promise<string | undefined>;
}

/** Run metadata keys a declarative run carries. */
export const META = {
  ref: "declarative.ref",
  version: "declarative.version",
  digest: "declarative.digest",
  depth: "declarative.depth",
} as const;

/** Fixed step ids of a declarative run (task names cannot contain `~`, `.`, `[` or `#`). */
export const IDS = {
  /** A task's n-th time on a path (a bounded loop): `name`, then `name@2`, `name@3`, ... */
  instance: (task: string, iteration: number) => (iteration > 1 ? `${task}@${iteration}` : task),
  definition: "~definition",
  output: "~output",
  route: (task: string) => `${task}.route`,
  item: (task: string, index: number) => `${task}[${index}]`,
  join: (target: string, source: string) => `${target}.join.${source}`,
  done: (node: string) => `~done.${node}`,
} as const;

/** The longest nesting of subworkflows. */
export const MAX_CHILD_DEPTH = 10;
export { MAX_ITEMS } from "./definition.js";

/** How a task ended, as `task.<name>` shows it and routes record it. */
export interface TaskView {
  /** The task's outcome (a task whose `publish` failed is `failed`). */
  status: "succeeded" | "failed";
  /** The action's result data (for `with_items`, the list of item results). */
  result: unknown;
  /** Why the task failed; null when it succeeded. */
  error: (Omit<StepError, "occurredAt"> & {
    /** The error code again (`error.type` in templates, as in the seed format). */
    type: string;
  }) | null;
}

/** What a route step (and a join check) commits as its result. */
export interface NodeResult extends TaskView {
  /** The name of the task routed (for a join, the task it joins into). */
  task: string;
  /** The path's vars after the task (its `publish` applied), handed to the next tasks. */
  vars: Record<string, unknown>;
  /** The route and join steps it emitted: the run's next nodes. */
  next: string[];
  /** How many times each task was reached on this path, this one included (bounded loops). */
  counts?: Record<string, number>;
}

/** The stored form of a definition: the validated document and its digest. */
export interface StoredDefinition {
  def: WorkflowDef;
  /** The route ids of the tasks the run started with. */
  start: string[];
}

/** The digest that identifies a definition's content (stored in the run metadata). */
export function digestOf(def: WorkflowDef): string {
  return createHash("sha256").update(JSON.stringify(def)).digest("hex").slice(0, 32);
}

const compiled = new Map<string, CompiledWorkflow>();

/** Remembers a compiled definition under its digest (the loader does this for what it loads). */
export function remember(digest: string, workflow: CompiledWorkflow): void {
  compiled.set(digest, workflow);
}

/** Forgets every compiled definition (tests: a process that never loaded a run's file). */
export function forgetCompiled(): void {
  compiled.clear();
}

/** The definition a run is pinned to: from memory by digest, else from the run's `~definition` step. */
export async function definitionOf(step: StepContext): Promise<CompiledWorkflow> {
  const digest = step.workflow.metadata[META.digest];
  const known = digest !== undefined ? compiled.get(digest) : undefined;
  if (known) return known;
  const stored = await step.dependencyData<StoredDefinition>(IDS.definition);
  const parsed = workflowDef.safeParse(stored.def);
  const result = parsed.success ? compileWorkflow(parsed.data) : undefined;
  if (!result || result.problems.length) throw new WorkflowError(ErrorCodes.invalidWorkflow, `the definition stored with run "${step.workflow.id}" does not compile`);
  if (digest !== undefined) compiled.set(digest, result.workflow);
  return result.workflow;
}

/** A step error as templates see it (`type` is the code, as the seed's `error.type`). */
export function errorView(error: { code: string; message: string; retryable?: boolean; details?: unknown } | undefined): TaskView["error"] {
  if (!error) return null;
  return { code: error.code, type: error.code, message: error.message, retryable: error.retryable ?? false, ...(error.details !== undefined ? { details: error.details } : {}) };
}

/** The package-wide pieces of a scope: system values, pack config, kv values. */
export interface ScopeBase {
  parameters: unknown;
  system: Record<string, unknown>;
  pack: { config: unknown };
  kv: ReadonlyMap<string, unknown>;
}

/** Fetches the kv keys a definition names, once per evaluation point. */
export async function fetchKv(options: DeclarativeOptions, keys: readonly string[]): Promise<Map<string, unknown>> {
  const values = new Map<string, unknown>();
  const source = options.kv;
  for (const key of keys) {
    const value = typeof source === "function" ? await source(key) : source && Object.hasOwn(source, key) ? source[key] : undefined;
    if (value !== undefined) values.set(key, value);
  }
  return values;
}

/** The scope pieces that do not depend on the path: parameters, system values, pack config, kv values. */
export async function scopeBase(options: DeclarativeOptions, wf: CompiledWorkflow, run: { id: string; createdAt: Date; input: unknown }, now: Date): Promise<ScopeBase> {
  return {
    parameters: run.input,
    system: {
      run_id: run.id,
      execution_id: run.id,
      ref: wf.def.ref,
      version: wf.def.version,
      run_started_at: run.createdAt.toISOString(),
      timestamp: now.toISOString(),
    },
    pack: { config: options.config ?? {} },
    kv: await fetchKv(options, wf.kvKeys),
  };
}

/** A full scope: the base, the path's vars, the task views, and `item` / `index` for an item. */
export function scopeOf(base: ScopeBase, vars: Record<string, unknown>, task: Record<string, unknown>, extra: { item?: unknown; index?: unknown } = {}): Scope {
  return { ...base, vars, task, ...extra };
}

/**
 * `task.<name>` for the names a template reads: each one's route result (of its
 * latest time on this path, by `counts`), or null before it finished.
 */
export async function taskViews(
  step: StepContext, names: readonly string[], known: Record<string, TaskView> = {}, counts: Readonly<Record<string, number>> = {},
): Promise<Record<string, unknown>> {
  const views: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const name of names) {
    if (known[name]) {
      views[name] = known[name];
      continue;
    }
    const result = await step.dependencyResult(IDS.route(IDS.instance(name, counts[name] ?? 1))).catch(() => undefined);
    const data = result && !result.error ? (result.data as NodeResult) : undefined;
    views[name] = data ? { status: data.status, result: data.result, error: data.error } : null;
  }
  return views;
}

/** The host (runtime) a package was registered on; set by `attach`. */
export interface HostRef {
  host?: PackageHost;
}
