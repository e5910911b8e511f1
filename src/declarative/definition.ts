/**
 * The shape of a declarative workflow definition (one YAML document), as a zod
 * schema over what the YAML parser produced. Unknown keys are reported by the
 * loader with a "did you mean" from the key lists kept here.
 */
import { z } from "zod";

/** Built-in actions: no executor to register. */
export const BUILTIN_ACTIONS = {
  noop: "core.noop",
  inquiry: "core.inquiry",
  sleep: "core.sleep",
} as const;

/** The most items (or batches' items) one `with_items` may have. */
export const MAX_ITEMS = 50_000;

/** A task (and workflow) name: usable as `task.<name>` in templates and inside step ids. */
export const TASK_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,99}$/;

const seconds = z.number().min(0).max(2_000_000);
const targets = z.union([z.string(), z.array(z.string()).min(1)]);
const template = z.string();

/** A JSON-schema-like node of `parameters` and `output`. */
export type SchemaNode = {
  type?: "string" | "number" | "integer" | "boolean" | "object" | "array" | "any";
  required?: boolean | string[];
  enum?: unknown[];
  default?: unknown;
  description?: string;
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
};

/** The keys a schema node may hold. */
export const SCHEMA_NODE_KEYS = ["type", "required", "enum", "default", "description", "properties", "items"] as const;

/** The zod schema of a schema node. */
export const schemaNode: z.ZodType<SchemaNode> = z.lazy(() =>
  z.strictObject({
    type: z.enum(["string", "number", "integer", "boolean", "object", "array", "any"]).optional(),
    required: z.union([z.boolean(), z.array(z.string())]).optional(),
    enum: z.array(z.unknown()).min(1).optional(),
    default: z.unknown().optional(),
    description: z.string().optional(),
    properties: z.record(z.string(), schemaNode).optional(),
    items: schemaNode.optional(),
  }),
);

/** The keys of a task's `retry`. */
export const RETRY_KEYS = ["count", "delay", "backoff", "max_delay", "on_error"] as const;
const retry = z.strictObject({
  count: z.number().int().min(0).max(100),
  delay: seconds.optional(),
  backoff: z.enum(["constant", "linear", "exponential"]).optional(),
  max_delay: seconds.optional(),
  on_error: template.optional(),
});

/** The keys of a `decision` entry. */
export const DECISION_KEYS = ["when", "next", "default"] as const;
const decisionEntry = z.union([z.strictObject({ when: template, next: z.string() }), z.strictObject({ default: z.string() })]);

/** The keys a task may hold. */
export const TASK_KEYS = [
  "name", "type", "action", "input", "publish", "on_success", "on_failure", "on_complete", "on_timeout",
  "when", "decision", "with_items", "batch_size", "concurrency", "retry", "timeout", "join", "max_iterations", "tasks", "description",
] as const;

/** A task as written in a definition. */
export interface TaskDef {
  name: string;
  type?: "action" | "parallel";
  action?: string;
  description?: string;
  input?: unknown;
  publish?: Record<string, unknown> | Record<string, unknown>[];
  on_success?: string | string[];
  on_failure?: string | string[];
  on_complete?: string | string[];
  on_timeout?: string | string[];
  when?: string;
  decision?: ({ when: string; next: string } | { default: string })[];
  with_items?: string | unknown[];
  batch_size?: number;
  concurrency?: number;
  retry?: z.infer<typeof retry>;
  timeout?: number;
  join?: "all";
  max_iterations?: number;
  tasks?: TaskDef[];
}

/** The zod schema of a task. */
export const taskDef: z.ZodType<TaskDef> = z.lazy(() =>
  z.strictObject({
    name: z.string().regex(TASK_NAME, "a task name is a letter or _ followed by letters, digits or _ (at most 100)"),
    type: z.enum(["action", "parallel"]).optional(),
    action: z.string().min(1).optional(),
    description: z.string().optional(),
    input: z.unknown().optional(),
    publish: z.union([z.record(z.string(), z.unknown()), z.array(z.record(z.string(), z.unknown()))]).optional(),
    on_success: targets.optional(),
    on_failure: targets.optional(),
    on_complete: targets.optional(),
    on_timeout: targets.optional(),
    when: template.optional(),
    decision: z.array(decisionEntry).min(1).optional(),
    with_items: z.union([template, z.array(z.unknown())]).optional(),
    batch_size: z.number().int().min(1).max(100_000).optional(),
    concurrency: z.number().int().min(1).max(10_000).optional(),
    retry: retry.optional(),
    timeout: z.number().positive().max(2_000_000).optional(),
    join: z.literal("all").optional(),
    max_iterations: z.number().int().min(1).max(10_000).optional(),
    tasks: z.array(taskDef).min(1).optional(),
  }),
);

/** The top-level keys of a definition. */
export const WORKFLOW_KEYS = ["ref", "label", "description", "version", "parameters", "output", "vars", "tasks", "output_map"] as const;

/** The zod schema of a whole definition. */
export const workflowDef = z.strictObject({
  ref: z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]{0,199}$/, "a ref is letters, digits, _, . and - (at most 200), starting with a letter or _"),
  label: z.string().optional(),
  description: z.string().optional(),
  version: z.union([z.string().min(1).max(50), z.number()]).transform(String),
  parameters: z.record(z.string(), schemaNode).optional(),
  output: schemaNode.optional(),
  vars: z.record(z.string(), z.unknown()).optional(),
  tasks: z.array(taskDef).min(1),
  output_map: z.record(z.string(), z.unknown()).optional(),
});

/** A definition as validated: what is stored with each run, and compiled in every process. */
export type WorkflowDef = z.infer<typeof workflowDef>;

/** The transitions a task can have, and the edge label each gets in a picture. */
export const TRANSITIONS = ["on_success", "on_failure", "on_complete", "on_timeout"] as const;
/** A transition key of a task. */
export type Transition = (typeof TRANSITIONS)[number];

/** A transition's targets as a list (one name or many). */
export function asList(value: string | string[] | undefined): string[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

/** Every task of a definition, nested parallel members included, in document order. */
export function allTasks(tasks: readonly TaskDef[]): TaskDef[] {
  return tasks.flatMap((t) => [t, ...(t.tasks ? allTasks(t.tasks) : [])]);
}

/** The publish entries of a task, in order, as [name, template] pairs. */
export function publishEntries(task: TaskDef): [string, unknown][] {
  const list = task.publish === undefined ? [] : Array.isArray(task.publish) ? task.publish : [task.publish];
  return list.flatMap((entry) => Object.entries(entry));
}

/** Every task a task's transitions and decision lead to. */
export function targetsOf(task: TaskDef): string[] {
  const out = TRANSITIONS.flatMap((t) => asList(task[t]));
  for (const d of task.decision ?? []) out.push("next" in d ? d.next : d.default);
  return out;
}
