/**
 * Author errors: every mistake of a file is reported at once, each as
 * `file:line:column: message`, before any run starts. The fixtures under
 * `fixtures/invalid/` are the examples of docs/declarative.md's table; the
 * messages here are the exact ones that table shows.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadWorkflows, parseWorkflow } from "../../src/declarative/index.js";
import { isWorkflowError, type WorkflowError } from "../../src/errors.js";
import { newRuntime, sqliteStore } from "../../src/index.js";
import { testExecutors } from "./support.js";

const dir = path.join(import.meta.dirname, "fixtures/invalid");

function errorOf(fn: () => unknown): { code: string; lines: string[]; details: unknown } {
  try {
    fn();
  } catch (err) {
    if (!isWorkflowError(err)) throw err;
    return { code: err.code, lines: err.message.split("\n"), details: err.details };
  }
  throw new Error("expected an error");
}

const expected: Record<string, string[]> = {
  "loop.yaml": [
    "loop.yaml:10:11: unbounded loop: \"b\" leads back to \"a\"; give a task on the loop max_iterations",
  ],
  "prototype-keys.yaml": [
    "prototype-keys.yaml:4:3: \"__proto__\" cannot be used as a key",
    "prototype-keys.yaml:9:7: \"constructor\" cannot be used as a key",
  ],
  "references.yaml": [
    "references.yaml:9:10: unknown parameter \"nmae\"; did you mean \"name\"?",
    "references.yaml:10:10: unknown var \"missing\"",
    "references.yaml:11:10: unknown task \"fetsh\" in {{ task.fetsh.result }}; did you mean \"fetch\"?",
    "references.yaml:12:10: item and index exist only in the input of a with_items task",
    "references.yaml:13:18: unknown task \"stor\"; did you mean \"store\"?",
  ],
  "schema.yaml": [
    "schema.yaml:4:11: tasks.0.name: a task name is a letter or _ followed by letters, digits or _ (at most 100)",
    "schema.yaml:6:17: tasks.0.batch_size: Too small: expected number to be >=1",
  ],
  "structure.yaml": [
    "structure.yaml:9:9: \"on_success\" is not allowed on \"member\", a member of parallel block \"block\": the block's transitions apply",
    "structure.yaml:11:13: unknown built-in action \"core.nope\"; did you mean \"core.noop\"?",
    "structure.yaml:12:5: task \"after\" needs an action",
    "structure.yaml:12:11: task name \"after\" is used twice",
  ],
  "template.yaml": [
    "template.yaml:7:32: template syntax: Expected expression after |",
    "template.yaml:8:13: \"__proto__\" cannot be read in a template",
    "template.yaml:9:13: templates call no functions (except kv.get and kv.get_secret); use a filter: value | name(args)",
  ],
  "unknown-key.yaml": [
    "unknown-key.yaml:6:5: unknown key \"on_sucess\"; did you mean \"on_success\"?",
    "unknown-key.yaml:9:24: unknown key \"dealy\"; did you mean \"delay\"?",
    "unknown-key.yaml:11:9: unknown key \"whn\"; did you mean \"when\"?",
  ],
  "unreachable.yaml": [
    "unreachable.yaml:7:11: task \"retry_later\" is unreachable: no path from a start task (start) leads to it",
    "unreachable.yaml:11:11: task \"retry_again\" is unreachable: no path from a start task (start) leads to it",
  ],
  "yaml-syntax.yaml": [
    "yaml-syntax.yaml:1:1: YAML: Flow sequence in block collection must be sufficiently indented and end with a ]",
  ],
};

describe("author errors", () => {
  for (const [file, messages] of Object.entries(expected)) {
    it(`${file}: every error, located, in one invalid_workflow`, () => {
      const error = errorOf(() => parseWorkflow(readFileSync(path.join(dir, file), "utf8"), { file }));
      expect(error.code).toBe("invalid_workflow");
      expect(error.lines).toEqual(messages);
      const details = error.details as { file: string; line: number; column: number; message: string }[];
      expect(details.map((d) => `${d.file}:${d.line}:${d.column}: ${d.message}`)).toEqual(messages);
    });
  }

  it("loadWorkflows reports the errors of every file of a directory together", async () => {
    const error = await loadWorkflows(dir).catch((e: unknown) => e);
    expect(isWorkflowError(error) && error.code).toBe("invalid_workflow");
    const lines = (error as Error).message.split("\n");
    expect(lines).toHaveLength(Object.values(expected).flat().length);
    for (const file of Object.keys(expected)) expect(lines.some((l) => l.startsWith(path.join(dir, file)))).toBe(true);
  });

  it("an action nobody registered is reported when workers start, located, and nothing runs", async () => {
    const rt = await newRuntime({ store: sqliteStore(":memory:") });
    try {
      const yaml = "ref: t.actions\nversion: '1'\ntasks:\n  - name: a\n    action: t.missing\n    on_success: b\n  - name: b\n    action: core.noop\n";
      rt.registerPackage(parseWorkflow(yaml, { file: "actions.yaml" }));
      const error = await rt.runOnce().catch((e: unknown) => e);
      expect(isWorkflowError(error) && error.code).toBe("invalid_workflow");
      expect((error as Error).message).toBe('actions.yaml:5:13: unknown action "t.missing": no executor or workflow is registered for it');
    } finally {
      await rt.close();
    }
  });

  it("unknown actions of every registered definition are reported together, by startWorkers too, and nothing runs", async () => {
    const rt = await newRuntime({ store: sqliteStore(":memory:") });
    try {
      const yaml = (ref: string, action: string) => `ref: ${ref}\nversion: '1'\ntasks:\n  - name: a\n    action: ${action}\n`;
      rt.registerPackage(parseWorkflow(yaml("t.one", "t.nope"), { file: "one.yaml" }));
      rt.registerPackage(parseWorkflow(yaml("t.two", "t.nada"), { file: "two.yaml" }));
      const { id } = await rt.startRun("t.one", {});
      const error = await rt.startWorkers({ signal: AbortSignal.abort() }).catch((e: unknown) => e);
      expect(isWorkflowError(error) && error.code).toBe("invalid_workflow");
      expect((error as Error).message.split("\n")).toEqual([
        'one.yaml:5:13: unknown action "t.nope": no executor or workflow is registered for it',
        'two.yaml:5:13: unknown action "t.nada": no executor or workflow is registered for it',
      ]);
      expect((error as WorkflowError).details).toHaveLength(2);
      expect((await rt.steps(id)).every((s) => s.status !== "succeeded")).toBe(true);
    } finally {
      await rt.close();
    }
  });

  it("a static input is checked against its typed executor's schema when workers start", async () => {
    const rt = await newRuntime({ store: sqliteStore(":memory:") });
    try {
      for (const e of testExecutors(new Map())) rt.registerExecutor(e);
      const yaml = [
        "ref: t.static",
        "version: '1'",
        "parameters: { n: { type: number } }",
        "tasks:",
        "  - name: fixed",
        "    action: t.double",
        "    input: { n: 'two' }",
        "    on_success: templated",
        "  - name: templated",
        "    action: t.double",
        "    input: { n: '{{ parameters.n }}' }",
        "",
      ].join("\n");
      rt.registerPackage(parseWorkflow(yaml, { file: "static.yaml" }));
      const error = await rt.runOnce().catch((e: unknown) => e);
      expect(isWorkflowError(error) && error.code).toBe("invalid_workflow");
      expect((error as Error).message).toBe(`static.yaml:7:17: input of "fixed" does not match t.double's schema: n: Invalid input: expected number, received string`);
    } finally {
      await rt.close();
    }
  });

  it("limits have their own codes: tasks per definition, items of a written-out with_items and template size", () => {
    const tasks = Array.from({ length: 501 }, (_, i) => `  - name: t${i}\n    action: core.noop\n`).join("");
    const big = errorOf(() => parseWorkflow(`ref: t.big\nversion: "1"\ntasks:\n${tasks}`));
    expect(big.code).toBe("too_many_tasks");
    expect(big.lines).toEqual(["<source>:3:1: 501 tasks; the limit is 500"]);
    const items = errorOf(() =>
      parseWorkflow(`ref: t.items\nversion: "1"\ntasks:\n  - name: each\n    action: t.echo\n    with_items: [${Array.from({ length: 50_001 }, (_, i) => i).join(", ")}]\n`),
    );
    expect(items.code).toBe("too_many_items");
    expect(items.lines).toEqual(['<source>:6:5: with_items of "each" has 50001 items; the limit is 50000']);
    const long = `{{ parameters.x ${"+ 1 ".repeat(2_600)}}}`;
    const template = errorOf(() =>
      parseWorkflow(`ref: t.long\nversion: "1"\nparameters: { x: { type: number } }\ntasks:\n  - name: a\n    action: core.noop\n    input: { v: "${long}" }\n`),
    );
    expect(template.code).toBe("template_too_large");
    expect(template.lines).toEqual(["<source>:7:17: a template is 10418 characters long; the limit is 10000"]);
  });

  it("docs/declarative.md shows every message of this file", () => {
    const doc = readFileSync(path.join(import.meta.dirname, "../../docs/declarative.md"), "utf8");
    for (const line of Object.values(expected).flat()) expect(doc).toContain(line);
    expect(doc.replace(/\s+/g, " ")).toContain("<source>:3:1: 501 tasks; the limit is 500");
    expect(doc.replace(/\s+/g, " ")).toContain('<source>:6:5: with_items of "each" has 50001 items; the limit is 50000');
    expect(doc.replace(/\s+/g, " ")).toContain("<source>:7:17: a template is 10418 characters long; the limit is 10000");
  });

  it("a definition that is not a string, or empty, is refused without a crash", () => {
    expect(errorOf(() => parseWorkflow(42 as unknown as string)).code).toBe("invalid_input");
    expect(errorOf(() => parseWorkflow("")).code).toBe("invalid_workflow");
  });
});
