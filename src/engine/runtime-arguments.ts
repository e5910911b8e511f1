/**
 * The arguments of `Runtime`'s methods: their schemas, and the checks that
 * turn a bad one into an `invalid_input` (or `not_found`) naming the field.
 * The runtime validates everything a caller gives before it touches the store.
 */
import { z } from "zod";
import { ErrorCodes, WorkflowError, isWorkflowError } from "../errors.js";
import { MAX_DURATION_MS } from "../limits.js";
import { hasNul, storedText } from "../names.js";
import { FINISHED_RUN_STATUSES } from "../store/graph-rules.js";
import type { RunEventType } from "../types.js";
import type { WaitForRunOptions } from "./run-waiter.js";
import type { RunOnceOptions } from "./scheduler.js";

export const startOptionsSchema = z
  .object({
    runId: storedText(1, 255).optional(),
    name: storedText().optional(),
    metadata: z.record(z.string(), z.string()).optional(),
  })
  .strict();

export const NO_OPTIONS = { success: true as const, data: {} as z.output<typeof startOptionsSchema> };

export const RUN_STATUSES = ["pending", "running", "paused", "succeeded", "failed", "canceled"] as const;
export const EVENT_TYPES: readonly RunEventType[] = [
  "run_started", "run_paused", "run_resumed", "run_succeeded", "run_failed", "run_canceled", "run_scheduled",
  "step_ready", "step_claimed", "step_succeeded", "step_failed", "step_retry_scheduled", "step_skipped",
  "step_canceled", "step_reclaimed", "step_waiting", "signal_received", "operator_retry", "operator_cancel",
];



export const runOnceSchema = z
  .object({ maxSteps: z.number().int().min(1).optional() })
  .strict()
  .transform((o): RunOnceOptions => (o.maxSteps === undefined ? {} : { maxSteps: o.maxSteps }));

/** Who performed an operator action and why (`OperatorOptions`). */
const operatorFields = {
  actor: storedText(1, 200).optional(),
  reason: storedText(1, 1_000).optional(),
};

export const operatorSchema = z.object(operatorFields).strict();

export const signalSchema = z.object({
  runId: storedText(1, 255),
  name: storedText(1, 200),
  id: storedText(1, 255).optional(),
  ...operatorFields,
});

export const failedStepsSchema = z
  .object({
    package: storedText(0).optional(),
    kind: storedText(0).optional(),
    queue: storedText(0).optional(),
    code: storedText(0).optional(),
    limit: z.number().int().min(1).max(10_000).optional(),
    after: z.object({ runId: storedText(), stepId: storedText() }).strict().optional(),
  })
  .strict();

export const purgeSchema = z
  .object({
    finishedBefore: z.date().refine((d) => Number.isFinite(d.getTime()), "must be a valid Date"),
    statuses: z.array(z.enum(FINISHED_RUN_STATUSES)).min(1).optional(),
    ...operatorFields,
  })
  .strict();

export const waitForRunSchema = z
  .object({
    signal: z.custom<AbortSignal>((v) => v instanceof AbortSignal, { message: "must be an AbortSignal" }).optional(),
    timeout: z.number().int().min(0).max(MAX_DURATION_MS).optional(),
  })
  .strict()
  .transform((o): WaitForRunOptions => ({ ...(o.signal ? { signal: o.signal } : {}), ...(o.timeout !== undefined ? { timeout: o.timeout } : {}) }));

const validDate = z.date().refine((d) => Number.isFinite(d.getTime()), "must be a valid Date");

export const listRunsSchema = z
  .object({
    status: z.enum(RUN_STATUSES).optional(),
    package: storedText(0).optional(),
    packageVersion: storedText(0).optional(),
    createdFrom: validDate.optional(),
    createdTo: validDate.optional(),
    metadata: z
      .record(storedText(1, 200), storedText(0))
      .refine((m) => Object.keys(m).length <= 20, "at most 20 metadata pairs")
      .optional(),
    idPrefix: storedText(1, 255).optional(),
    limit: z.number().int().min(1).max(10_000).optional(),
    after: storedText(0).optional(),
  })
  .strict();

export const runGraphSchema = z
  .object({
    collapseAbove: z.number().int().min(1).max(1_000_000).optional(),
    expand: z.array(z.string().max(10_000)).max(1_000).optional(),
  })
  .strict();

/** Validates an argument with its schema; the first issue becomes an `invalid_input` naming the field. */
export function parseOrThrow<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new WorkflowError(ErrorCodes.invalidInput, `${what}: ${issue?.path.join(".")}: ${issue?.message}`, { details: parsed.error.issues });
}

/**
 * What escapes validating a caller's value other than a WorkflowError: the
 * value threw while it was read (a getter, a Proxy trap). It is bad input.
 */
export function asInvalidInput(err: unknown): never {
  if (isWorkflowError(err)) throw err;
  let message: string;
  try {
    message = err instanceof Error ? String(err.message) : String(err);
  } catch {
    message = "(unreadable)";
  }
  throw new WorkflowError(ErrorCodes.invalidInput, `the input threw while it was read: ${message.slice(0, 300)}`, { cause: err });
}

/** A string that can name a stored run or step (anything else names none). */
export const isRunId = (id: unknown): id is string => typeof id === "string" && id !== "" && !hasNul(id);

export function assertRunId(runId: unknown): void {
  if (!isRunId(runId)) throw new WorkflowError(ErrorCodes.notFound, `no run ${JSON.stringify(runId)}`);
}
