/**
 * The filters a template may apply with `|`. Each one checks its argument types
 * and charges the budget for the work it does per element, so that no filter on
 * a large value escapes the evaluation bound.
 */
import type { Budget } from "./values.js";
import { checkOutput, describe, equal, expressionError, isPlainObject, readKey, spend, toJson, toText, truthy } from "./values.js";

/** A filter: its input, positional and named arguments, and the budget it charges. */
export type FilterFn = (input: unknown, args: readonly unknown[], kwargs: Readonly<Record<string, unknown>>, budget: Budget) => unknown;

function text(name: string, value: unknown): string {
  if (typeof value !== "string") throw expressionError(`${name} needs a string, got ${describe(value)}`);
  return value;
}

function list(name: string, value: unknown): unknown[] {
  if (!Array.isArray(value)) throw expressionError(`${name} needs a list, got ${describe(value)}`);
  return value;
}

function arg(args: readonly unknown[], kwargs: Readonly<Record<string, unknown>>, index: number, name: string): unknown {
  return Object.hasOwn(kwargs, name) ? kwargs[name] : args[index];
}

function concat(budget: Budget, a: string, b: string): string {
  spend(budget, Math.ceil((a.length + b.length) / 64));
  return checkOutput(budget, a + b);
}

/** Filters by name; a `Map`, so no name reaches an object's prototype. */
export const FILTERS: ReadonlyMap<string, FilterFn> = new Map<string, FilterFn>([
  ["upper", (v) => text("upper", v).toUpperCase()],
  ["lower", (v) => text("lower", v).toLowerCase()],
  ["trim", (v) => text("trim", v).trim()],
  ["append", (v, a, k, b) => concat(b, toText(v, b), toText(arg(a, k, 0, "suffix"), b))],
  ["prepend", (v, a, k, b) => concat(b, toText(arg(a, k, 0, "prefix"), b), toText(v, b))],
  ["default", (v, a, k) => (v === null || v === undefined ? (arg(a, k, 0, "value") ?? null) : v)],
  [
    "length",
    (v) => {
      if (typeof v === "string" || Array.isArray(v)) return v.length;
      if (isPlainObject(v)) return Object.keys(v).length;
      throw expressionError(`length needs a string, a list or an object, got ${describe(v)}`);
    },
  ],
  ["first", (v) => (typeof v === "string" ? (v[0] ?? null) : (list("first", v)[0] ?? null))],
  ["last", (v) => (typeof v === "string" ? (v.at(-1) ?? null) : (list("last", v).at(-1) ?? null))],
  [
    "join",
    (v, a, k, b) => {
      const items = list("join", v);
      const separator = arg(a, k, 0, "separator") ?? ",";
      spend(b, items.length);
      return checkOutput(b, items.map((x) => toText(x, b)).join(text("join separator", separator)));
    },
  ],
  ["to_json", (v, _a, _k, b) => toJson(v, b)],
  [
    "from_json",
    (v, _a, _k, b) => {
      const source = text("from_json", v);
      spend(b, Math.ceil(source.length / 64));
      try {
        return JSON.parse(source, (key, value) => {
          if (key === "__proto__") throw expressionError('"__proto__" cannot be read in a template');
          return value;
        });
      } catch (err) {
        if (err instanceof Error && err.name === "WorkflowError") throw err;
        throw expressionError(`from_json: ${(err as Error).message}`);
      }
    },
  ],
  [
    "batch",
    (v, a, k, b) => {
      const items = list("batch", v);
      const size = arg(a, k, 0, "size");
      if (typeof size !== "number" || !Number.isInteger(size) || size < 1) throw expressionError("batch needs a size: a whole number of at least 1");
      spend(b, items.length);
      const batches: unknown[][] = [];
      for (let i = 0; i < items.length; i += size) batches.push(items.slice(i, i + size));
      return batches;
    },
  ],
  [
    "filter",
    (v, a, k, b) => {
      const items = list("filter", v);
      spend(b, items.length);
      // filter(), filter('key'), filter('key', value) or filter(key=value): keep items that match.
      const named = Object.keys(k);
      if (named.length === 0 && a.length === 0) return items.filter(truthy);
      const [key, expected, byValue] =
        named.length > 0 ? [named[0] as string, k[named[0] as string], true] : [text("filter key", a[0]), a[1], a.length > 1];
      return items.filter((item) => (byValue ? equal(readKey(item, key), expected, b) : truthy(readKey(item, key))));
    },
  ],
]);
