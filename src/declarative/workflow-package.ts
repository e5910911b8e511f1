/**
 * A compiled definition as a `WorkflowPackage`: its name is the `ref`, its input
 * schema the `parameters`, and its entrypoint stores the definition with the run
 * and lays out the start tasks. It brings the executors of its routing steps,
 * resolves actions against the runtime it is registered on, and, before workers
 * first run, reports every action nobody registered.
 */
import { ErrorCodes, WorkflowError } from "../errors.js";
import type { WorkflowPackage } from "../package.js";
import { issuesNow } from "../schema.js";
import type { CompiledTask, CompiledWorkflow, Path } from "./compile.js";
import { type DeclarativeOptions, type HostRef, IDS, META, type StoredDefinition, digestOf, remember, scopeBase, scopeOf } from "./context.js";
import { allTasks } from "./definition.js";
import { builderSink, emitTask, kindsFor } from "./emit.js";
import { newBudget } from "./expressions/values.js";
import type { Located } from "./locate.js";
import { declarativeExecutors } from "./routing.js";

/** A declarative workflow, ready for `rt.registerPackage`. */
export interface DeclarativePackage extends WorkflowPackage {
  /** The definition's `ref` and `version`. */
  readonly ref: string;
  readonly version: string;
  /** The file it came from (or `<source>`). */
  readonly file: string;
  /**
   * The compiled definition, as `definitionGraph` and the command-line tools
   * read it; its shape is internal and may change between versions.
   * @internal
   */
  readonly workflow: CompiledWorkflow;
}

/** Turns a path into a located error of this definition's file. */
export type Locator = (path: Path, message: string, opts?: { key?: boolean }) => Located;

/** Turns a compiled definition into a package; `locator` places errors found later (unknown actions). */
export function toPackage(workflow: CompiledWorkflow, file: string, locator: Locator, options: DeclarativeOptions): DeclarativePackage {
  const { def } = workflow;
  const digest = digestOf(def);
  remember(digest, workflow);
  const kinds = kindsFor(def.ref);
  const hostRef: HostRef = {};
  const stored = (start: string[]): StoredDefinition => ({ def, start });
  return Object.freeze({
    name: def.ref,
    displayName: def.label ?? def.ref,
    ref: def.ref,
    version: def.version,
    file,
    workflow,
    inputSchema: workflow.parameters,
    executors: declarativeExecutors({ kinds, options, hostRef }),
    attach: (host) => {
      hostRef.host = host;
    },
    verify: () => {
      const host = hostRef.host;
      if (!host) return;
      const problems: Located[] = [];
      allTasks(def.tasks).forEach((task) => {
        const action = task.action;
        if (action === undefined || action.startsWith("core.")) return;
        const executor = host.executor(action);
        if (!executor && !host.hasPackage(action)) {
          problems.push(locator(actionPath(def.tasks, task.name), `unknown action "${action}": no executor or workflow is registered for it`));
          return;
        }
        // A static input (no template, not per item) is checked now against a typed executor's schema.
        const compiled = workflow.tasks.get(task.name);
        if (!executor?.inputSchema || task.with_items !== undefined || !compiled || compiled.input.templates().length > 0) return;
        // A schema that validates asynchronously is left to the step itself.
        const issue = issuesNow(executor.inputSchema, task.input ?? {})?.[0];
        if (!issue) return;
        const at = [...actionPath(def.tasks, task.name).slice(0, -1), "input", ...(issue.path ?? [])];
        problems.push(locator(at, `input of "${task.name}" does not match ${action}'s schema: ${issue.path?.join(".") || "input"}: ${issue.message}`));
      });
      if (problems.length) throw new WorkflowError(ErrorCodes.invalidWorkflow, problems.map((p) => `${p.file}:${p.line}:${p.column}: ${p.message}`).join("\n"), { details: problems });
    },
    entrypoint: async (run, input) => {
      run.metadata(META.ref, def.ref);
      run.metadata(META.version, def.version);
      run.metadata(META.digest, digest);
      const now = new Date();
      const base = await scopeBase(options, workflow, { id: run.runId, createdAt: now, input }, now);
      const vars = workflow.vars.render(scopeOf(base, {}, {}), newBudget()) as Record<string, unknown>;
      // Every start task waits for the definition step, so that any process can read the definition back.
      const definitionDep = [{ stepId: IDS.definition, required: true, on: "succeeded" as const }];
      const env = { wf: workflow, kinds, base, host: hostRef.host, runId: run.runId, views: {} };
      const sink = builderSink(run);
      const start: string[] = [];
      for (const name of workflow.start) {
        const route = emitTask(sink, env, workflow.tasks.get(name) as CompiledTask, vars, definitionDep);
        if (route) start.push(route);
      }
      // The definition step is added last (steps of one batch may depend on each other in any order): it stores the start routes.
      run.step(IDS.definition, stored(start), { kind: kinds.definition, metadata: { "declarative.role": "definition" } });
      if (workflow.outputMap) {
        run.output(IDS.output);
        // Every start task was skipped: the output is computed at once.
        if (start.length === 0) run.step(IDS.done("start"), {}, { kind: kinds.done, dependsOn: definitionDep, metadata: { "declarative.role": "done" } });
      }
    },
  } satisfies DeclarativePackage);
}

function actionPath(tasks: readonly import("./definition.js").TaskDef[], name: string, path: Path = ["tasks"]): Path {
  for (const [i, t] of tasks.entries()) {
    if (t.name === name) return [...path, i, "action"];
    if (t.tasks) {
      const found = actionPath(t.tasks, name, [...path, i, "tasks"]);
      if (found.length) return found;
    }
  }
  return [];
}
