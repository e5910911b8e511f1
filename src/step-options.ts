/**
 * What one step is made of: its options, the dependency helpers, and the
 * validation that turns an id, an input and options into the record the store
 * inserts. Shared by the run builder, the step context (emitted steps) and the
 * built-in waits, none of which need each other for it.
 */
import { z } from "zod";
import { ErrorCodes, WorkflowError } from "./errors.js";
import { MAX_DURATION_MS } from "./limits.js";
import { hasNul, storedText } from "./names.js";
import { type RetryPolicy, resolveRetryPolicy, retryPolicySchema } from "./retry.js";
import { tryEncode } from "./serialization.js";
import { dependencyOn } from "./store/graph-rules.js";
import type { NewStep, StoredDependency } from "./store/store.js";
import type { Executor } from "./executor.js";
import type { Dependency } from "./types.js";

/**
 * A step laid out by `run.step(...)` (or another builder call). `Output` is the
 * step's result data as far as the compiler knows: the executor's return type
 * when the step names its executor object as `kind`, `unknown` otherwise. It
 * types `rt.result(runId, handle)`, `step.dependencyData(handle)` and, returned
 * from an entrypoint, the package's output.
 */
export interface StepHandle<Output = unknown> {
  /** The step's id, as given to `run.step(...)`. */
  id: string;
  /** Never set: it carries the step's output type. */
  readonly __output?: Output;
}

/** The result data type a step handle carries. */
export type StepOutput<H> = H extends StepHandle<infer O> ? O : unknown;

/**
 * A step's options. `Kind` is what `kind` holds: a kind string (the default), or
 * an executor object (`run.step(id, input, { kind: executor })`), whose types
 * the step then takes.
 */
export interface StepOpts<Kind extends string | Executor = string> {
  /**
   * Executor kind, or the executor itself (its `kind` is used, and the step's
   * input and output get its types). Workers claim only steps of kinds their
   * process has an executor for (or an alias): a kind nobody registered stays
   * ready, counted in `rt.stats().missingKinds`, until a process that has it runs it.
   */
  kind: Kind;
  /** Default `"default"`. Limits are configured per queue in `RuntimeConfig.queues`. */
  queue?: string;
  /** A second step with the same key in the same run is not created. */
  dedupKey?: string;
  /** Steps of the same run this one waits for (`requireSteps`, `onFailure`, `onComplete`); default none. */
  dependsOn?: Dependency[];
  /** How failed attempts are retried (default: one attempt, no retry). */
  retry?: RetryPolicy;
  /** String key/values kept with the step (`StepInfo.metadata`). */
  metadata?: Record<string, string>;
  /** Free label, kept for parity with the Go package. */
  site?: string;
  /** The step it is grouped under in the run graph; defaults to the emitting step for `step.emit`, none for entrypoint steps. */
  parentId?: string;
  /** Not ready before this instant (a durable timer: survives restarts). */
  runAt?: Date;
  /** ms after the step becomes otherwise ready (its dependencies done). */
  delay?: number;
  /** ms one attempt may run; then `step.signal` aborts and the attempt fails with code `timeout` (retryable). */
  timeout?: number;
  /** Higher is claimed first among the ready steps of its queue (default 0). */
  priority?: number;
}

const dependencySchema = z
  .object({ stepId: storedText(1, 255), required: z.boolean().optional(), on: z.enum(["succeeded", "failed", "completed"]).optional() })
  .strict()
  .refine((d) => d.required !== undefined || d.on !== undefined, { message: "a dependency needs required or on" })
  .refine((d) => !(d.required === false && d.on !== undefined && d.on !== "completed"), {
    message: 'required: false means on: "completed"; it contradicts this on',
  });

const stepOptsSchema = z
  .object({
    kind: z.string().trim().min(1, "kind is required").refine((k) => !hasNul(k), "must not contain NUL characters"),
    queue: storedText(1, 255).optional(),
    dedupKey: storedText(1, 1_000).optional(),
    dependsOn: z.array(dependencySchema).optional(),
    retry: retryPolicySchema.optional(),
    metadata: z.record(z.string(), z.string()).optional(),
    site: storedText(0).optional(),
    parentId: storedText(0, 255).optional(),
    runAt: z.date().refine((d) => Number.isFinite(d.getTime()), "must be a valid Date").optional(),
    delay: z.number().int().min(0).max(MAX_DURATION_MS).optional(),
    timeout: z.number().int().min(1).max(MAX_DURATION_MS).optional(),
    priority: z.number().int().min(-1_000_000).max(1_000_000).optional(),
  })
  .strict();

/** Options whose `kind` is an executor object get its kind string (anything else is left for the schema to judge). */
function withKindName(opts: StepOpts<string | Executor>): unknown {
  const kind = (opts as { kind?: unknown } | null | undefined)?.kind;
  if (typeof kind !== "object" || kind === null || !("execute" in kind)) return opts;
  return { ...opts, kind: (kind as { kind?: unknown }).kind };
}

const idOf = (h: StepHandle | string) => (typeof h === "string" ? h : h.id);

/** Dependencies that need the given steps to succeed (Go's `Require`). */
export function requireSteps(...handles: (StepHandle | string)[]): Dependency[] {
  return handles.map((h) => ({ stepId: idOf(h), required: true, on: "succeeded" }));
}

/** Dependencies that need the given steps to fail: the dependent is their failure branch. */
export function onFailure(...handles: (StepHandle | string)[]): Dependency[] {
  return handles.map((h) => ({ stepId: idOf(h), required: true, on: "failed" }));
}

/** Dependencies that need the given steps to finish, whatever their outcome. */
export function onComplete(...handles: (StepHandle | string)[]): Dependency[] {
  return handles.map((h) => ({ stepId: idOf(h), required: false, on: "completed" }));
}

/** Resolves each dependency's `on`; a step named twice with two different `on`s is an error. */
function storedDependencies(stepId: string, deps: readonly { stepId: string; required?: boolean | undefined; on?: Dependency["on"] }[]): StoredDependency[] {
  const byId = new Map<string, StoredDependency>();
  for (const d of deps) {
    const on = dependencyOn(d);
    const seen = byId.get(d.stepId);
    if (seen && seen.on !== on) {
      throw new WorkflowError(ErrorCodes.invalidInput, `step "${stepId}" depends on "${d.stepId}" twice, on "${seen.on}" and on "${on}"`);
    }
    byId.set(d.stepId, { stepId: d.stepId, on });
  }
  return [...byId.values()];
}

/**
 * Validates a step's id, input and options and turns them into the record the
 * store inserts. Throws `invalid_input` naming the step and the field.
 */
export function toNewStep(id: string, input: unknown, opts: StepOpts<string | Executor>, encodedInput?: string): NewStep {
  if (typeof id !== "string" || id.trim() === "" || id.length > 255 || hasNul(id)) {
    throw new WorkflowError(ErrorCodes.invalidInput, "a step id must be a non-empty string of at most 255 characters, without NUL");
  }
  const parsed = stepOptsSchema.safeParse(withKindName(opts));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new WorkflowError(ErrorCodes.invalidInput, `step "${id}": ${issue?.path.join(".") || "options"}: ${issue?.message}`, {
      details: parsed.error.issues,
    });
  }
  const encoded = encodedInput !== undefined ? { ok: true as const, text: encodedInput } : tryEncode(input);
  if (!encoded.ok) {
    throw new WorkflowError(ErrorCodes.invalidInput, `step "${id}": input cannot be stored: ${encoded.error.message}`, { cause: encoded.error });
  }
  const o = parsed.data;
  const step: NewStep = {
    id,
    kind: o.kind,
    queue: o.queue ?? "default",
    input: encoded.text,
    dependsOn: o.dependsOn ? storedDependencies(id, o.dependsOn) : [],
    retry: resolveRetryPolicy(o.retry),
    metadata: { ...(o.metadata ?? {}) },
    priority: o.priority ?? 0,
  };
  if (o.parentId !== undefined) step.parentId = o.parentId;
  if (o.dedupKey !== undefined) step.dedupKey = o.dedupKey;
  if (o.site !== undefined) step.site = o.site;
  if (o.runAt !== undefined) step.notBefore = o.runAt.getTime();
  if (o.delay) step.delay = o.delay;
  if (o.timeout !== undefined) step.timeout = o.timeout;
  return step;
}
