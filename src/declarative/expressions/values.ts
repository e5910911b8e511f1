/**
 * What template values are and how they behave: JSON-like data read only
 * through own properties (never a prototype), Jinja-like truthiness and
 * equality, and the budget every evaluation draws from.
 */
import { ErrorCodes, WorkflowError } from "../../errors.js";
import { FORBIDDEN_KEYS } from "./syntax.js";

/** Bounds of one evaluation: steps taken (nodes, filter work per element) and text produced. */
export interface Budget {
  /** Steps taken so far; evaluation adds to it. */
  steps: number;
  /** More steps than this fail with `expression_budget`. */
  readonly maxSteps: number;
  /** A produced text longer than this fails with `expression_budget`. */
  readonly maxOutputChars: number;
}

/** Default bounds: generous for real templates, small enough that no template can hang a worker. */
export const DEFAULT_MAX_STEPS = 100_000;
/** The default bound on the characters one evaluation produces. */
export const DEFAULT_MAX_OUTPUT_CHARS = 1_000_000;

/** A fresh budget for one evaluation. */
export function newBudget(maxSteps = DEFAULT_MAX_STEPS, maxOutputChars = DEFAULT_MAX_OUTPUT_CHARS): Budget {
  return { steps: 0, maxSteps, maxOutputChars };
}

/** Spends `n` steps; `expression_budget` past the bound. */
export function spend(budget: Budget, n = 1): void {
  budget.steps += n;
  if (budget.steps > budget.maxSteps) {
    throw new WorkflowError(ErrorCodes.expressionBudget, `template evaluation took more than ${budget.maxSteps} steps`);
  }
}

/** Checks a produced string (or serialized value) against the output bound. */
export function checkOutput(budget: Budget, text: string): string {
  if (text.length > budget.maxOutputChars) {
    throw new WorkflowError(ErrorCodes.expressionBudget, `template output is longer than ${budget.maxOutputChars} characters`);
  }
  return text;
}

/** An `expression_error` with this message. */
export function expressionError(message: string): WorkflowError {
  return new WorkflowError(ErrorCodes.expressionError, message);
}

/** Whether a value is a plain object (not a list, not a class instance). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Reads `key` of `value`: own properties of plain objects, indexes of arrays; anything else is absent (null). */
export function readKey(value: unknown, key: unknown): unknown {
  if (typeof key === "string" && FORBIDDEN_KEYS.has(key)) throw expressionError(`"${key}" cannot be read in a template`);
  if (Array.isArray(value)) {
    const index = typeof key === "number" ? key : typeof key === "string" && /^-?\d+$/.test(key) ? Number(key) : Number.NaN;
    if (!Number.isInteger(index)) return null;
    const at = index < 0 ? value.length + index : index;
    return at >= 0 && at < value.length ? value[at] : null;
  }
  if (isPlainObject(value) && (typeof key === "string" || typeof key === "number")) {
    const name = String(key);
    return Object.hasOwn(value, name) ? value[name] : null;
  }
  return null;
}

/** Jinja's truthiness: null, false, 0, "", [] and {} are false. */
export function truthy(value: unknown): boolean {
  if (value === null || value === undefined || value === false || value === 0 || value === "") return false;
  if (Array.isArray(value)) return value.length > 0;
  if (isPlainObject(value)) return Object.keys(value).length > 0;
  return true;
}

/** Structural equality over JSON-like values. */
export function equal(a: unknown, b: unknown, budget: Budget): boolean {
  spend(budget);
  if (a === b) return true;
  if (a === undefined || b === undefined) return (a ?? null) === (b ?? null);
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => equal(x, b[i], budget));
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && equal(a[k], b[k], budget));
  }
  return false;
}

/** How a value is written into a larger string: strings as they are, null as "", the rest as JSON. */
export function toText(value: unknown, budget: Budget): string {
  if (typeof value === "string") return value;
  if (value === null || value === undefined) return "";
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return toJson(value, budget);
}

/** JSON text of a value, charged to the budget by its length. */
export function toJson(value: unknown, budget: Budget): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    throw expressionError(`value cannot be written as JSON: ${(err as Error).message}`);
  }
  text ??= "null";
  spend(budget, Math.ceil(text.length / 64));
  return checkOutput(budget, text);
}

/** A value's kind for messages ("a list", "a string", ...). */
export function describe(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (Array.isArray(value)) return "a list";
  if (isPlainObject(value)) return "an object";
  return `a ${typeof value}`;
}
