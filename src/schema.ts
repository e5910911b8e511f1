/**
 * Schemas, whatever library they come from. Wherever trellis takes a schema (a
 * typed executor's input, a package's run input) it takes a Standard Schema
 * (https://standardschema.dev): zod 3.25+ and 4, valibot, arktype and others
 * implement it, so an application brings its own validation library and its own
 * version of it.
 */
import type { StandardSchemaV1 } from "@standard-schema/spec";
import { ErrorCodes, WorkflowError } from "./errors.js";

/** A schema trellis can validate with: any Standard Schema (zod, valibot, arktype, ...). */
export type Schema<Input = unknown, Output = Input> = StandardSchemaV1<Input, Output>;

/** The type a schema produces when it accepts a value. */
export type InferOutput<S extends Schema> = StandardSchemaV1.InferOutput<S>;

/** The type a schema accepts. */
export type InferInput<S extends Schema> = StandardSchemaV1.InferInput<S>;

/** One reason a value was refused, as `details` of an `invalid_input` error carry them. */
export interface SchemaIssue {
  /** What is wrong, as the schema library words it. */
  message: string;
  /** Where in the value: property names and array indexes, outermost first. */
  path?: (string | number)[];
}

export function isSchema(value: unknown): value is Schema {
  const standard = (value as { "~standard"?: { validate?: unknown } } | null | undefined)?.["~standard"];
  return typeof standard === "object" && standard !== null && typeof standard.validate === "function";
}

/**
 * Validates `value` with `schema` and returns the schema's output. A refusal is a
 * `WorkflowError` with code `invalid_input`: its message is `what` and the first
 * issue (with its path), its `details` every issue. A schema (or a value) that
 * throws while validating is refused the same way, with the thrown error as `cause`.
 */
export async function validate<S extends Schema>(schema: S, value: unknown, what: string): Promise<InferOutput<S>> {
  let result: StandardSchemaV1.Result<InferOutput<S>>;
  try {
    result = (await schema["~standard"].validate(value)) as StandardSchemaV1.Result<InferOutput<S>>;
  } catch (err) {
    throw new WorkflowError(ErrorCodes.invalidInput, `${what}: cannot be validated: ${errorMessage(err)}`, { cause: err });
  }
  if (!result.issues) return result.value;
  const issues = result.issues.map(toIssue);
  const first = issues[0];
  const where = first?.path?.length ? `${first.path.map(String).join(".")}: ` : "";
  throw new WorkflowError(ErrorCodes.invalidInput, `${what}: ${where}${first?.message ?? "invalid"}`, { details: issues });
}

/**
 * Checks a value without waiting, for checks that must be synchronous (a
 * declarative workflow's static inputs, checked before workers start). Returns
 * the issues, an empty list when the value matches, or `undefined` when the
 * schema validates asynchronously (it cannot be checked now).
 */
export function issuesNow(schema: Schema, value: unknown): SchemaIssue[] | undefined {
  let result: StandardSchemaV1.Result<unknown> | Promise<StandardSchemaV1.Result<unknown>>;
  try {
    result = schema["~standard"].validate(value);
  } catch (err) {
    return [{ message: `cannot be validated: ${errorMessage(err)}` }];
  }
  if (result instanceof Promise) {
    result.catch(() => undefined); // not awaited: do not leave a rejection unhandled
    return undefined;
  }
  return result.issues ? result.issues.map(toIssue) : [];
}

function toIssue(issue: StandardSchemaV1.Issue): SchemaIssue {
  // Symbols become text: details are stored with a failed step, and must serialize.
  const path = issue.path?.map((p) => (typeof p === "object" && p !== null ? p.key : p)).map((k) => (typeof k === "number" ? k : String(k)));
  const message = typeof issue.message === "string" ? issue.message : "invalid";
  return path?.length ? { message, path } : { message };
}

function errorMessage(err: unknown): string {
  try {
    return err instanceof Error ? err.message : String(err);
  } catch {
    return "a value that cannot be printed";
  }
}
