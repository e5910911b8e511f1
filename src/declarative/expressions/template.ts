/**
 * Templates: strings with `{{ ... }}` expressions, and values (objects, lists)
 * holding such strings. A string that is one whole expression keeps the
 * expression's type (`"{{ parameters.regions }}"` is a list); inside a larger
 * string each expression is written as text.
 */
import { ErrorCodes, WorkflowError } from "../../errors.js";
import { evaluate, isSecretRef, type Scope } from "./evaluate.js";
import { type Expr, parseExpression, syntaxError } from "./syntax.js";
import { type Budget, checkOutput, expressionError, isPlainObject, spend, toText } from "./values.js";

/** The longest template (one string) a definition may hold. */
export const MAX_TEMPLATE_CHARS = 10_000;

type Part = string | { readonly expr: Expr; readonly source: string };

/** A parsed template string. */
export interface Template {
  readonly source: string;
  /** Set when the whole string is one expression. */
  readonly whole?: Expr;
  readonly parts: readonly Part[];
}

const OPEN = "{{";
const CLOSE = "}}";

/** Whether a string holds a `{{` template. */
export function hasTemplate(text: string): boolean {
  return text.includes(OPEN);
}

/**
 * Parses a template string. Errors are `invalid_workflow` with `details.offset`
 * (into `source`), or `template_too_large`.
 */
export function parseTemplate(source: string): Template {
  if (source.length > MAX_TEMPLATE_CHARS) {
    throw new WorkflowError(ErrorCodes.templateTooLarge, `a template is ${source.length} characters long; the limit is ${MAX_TEMPLATE_CHARS}`);
  }
  const parts: Part[] = [];
  let at = 0;
  while (at < source.length) {
    const open = source.indexOf(OPEN, at);
    if (open < 0) {
      parts.push(source.slice(at));
      break;
    }
    if (open > at) parts.push(source.slice(at, open));
    const close = source.indexOf(CLOSE, open + OPEN.length);
    if (close < 0) throw syntaxError("template syntax: {{ without a closing }}", open);
    const inner = source.slice(open + OPEN.length, close);
    if (inner.trim() === "") throw syntaxError("template syntax: empty {{ }}", open);
    try {
      parts.push({ expr: parseExpression(inner), source: inner.trim() });
    } catch (err) {
      const offset = ((err as WorkflowError).details as { offset?: number } | undefined)?.offset ?? 0;
      throw syntaxError((err as Error).message, open + OPEN.length + offset);
    }
    at = close + CLOSE.length;
  }
  const [only] = parts;
  const whole = parts.length === 1 && typeof only === "object" ? only.expr : undefined;
  return { source, parts, ...(whole ? { whole } : {}) };
}

/** Renders a parsed template: the value itself for a whole expression, else text. */
export function renderTemplate(template: Template, scope: Scope, budget: Budget): unknown {
  try {
    return render(template, scope, budget);
  } catch (err) {
    // Expressions nest at most MAX_EXPRESSION_DEPTH deep, but the values they compare or
    // write out (a run's input) may nest deeper than the stack goes.
    if (err instanceof RangeError) throw expressionError(`a value nests too deeply to evaluate: ${err.message}`);
    throw err;
  }
}

function render(template: Template, scope: Scope, budget: Budget): unknown {
  if (template.whole) return evaluate(template.whole, scope, budget);
  let out = "";
  for (const part of template.parts) {
    if (typeof part === "string") {
      out += part;
      continue;
    }
    const value = evaluate(part.expr, scope, budget);
    if (isSecretRef(value)) throw expressionError("a secret (kv.get_secret) must be a whole value, not part of a string");
    out += toText(value, budget);
    spend(budget, Math.ceil(out.length / 1024));
    checkOutput(budget, out);
  }
  return out;
}

/**
 * Templates found in a value (a task's `input`, `output_map`, `vars`), parsed once
 * at load time. `render` walks the value and renders every string that holds `{{`.
 */
export class TemplateValue {
  readonly #value: unknown;
  readonly #templates = new Map<string, Template>();
  readonly #paths: { template: Template; path: (string | number)[] }[] = [];

  /** Parses every template in `value`; `onError(path, error)` is told of each bad one. */
  constructor(value: unknown, onError: (path: (string | number)[], err: WorkflowError) => void, path: (string | number)[] = []) {
    this.#value = value;
    this.#collect(value, path, onError);
  }

  #collect(value: unknown, path: (string | number)[], onError: (path: (string | number)[], err: WorkflowError) => void): void {
    if (typeof value === "string" && hasTemplate(value)) {
      const known = this.#templates.get(value);
      if (known) return void this.#paths.push({ template: known, path });
      try {
        const template = parseTemplate(value);
        this.#templates.set(value, template);
        this.#paths.push({ template, path });
      } catch (err) {
        onError(path, err as WorkflowError);
      }
    } else if (Array.isArray(value)) {
      value.forEach((v, i) => this.#collect(v, [...path, i], onError));
    } else if (isPlainObject(value)) {
      for (const [k, v] of Object.entries(value)) this.#collect(v, [...path, k], onError);
    }
  }

  /** Every parsed template with where it is, for reference checks. */
  templates(): readonly { template: Template; path: (string | number)[] }[] {
    return this.#paths;
  }

  render(scope: Scope, budget: Budget): unknown {
    return this.#render(this.#value, scope, budget);
  }

  #render(value: unknown, scope: Scope, budget: Budget): unknown {
    spend(budget);
    if (typeof value === "string") {
      const template = this.#templates.get(value);
      return template ? renderTemplate(template, scope, budget) : value;
    }
    if (Array.isArray(value)) return value.map((v) => this.#render(v, scope, budget));
    if (isPlainObject(value)) {
      const out: Record<string, unknown> = {};
      // defineProperty: a key named "__proto__" stays a plain key, never a prototype.
      for (const [k, v] of Object.entries(value)) Object.defineProperty(out, k, { value: this.#render(v, scope, budget), enumerable: true, writable: true, configurable: true });
      return out;
    }
    return value;
  }
}

/** Renders one template string from source (tests, tools): parse, then evaluate. */
export function renderString(source: string, scope: Scope, budget: Budget): unknown {
  return renderTemplate(parseTemplate(source), scope, budget);
}
