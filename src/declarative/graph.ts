/**
 * A definition's graph as a `GraphModel` (src/graph/graph-model.ts), the shape
 * every graph picture is drawn from: a node per task, an edge per transition
 * (labelled success / failure / complete / timeout / decision), a group per
 * parallel block and per `with_items` task. Nodes and edges keep document order,
 * so the same file always gives the same model.
 */
import type { GraphEdge, GraphGroup, GraphModel, GraphNode, GraphNodeShape } from "../graph/graph-model.js";
import type { CompiledTask, CompiledWorkflow } from "./compile.js";
import { BUILTIN_ACTIONS, TRANSITIONS, allTasks } from "./definition.js";
import type { Template } from "./expressions/template.js";

const EDGE_KIND = { on_success: "success", on_failure: "failure", on_complete: "complete", on_timeout: "timeout" } as const;

function shapeOf(task: CompiledTask, isWorkflow: (ref: string) => boolean): GraphNodeShape {
  if (task.parallel) return "collapsed";
  if (task.action === BUILTIN_ACTIONS.inquiry) return "inquiry";
  if (task.action === BUILTIN_ACTIONS.sleep) return "timer";
  if (task.action !== undefined && isWorkflow(task.action)) return "subworkflow";
  return task.decision.length ? "decision" : "task";
}

function detailOf(task: CompiledTask): string[] {
  const d = task.def;
  const lines: string[] = [];
  if (task.parallel) lines.push(`parallel: ${task.members.join(", ")}`);
  else if (task.action !== undefined) lines.push(task.action);
  if (d.with_items !== undefined) {
    const extra = [d.batch_size ? `batch ${d.batch_size}` : "", d.concurrency ? `concurrency ${d.concurrency}` : ""].filter(Boolean).join(", ");
    lines.push(`with_items${extra ? ` (${extra})` : ""}`);
  }
  if (d.when !== undefined) lines.push(`when ${d.when}`);
  if (d.retry) lines.push(`retry ${d.retry.count}`);
  if (d.timeout !== undefined) lines.push(`timeout ${d.timeout}s`);
  if (task.join) lines.push("join: all");
  if (d.max_iterations !== undefined) lines.push(`max ${d.max_iterations} iterations`);
  return lines;
}

/** A condition as an edge shows it: the expression without its braces. */
function conditionText(when: Template): string {
  const [only] = when.parts;
  return when.whole && typeof only === "object" ? only.source : when.source;
}

/**
 * The graph of a compiled definition: pass a `DeclarativePackage`'s `workflow`
 * (`definitionGraph(parseWorkflow(yaml).workflow)`), whose shape is internal.
 * `isWorkflow` tells which actions are other workflows (drawn as subworkflows);
 * by default none are.
 */
export function definitionGraph(workflow: CompiledWorkflow, isWorkflow: (ref: string) => boolean = () => false): GraphModel {
  const nodes: GraphNode[] = [];
  const edges: GraphEdge[] = [];
  const groups: GraphGroup[] = [];
  for (const def of allTasks(workflow.def.tasks)) {
    const task = workflow.tasks.get(def.name) as CompiledTask;
    let group = task.block;
    if (task.parallel) groups.push({ id: task.name, label: task.name, kind: "parallel", ...(task.block ? { parent: task.block } : {}) });
    if (def.with_items !== undefined) {
      const id = `${task.name}[]`;
      groups.push({ id, label: `${task.name} (each item)`, kind: "iteration", ...(task.block ? { parent: task.block } : {}) });
      group = id;
    }
    const detail = detailOf(task);
    nodes.push({ id: task.name, label: task.name, shape: shapeOf(task, isWorkflow), ...(detail.length ? { detail } : {}), ...(group ? { group } : {}) });
    for (const t of TRANSITIONS) for (const to of task.transitions[t]) edges.push({ from: task.name, to, kind: EDGE_KIND[t] });
    for (const d of task.decision) edges.push({ from: task.name, to: d.next, kind: "decision", label: d.when ? conditionText(d.when) : "default" });
  }
  return { title: `${workflow.def.ref}@${workflow.def.version}`, nodes, edges, groups };
}
