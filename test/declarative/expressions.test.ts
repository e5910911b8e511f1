/**
 * The expression language: types kept by whole templates, text inside strings,
 * filters, operators, and its safety: random templates over random values only
 * ever throw a `WorkflowError`, never reach a prototype, never run past their budget.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { newBudget, renderString, type Scope } from "../../src/declarative/index.js";
import { isWorkflowError } from "../../src/errors.js";

const scope: Scope = {
  parameters: { name: " Ada ", regions: ["eu", "us"], n: 4, nested: { list: [{ on: true, id: 1 }, { on: false, id: 2 }] } },
  vars: { base: "/srv", json: '{"a":[1,2]}' },
  task: { build: { status: "succeeded", result: { image: "app:1" }, error: null } },
  item: "x",
  index: 3,
  system: { run_id: "r-1" },
  pack: { config: { registry: "reg.local" } },
  kv: new Map([["flags.ui", true]]),
};
const render = (t: string) => renderString(t, scope, newBudget());

describe("templates", () => {
  it("a whole-value template keeps its type; inside a string it is text", () => {
    expect(render("{{ parameters.regions }}")).toEqual(["eu", "us"]);
    expect(render("{{ parameters.n }}")).toBe(4);
    expect(render("n={{ parameters.n }} r={{ parameters.regions }}")).toBe('n=4 r=["eu","us"]');
    expect(render("{{ vars.missing_key_is_null }}")).toBeNull();
  });

  it("filters", () => {
    expect(render("{{ parameters.name | trim | upper }}")).toBe("ADA");
    expect(render("{{ parameters.name | lower }}")).toBe(" ada ");
    expect(render("{{ vars.base | append('/logs') | prepend('file://') }}")).toBe("file:///srv/logs");
    expect(render("{{ vars.nothing | default('none') }}")).toBe("none");
    expect(render("{{ parameters.regions | length }}")).toBe(2);
    expect(render("{{ parameters.regions | first }}-{{ parameters.regions | last }}")).toBe("eu-us");
    expect(render("{{ parameters.regions | join(' + ') }}")).toBe("eu + us");
    expect(render("{{ vars.json | from_json }}")).toEqual({ a: [1, 2] });
    expect(render("{{ parameters.nested | to_json }}")).toBe(JSON.stringify(scope.parameters && (scope.parameters as { nested: unknown }).nested));
    expect(render("{{ [1, 2, 3, 4, 5] | batch(size=2) }}")).toEqual([[1, 2], [3, 4], [5]]);
    expect(render("{{ parameters.nested.list | filter(on=true) }}")).toEqual([{ on: true, id: 1 }]);
    expect(render("{{ parameters.nested.list | filter('on') | length }}")).toBe(1);
  });

  it("operators: comparison, boolean, arithmetic, membership, filters binding tighter", () => {
    expect(render("{{ parameters.n * 2 + 1 }}")).toBe(9);
    expect(render("{{ parameters.n % 3 == 1 and not false }}")).toBe(true);
    expect(render("{{ parameters.regions | length > 1 }}")).toBe(true);
    expect(render("{{ 'eu' in parameters.regions }}")).toBe(true);
    expect(render("{{ vars.nothing or 'fallback' }}")).toBe("fallback");
    expect(render("{{ task.build.result.image == 'app:1' }}")).toBe(true);
    expect(render("{{ pack.config.registry }}/{{ item }}#{{ index }}")).toBe("reg.local/x#3");
    expect(render("{{ kv.get('flags.ui') }} {{ kv.get('nope', default=7) }}")).toBe("true 7");
    expect(render("{{ kv.get_secret('token') }}")).toEqual({ $secret: "token" });
  });

  it("errors are expression_error; prototype keys are refused wherever they come from", () => {
    const code = (t: string) => {
      try {
        render(t);
      } catch (err) {
        return isWorkflowError(err) ? err.code : "not a WorkflowError";
      }
      return "no error";
    };
    expect(code("{{ parameters.name | nope }}")).toBe("expression_error");
    expect(code("{{ parameters.regions * 2 }}")).toBe("expression_error");
    expect(code("{{ 1 / 0 }}")).toBe("expression_error");
    expect(code("{{ parameters['__proto__'] }}")).toBe("invalid_workflow");
    expect(code("{{ parameters[vars.key] }}")).toBe("no error");
    expect(code("{{ parameters[('__pro' + 'to__')] }}")).toBe("expression_error");
    expect(code("{{ parameters[('constr' + 'uctor')] }}")).toBe("expression_error");
    const evil = { vars: { evil: '{"__proto__": {"polluted": 1}}' } };
    expect(() => renderString("{{ vars.evil | from_json }}", evil, newBudget())).toThrow(expect.objectContaining({ code: "expression_error" }));
    expect(code("{{ this }}")).toBe("invalid_workflow");
    expect(code("{{ parameters.name.constructor }}")).toBe("invalid_workflow");
  });

  it("the budget bounds steps and output", () => {
    const big = { parameters: { list: Array.from({ length: 1000 }, (_, i) => i) } };
    expect(() => renderString("{{ parameters.list | batch(1) | batch(1) }}", big, newBudget(500))).toThrow(expect.objectContaining({ code: "expression_budget" }));
    expect(() => renderString("{{ parameters.list | to_json }}{{ parameters.list | to_json }}", big, newBudget(100_000, 5_000))).toThrow(
      expect.objectContaining({ code: "expression_budget" }),
    );
  });
});

/** Random expressions from the grammar's pieces, valid or not. */
const atom = fc.oneof(
  fc.constantFrom("parameters", "vars", "task", "item", "index", "system", "pack", "kv", "1", "'a'", "null", "true", "[1, 2]"),
  fc.constantFrom("__proto__", "constructor", "prototype", "toString", "valueOf", "hasOwnProperty", "this", "globalThis", "process"),
  fc.string({ maxLength: 6 }),
  fc.integer().map(String),
);
const glue = fc.constantFrom(".", " | ", "[", "]", "(", ")", " + ", " * ", " == ", " and ", " or ", " not ", " in ", "'", ",", "=", " / ", " - ");
const expression = fc.array(fc.tuple(atom, glue), { minLength: 1, maxLength: 12 }).map((parts) => parts.map(([a, g]) => a + g).join(""));
const filters = fc.constantFrom("upper", "lower", "trim", "length", "first", "last", "join", "to_json", "from_json", "batch(2)", "filter", "default(1)", "append('x')");

describe("templates, property-based", () => {
  const values = fc.jsonValue({ maxDepth: 3 });

  it("random templates over random values throw nothing but a WorkflowError and never touch a prototype", () => {
    fc.assert(
      fc.property(expression, values, values, (expr, params, vars) => {
        const before = Object.getOwnPropertyNames(Object.prototype).length;
        try {
          renderString(`{{ ${expr} }}`, { parameters: params, vars }, newBudget(5_000, 20_000));
        } catch (err) {
          if (!isWorkflowError(err)) throw err;
        }
        expect(Object.getOwnPropertyNames(Object.prototype).length).toBe(before);
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      }),
      { numRuns: 2_000 },
    );
  });

  it("chains of filters over random values stay within their budget", () => {
    fc.assert(
      fc.property(fc.array(filters, { minLength: 1, maxLength: 8 }), values, (chain, value) => {
        const budget = newBudget(2_000, 10_000);
        try {
          renderString(`{{ parameters | ${chain.join(" | ")} }}`, { parameters: value }, budget);
        } catch (err) {
          if (!isWorkflowError(err)) throw err;
          if (err.code === "expression_budget") return;
        }
        expect(budget.steps).toBeLessThanOrEqual(budget.maxSteps);
      }),
      { numRuns: 2_000 },
    );
  });

  it("a result never holds a value from a prototype (functions, constructors)", () => {
    fc.assert(
      fc.property(expression, (expr) => {
        let out: unknown;
        try {
          out = renderString(`{{ ${expr} }}`, { parameters: { a: 1 }, vars: [1] }, newBudget(5_000, 20_000));
        } catch {
          return;
        }
        expect(JSON.stringify(out) === undefined && out !== undefined).toBe(false);
        expect(typeof out).not.toBe("function");
      }),
      { numRuns: 2_000 },
    );
  });
});
