/**
 * Evaluates a parsed expression over a scope, synchronously and within a budget.
 * Values are only ever read (own properties, see `readKey`); nothing is called
 * but the filters of `filters.ts`.
 */
import { FILTERS } from "./filters.js";
import type { Expr, RootName } from "./syntax.js";
import { type Budget, checkOutput, describe, equal, expressionError, readKey, spend, toText, truthy } from "./values.js";

/** A placeholder for a secret: resolved only when the step runs, never stored as its value. */
export interface SecretRef {
  readonly $secret: string;
}

/** What a template can see. `kv` holds the values fetched for the keys the templates name. */
export interface Scope {
  /** `parameters.*`: the run input, after defaults. */
  readonly parameters?: unknown;
  /** `vars.*`: the run's vars on this path. */
  readonly vars?: unknown;
  /** `task.<name>`: each finished task's `TaskView`, null before it finished. */
  readonly task?: Readonly<Record<string, unknown>>;
  /** `item`: the current item (or batch) of a `with_items` task. */
  readonly item?: unknown;
  /** `index`: the current item's (or batch's) number, from 0. */
  readonly index?: unknown;
  /** `system.*`: `run_id`, `execution_id`, `ref`, `version`, `run_started_at`, `timestamp`. */
  readonly system?: unknown;
  /** `pack.config.*`. */
  readonly pack?: {
    /** The `config` object given to `parseWorkflow` / `loadWorkflows`. */
    readonly config?: unknown;
  };
  /** What `kv.get('key')` reads, by key; a key missing (or null) gives the call's default, else null. */
  readonly kv?: ReadonlyMap<string, unknown>;
}

function root(scope: Scope, name: RootName): unknown {
  switch (name) {
    case "kv":
      throw expressionError("kv is read with kv.get('key') or kv.get_secret('key')");
    case "task":
      return scope.task ?? {};
    default:
      return scope[name] ?? null;
  }
}

function number(op: string, value: unknown): number {
  if (typeof value !== "number") throw expressionError(`${op} needs numbers, got ${describe(value)}`);
  return value;
}

function arithmetic(op: "-" | "*" | "/" | "%", a: unknown, b: unknown): number {
  const x = number(op, a);
  const y = number(op, b);
  const result = op === "-" ? x - y : op === "*" ? x * y : op === "/" ? x / y : x % y;
  if (!Number.isFinite(result)) throw expressionError(`${x} ${op} ${y} is not a finite number`);
  return result;
}

function compare(op: "<" | ">" | "<=" | ">=", a: unknown, b: unknown): boolean {
  if (!((typeof a === "number" && typeof b === "number") || (typeof a === "string" && typeof b === "string"))) {
    throw expressionError(`${op} compares two numbers or two strings, got ${describe(a)} and ${describe(b)}`);
  }
  return op === "<" ? a < b : op === ">" ? a > b : op === "<=" ? a <= b : a >= b;
}

function plus(a: unknown, b: unknown, budget: Budget): unknown {
  if (typeof a === "number" && typeof b === "number") return arithmetic("-", a, -b);
  if (typeof a === "string" || typeof b === "string") {
    const left = toText(a, budget);
    const right = toText(b, budget);
    spend(budget, Math.ceil((left.length + right.length) / 64));
    return checkOutput(budget, left + right);
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    spend(budget, a.length + b.length);
    return [...a, ...b];
  }
  throw expressionError(`+ adds numbers, strings or lists, got ${describe(a)} and ${describe(b)}`);
}

function contains(haystack: unknown, needle: unknown, budget: Budget): boolean {
  if (typeof haystack === "string") return typeof needle === "string" && haystack.includes(needle);
  if (Array.isArray(haystack)) {
    spend(budget, haystack.length);
    return haystack.some((x) => equal(x, needle, budget));
  }
  if (haystack !== null && typeof haystack === "object" && typeof needle === "string") return readKey(haystack, needle) !== null;
  throw expressionError(`in looks into a string, a list or an object, got ${describe(haystack)}`);
}

/** The value of `expr` in `scope`; every error is a `WorkflowError` (`expression_error` or `expression_budget`). */
export function evaluate(expr: Expr, scope: Scope, budget: Budget): unknown {
  spend(budget);
  switch (expr.type) {
    case "literal":
      return expr.value;
    case "root":
      return root(scope, expr.name);
    case "member": {
      const object = evaluate(expr.object, scope, budget);
      const key = typeof expr.key === "string" ? expr.key : evaluate(expr.key, scope, budget);
      return readKey(object, key);
    }
    case "array":
      return expr.items.map((item) => evaluate(item, scope, budget));
    case "unary": {
      const value = evaluate(expr.arg, scope, budget);
      if (expr.op === "not") return !truthy(value);
      return expr.op === "-" ? -number("-", value) : number("+", value);
    }
    case "binary": {
      const left = evaluate(expr.left, scope, budget);
      // and / or short-circuit and return an operand, as in Jinja: `a or 'fallback'`.
      if (expr.op === "and") return truthy(left) ? evaluate(expr.right, scope, budget) : left;
      if (expr.op === "or") return truthy(left) ? left : evaluate(expr.right, scope, budget);
      const right = evaluate(expr.right, scope, budget);
      switch (expr.op) {
        case "==":
          return equal(left, right, budget);
        case "!=":
          return !equal(left, right, budget);
        case "<":
        case ">":
        case "<=":
        case ">=":
          return compare(expr.op, left, right);
        case "+":
          return plus(left, right, budget);
        case "in":
          return contains(right, left, budget);
        default:
          return arithmetic(expr.op, left, right);
      }
    }
    case "filter": {
      const fn = FILTERS.get(expr.name);
      if (!fn) throw expressionError(`unknown filter "${expr.name}"`);
      const input = evaluate(expr.input, scope, budget);
      const args = expr.args.map((a) => evaluate(a, scope, budget));
      const kwargs: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
      for (const [name, a] of Object.entries(expr.kwargs)) kwargs[name] = evaluate(a, scope, budget);
      return fn(input, args, kwargs, budget);
    }
    case "kv": {
      if (expr.secret) return { $secret: expr.key } satisfies SecretRef;
      const value = scope.kv?.get(expr.key);
      if (value !== undefined && value !== null) return value;
      return expr.fallback ? evaluate(expr.fallback, scope, budget) : null;
    }
  }
}

/** Whether a value is a secret placeholder. */
export function isSecretRef(value: unknown): value is SecretRef {
  return typeof value === "object" && value !== null && !Array.isArray(value) && Object.keys(value).length === 1 && typeof (value as SecretRef).$secret === "string";
}

/** Whether a value holds a secret placeholder anywhere. */
export function holdsSecret(value: unknown): boolean {
  if (isSecretRef(value)) return true;
  if (Array.isArray(value)) return value.some(holdsSecret);
  if (typeof value === "object" && value !== null) return Object.values(value).some(holdsSecret);
  return false;
}

/** A copy of `value` with every secret placeholder replaced by its value (looked up when the step runs). */
export async function resolveSecrets(value: unknown, lookup: (key: string) => unknown): Promise<unknown> {
  if (isSecretRef(value)) return (await lookup(value.$secret)) ?? null;
  if (Array.isArray(value)) return Promise.all(value.map((v) => resolveSecrets(v, lookup)));
  if (typeof value === "object" && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) Object.defineProperty(out, k, { value: await resolveSecrets(v, lookup), enumerable: true, writable: true, configurable: true });
    return out;
  }
  return value;
}
