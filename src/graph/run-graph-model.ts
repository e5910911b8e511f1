/**
 * A run's graph (`rt.graph`) as the `GraphModel` the renderers draw: one node
 * per step or collapsed fan-out (its id is the step id or the fan-out id), one
 * group per expanded fan-out, the edges as they are.
 */
import type { StepStatus } from "../types.js";
import { BuiltinKinds } from "../waits.js";
import type { GraphGroup, GraphModel, GraphNode, GraphNodeShape } from "./graph-model.js";
import type { RunGraph, RunGraphFanOut, RunGraphStep } from "./run-graph.js";

const SHAPE_OF_KIND: Readonly<Record<string, GraphNodeShape>> = {
  [BuiltinKinds.sleep]: "timer",
  [BuiltinKinds.signal]: "signal",
  [BuiltinKinds.child]: "subworkflow",
};

/**
 * The status a collapsed fan-out is coloured with: the first of these its
 * members have, so that one failure among 10,000 successes shows.
 */
const FAN_OUT_STATUS_ORDER: readonly StepStatus[] = ["failed", "running", "waiting", "ready", "pending", "canceled", "skipped", "succeeded"];

/** Turns a run graph into the model every renderer takes. */
export function runGraphToModel(graph: RunGraph): GraphModel {
  const { run } = graph;
  const nodes: GraphNode[] = [];
  const groups: GraphGroup[] = [];
  const collapsed = new Map(graph.fanOuts.filter((f) => f.collapsed).map((f) => [f.id, f]));
  for (const fanOut of graph.fanOuts) {
    if (!fanOut.collapsed) groups.push({ id: fanOut.id, label: `${fanOut.kind} ×${fanOut.size}`, kind: "fanout" });
  }
  // Nodes in the order of the edges' source: steps and collapsed fan-outs as the graph lists them.
  const placed = new Set<string>();
  const addFanOut = (id: string | undefined): void => {
    const fanOut = id === undefined ? undefined : collapsed.get(id);
    if (!fanOut || placed.has(fanOut.id)) return;
    placed.add(fanOut.id);
    nodes.push(fanOutNode(fanOut));
  };
  for (const step of graph.steps) {
    nodes.push(stepNode(step));
    for (const edge of graph.edges) if (edge.from === step.stepId) addFanOut(edge.to);
  }
  for (const fanOut of collapsed.values()) addFanOut(fanOut.id);

  const model: { -readonly [K in keyof GraphModel]: GraphModel[K] } = {
    title: `${run.name} · ${run.id} · ${run.status}`,
    nodes,
    edges: graph.edges.map((e) => ({ from: e.from, to: e.to, kind: e.kind })),
  };
  if (groups.length) model.groups = groups;
  return model;
}

function stepNode(step: RunGraphStep): GraphNode {
  const detail = [step.kind, `attempt ${step.attempt}/${step.maxAttempts}`];
  if (step.queue !== "default") detail.push(`queue ${step.queue}`);
  if (step.startedAt && step.finishedAt) detail.push(formatDuration(step.finishedAt.getTime() - step.startedAt.getTime()));
  if (step.lastErrorCode !== undefined) detail.push(step.status === "failed" ? `error ${step.lastErrorCode}` : `earlier error ${step.lastErrorCode}`);
  if (step.childRunId !== undefined) detail.push(`child run ${step.childRunId}`);
  else if (step.waitingFor !== undefined) detail.push(`waits for ${step.waitingFor}`);
  if (step.status === "waiting" && step.wakeAt) detail.push(`until ${step.wakeAt.toISOString()}`);
  const node: GraphNode = { id: step.stepId, label: step.stepId, shape: SHAPE_OF_KIND[step.kind] ?? "task", status: step.status, detail };
  return step.fanOut === undefined ? node : { ...node, group: step.fanOut };
}

function fanOutNode(fanOut: RunGraphFanOut): GraphNode {
  const status = FAN_OUT_STATUS_ORDER.find((s) => (fanOut.counts[s] ?? 0) > 0) ?? "pending";
  return { id: fanOut.id, label: `${fanOut.kind} ×${fanOut.size}`, shape: "collapsed", status, detail: [`fan-out ${fanOut.id}`], counts: { ...fanOut.counts } };
}

/** `850 ms`, `12.3 s`, `4 min 5 s`: how long an attempt took, for a node's detail. */
export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${Math.max(0, Math.round(ms))} ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)} s`;
  const seconds = Math.round(ms / 1_000);
  return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
}
