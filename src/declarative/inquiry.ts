/**
 * `core.inquiry`: a durable human approval. The task waits for the signal
 * `inquiry:<step id>`; its payload must match the `schema` of the task's input,
 * which is kept in the step's metadata for admin surfaces to show and check.
 */
import { ErrorCodes, WorkflowError } from "../errors.js";
import type { SchemaNode } from "./definition.js";
import { schemaNode } from "./definition.js";
import { toZod } from "./schema-node.js";

/** Why an answer does not match an inquiry's schema (stored as JSON), or undefined when it does. */
export function checkInquiryAnswer(schemaJson: string | undefined, payload: unknown): string | undefined {
  if (schemaJson === undefined) return undefined;
  const node = schemaNode.safeParse(JSON.parse(schemaJson));
  if (!node.success) return `the inquiry's schema is not a valid schema`;
  const parsed = toZod(node.data as SchemaNode).safeParse(payload);
  if (parsed.success) return undefined;
  const issue = parsed.error.issues[0];
  return `the answer does not match the inquiry's schema: ${issue?.path.join(".") || "answer"}: ${issue?.message}`;
}

/** The signal name that answers the inquiry of a task (its step id: the task name, or `name[i]` for an item). */
export function inquirySignalName(stepId: string): string {
  if (typeof stepId !== "string" || stepId === "") throw new WorkflowError(ErrorCodes.invalidInput, "an inquiry is named by its step id");
  return `inquiry:${stepId}`;
}
