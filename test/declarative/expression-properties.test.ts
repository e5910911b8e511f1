/**
 * More properties of the expression language, beyond expressions.test.ts:
 * random template text (stray braces, quotes, thousands of nested levels) in a
 * template or in a whole definition only ever fails with a `WorkflowError`; the
 * budget is exact (an evaluation that needs s steps succeeds with s and fails
 * with `expression_budget` at s - 1, so none runs past its budget); values with
 * own `__proto__` / `constructor` keys, and values nested deeper than the stack,
 * never hand out a prototype or a function.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { newBudget, parseWorkflow, renderString, type Scope } from "../../src/declarative/index.js";
import { isWorkflowError, type WorkflowError } from "../../src/errors.js";

/** What a call threw: a WorkflowError's code, or the offending error itself. */
function outcome(fn: () => unknown): { ok: true; value: unknown } | { ok: false; code: string } {
  try {
    return { ok: true, value: fn() };
  } catch (err) {
    if (!isWorkflowError(err)) throw err;
    return { ok: false, code: err.code };
  }
}

const token = fc.oneof(
  fc.constantFrom("{{", "}}", "{", "}", "'", '"', "[", "]", "(", ")", ".", ",", "|", " ", "=", "-", "+", "*", "not ", " and ", " in "),
  fc.constantFrom("parameters", "vars", "task", "item", "index", "system", "pack.config", "kv.get('k')", "kv.get_secret('s')", "upper", "length", "default(1)"),
  fc.constantFrom("__proto__", "constructor", "prototype", "toString", "this", "Function", "eval", "process"),
  fc.string({ maxLength: 4 }),
);
/** Random template text, sometimes with a run of thousands of nested levels in it. */
const text = fc
  .tuple(fc.array(token, { maxLength: 24 }), fc.constantFrom("[", "(", "- ", "not ", ".a", " | length", "+1"), fc.integer({ min: 0, max: 4_000 }))
  .map(([tokens, nest, depth]) => `${tokens.join("")}{{ ${nest.repeat(depth)}parameters }}${tokens.reverse().join("")}`);

const scope: Scope = {
  parameters: { a: 1, list: [1, 2, 3], s: "x" },
  vars: { v: "y" },
  task: { t: { status: "succeeded", result: { r: 1 }, error: null } },
  item: 2,
  index: 0,
  system: { run_id: "r" },
  pack: { config: { c: 1 } },
  kv: new Map([["k", "v"]]),
};

describe("template text, property-based", () => {
  it("any text as a template only fails with a WorkflowError", () => {
    fc.assert(
      fc.property(text, (t) => {
        outcome(() => renderString(t, scope, newBudget(5_000, 20_000)));
      }),
      { numRuns: 1_000 },
    );
  });

  it("any text in a definition's input only fails parseWorkflow with a WorkflowError", () => {
    fc.assert(
      fc.property(text, (t) => {
        const yaml = `ref: p.t\nversion: "1"\nparameters: { a: { type: any } }\ntasks:\n  - name: a\n    action: core.noop\n    input: { x: ${JSON.stringify(t)} }\n`;
        outcome(() => parseWorkflow(yaml));
      }),
      { numRuns: 500 },
    );
  });

  it("a document nested past 100 levels is refused at the node that goes too deep, on every Node version", () => {
    const flow = `ref: p.deep\nversion: "1"\nvars: { x: ${"[".repeat(150)}${"]".repeat(150)} }\ntasks:\n  - name: a\n    action: core.noop\n`;
    const err = (() => {
      try {
        parseWorkflow(flow);
      } catch (e) {
        return e as WorkflowError;
      }
      throw new Error("parsed");
    })();
    expect(err.code).toBe("invalid_workflow");
    expect(err.message).toMatch(/^<source>:3:\d+: the document nests more than 100 levels deep$/m);
    // 100 levels in all is still a definition: the top map, vars, and 98 lists.
    const deepest = `ref: p.deep\nversion: "1"\nvars: { x: ${"[".repeat(98)}${"]".repeat(98)} }\ntasks:\n  - name: a\n    action: core.noop\n`;
    expect(outcome(() => parseWorkflow(deepest)).ok).toBe(true);
  });

  it("a document nested thousands of levels deep is an invalid_workflow, not a crash", () => {
    for (const depth of [5_000, 20_000]) {
      const flow = `ref: p.deep\nversion: "1"\nvars: { x: ${"[".repeat(depth)}${"]".repeat(depth)} }\ntasks:\n  - name: a\n    action: core.noop\n`;
      const block = `ref: p.deep\nversion: "1"\nvars:\n${Array.from({ length: depth / 5 }, (_, i) => `${" ".repeat(i + 1)}k:`).join("\n")} 1\ntasks:\n  - name: a\n    action: core.noop\n`;
      for (const yaml of [flow, block]) expect(outcome(() => parseWorkflow(yaml))).toEqual({ ok: false, code: "invalid_workflow" });
    }
  });
});

/** Random expressions that usually evaluate: paths, filters and operators over the scope. */
const path = fc.constantFrom("parameters.a", "parameters.list", "parameters.s", "vars.v", "task.t.result.r", "item", "index", "pack.config.c", "kv.get('k')", "[1, 2, 3]", "'text'");
const op = fc.constantFrom(" | length", " | to_json", " | to_json | from_json", " | default(0)", " | first", " | last", " | batch(1)", " | join('-')", " | upper", "");
const expr = fc
  .array(fc.tuple(path, op), { minLength: 1, maxLength: 4 })
  .chain((terms) => fc.constantFrom(" + ", " == ", " or ", " and ", " in ").map((glue) => terms.map(([p, o]) => `(${p}${o})`).join(glue)));

describe("the budget, property-based", () => {
  it("is exact: an evaluation that takes s steps succeeds with a budget of s, the same way, and fails at s - 1", () => {
    fc.assert(
      fc.property(expr, fc.boolean(), (e, whole) => {
        const template = whole ? `{{ ${e} }}` : `value: {{ ${e} }}`;
        const first = newBudget(50_000, 200_000);
        const result = outcome(() => renderString(template, scope, first));
        if (!result.ok) return;
        const steps = first.steps;
        expect(steps).toBeLessThanOrEqual(first.maxSteps);
        if (typeof result.value === "string") expect(result.value.length).toBeLessThanOrEqual(first.maxOutputChars);
        expect(outcome(() => renderString(template, scope, newBudget(steps, 200_000)))).toEqual(result);
        expect(outcome(() => renderString(template, scope, newBudget(steps - 1, 200_000)))).toEqual({ ok: false, code: "expression_budget" });
      }),
      { numRuns: 1_000 },
    );
  });
});

describe("hostile values, property-based", () => {
  // JSON.parse makes "__proto__" an own key (no prototype is set): the kind of value a run's input can hold.
  const hostile = fc.constantFrom(
    JSON.parse('{"__proto__": {"polluted": 1}, "a": 1}'),
    JSON.parse('{"constructor": {"prototype": {"polluted": 1}}}'),
    JSON.parse('{"toString": "x", "valueOf": {"a": 1}, "hasOwnProperty": 1}'),
    Object.create(null),
    [JSON.parse('{"__proto__": []}')],
  );
  const key = fc.constantFrom("__proto__", "constructor", "prototype", "toString", "valueOf", "hasOwnProperty", "a", "0", "length", "polluted");
  const access = fc.array(fc.tuple(key, fc.boolean()), { minLength: 1, maxLength: 4 }).map((keys) =>
    keys.map(([k, computed]) => (computed ? `[('${k.slice(0, 2)}' + '${k.slice(2)}')]` : `.${k}`)).join(""),
  );

  it("never reach a prototype or a function, however the key is written or computed", () => {
    fc.assert(
      fc.property(hostile, access, fc.constantFrom("", " | to_json", " | length", " | default(1)"), (value, reads, filter) => {
        const result = outcome(() => renderString(`{{ parameters${reads}${filter} }}`, { parameters: value }, newBudget(5_000, 20_000)));
        if (result.ok) {
          expect(typeof result.value).not.toBe("function");
          expect(result.value).not.toBe(Object.prototype);
          expect(result.value).not.toBe(Array.prototype);
        }
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      }),
      { numRuns: 1_000 },
    );
  });

  it("a value nested deeper than the stack fails the evaluation with a WorkflowError", () => {
    let deep: unknown = 1;
    for (let i = 0; i < 50_000; i++) deep = [deep];
    let other: unknown = 1;
    for (let i = 0; i < 50_000; i++) other = [other];
    for (const t of ["{{ parameters == vars }}", "{{ parameters | to_json }}", "x{{ parameters }}", "{{ [parameters] + [vars] }}"]) {
      const result = outcome(() => renderString(t, { parameters: deep, vars: other }, newBudget()));
      expect(result.ok ? "ok" : result.code, t).toMatch(/^(ok|expression_error|expression_budget)$/);
    }
  });
});
