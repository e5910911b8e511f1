/**
 * The graph of one run as data: its steps as nodes, its dependencies and
 * emissions as edges, with large fan-outs folded into one node each so that a
 * run with 10,000 emitted children stays readable. `rt.graph(runId)` returns it;
 * `runGraphToModel` (run-graph-model.ts) turns it into the `GraphModel` the
 * renderers draw.
 */
import type { DependencyOn, StepInfo, StepStatus, WorkflowRun } from "../types.js";

/** One step of the run, with what an operator wants to see on its node. */
export interface RunGraphStep {
  /** The step's id; also its node's id in the edges. */
  stepId: string;
  /** The executor kind that runs it. */
  kind: string;
  /** The queue it is claimed from. */
  queue: string;
  /** Its current status. */
  status: StepStatus;
  /** Attempts started so far (see `StepInfo.attempt`). */
  attempt: number;
  /** The attempts its retry policy allows. */
  maxAttempts: number;
  /** When it was inserted. */
  createdAt: Date;
  /** When its latest attempt was claimed; undefined before the first. */
  startedAt?: Date;
  /** When it finished; undefined while it is unfinished. */
  finishedAt?: Date;
  /** The code of the last failed attempt (history: also set on a step that later succeeded). */
  lastErrorCode?: string;
  /** What a built-in wait waits (or waited) for: `signal:<name>` or `run:<child run id>`. */
  waitingFor?: string;
  /** When the wait ends by itself (a sleep's end, a signal's timeout). */
  wakeAt?: Date;
  /** The child run a `childRun` step started. */
  childRunId?: string;
  /** The step that emitted this one (or the `parentId` given at start). */
  parentId?: string;
  /** The collapsed or expanded fan-out this step belongs to, if any. */
  fanOut?: string;
}

/**
 * Steps of one kind emitted by one parent (or by the members of one fan-out),
 * more of them than `collapseAbove`. Collapsed, they are drawn as one node with
 * counts by status; expanded, as their own nodes inside a group.
 */
export interface RunGraphFanOut {
  /** Stable for the same run graph: what `expand` names. */
  id: string;
  /** The executor kind its steps share. */
  kind: string;
  /** The step, or the id of the fan-out, whose members emitted these steps; undefined at the run's top level. */
  parent?: string;
  /** How many steps it holds. */
  size: number;
  /** How many of its steps are in each status (statuses with none left out). */
  counts: Partial<Record<StepStatus, number>>;
  /** True: drawn as one node (its steps are not in `RunGraph.steps`); false: its id was in `expand`. */
  collapsed: boolean;
}

/** Why one node follows another: a dependency (by what it waits for), or an emission. */
export type RunGraphEdgeKind = "required" | "on_failure" | "on_complete" | "emitted";

/** An edge between nodes: a step id, or a fan-out id for a collapsed fan-out. */
export interface RunGraphEdge {
  /** The step (or collapsed fan-out) that comes first: the dependency, or the emitting step. */
  from: string;
  /** The step (or collapsed fan-out) that follows it. */
  to: string;
  /** A dependency (by what it waits for) or an emission. */
  kind: RunGraphEdgeKind;
}

/** What `rt.graph(runId)` returns. */
export interface RunGraph {
  /** The run drawn. */
  run: WorkflowRun;
  /** Every step that is not inside a collapsed fan-out, in creation order. */
  steps: RunGraphStep[];
  /** Every fan-out found, collapsed or expanded. */
  fanOuts: RunGraphFanOut[];
  /** Deduplicated; edges inside a collapsed fan-out are left out. */
  edges: RunGraphEdge[];
}

/** Options of `rt.graph`. */
export interface RunGraphOptions {
  /** Fan-outs of more steps than this are collapsed into one node (default 20). */
  collapseAbove?: number;
  /** Ids of fan-outs to show step by step, whatever their size. */
  expand?: readonly string[];
}

export const DEFAULT_COLLAPSE_ABOVE = 20;

const EDGE_KIND: Record<DependencyOn, RunGraphEdgeKind> = { succeeded: "required", failed: "on_failure", completed: "on_complete" };

/** A node of the folded graph: one step, or many steps of one fan-out. */
interface Unit {
  id: string;
  members: StepInfo[];
  fanOut?: RunGraphFanOut;
}

/**
 * Folds a run's steps (in creation order) into its graph. Fan-outs are found
 * from the top down: the children of a unit (a step, or a whole fan-out) are
 * grouped by kind, and a group larger than `collapseAbove` becomes a fan-out.
 * So 10,000 children that each emit one grandchild give two nodes, not 10,001.
 */
export function buildRunGraph(run: WorkflowRun, steps: readonly StepInfo[], opts: RunGraphOptions = {}): RunGraph {
  const collapseAbove = opts.collapseAbove ?? DEFAULT_COLLAPSE_ABOVE;
  const expand = new Set(opts.expand ?? []);
  const byId = new Map(steps.map((s) => [s.id, s]));
  const children = new Map<string | undefined, StepInfo[]>();
  for (const step of steps) {
    // A parent that is not a step of this run (it cannot happen today) counts as the top level.
    const parent = step.parentId !== undefined && byId.has(step.parentId) && step.parentId !== step.id ? step.parentId : undefined;
    const list = children.get(parent);
    if (list) list.push(step);
    else children.set(parent, [step]);
  }

  const unitOf = new Map<string, Unit>();
  const fanOuts: RunGraphFanOut[] = [];
  // Fan-out ids share one namespace with step ids: an edge names either.
  const usedIds = new Set(steps.map((s) => s.id));
  const visit = (parent: Unit | undefined, members: readonly (string | undefined)[]): void => {
    const kids = members.flatMap((m) => children.get(m) ?? []);
    const byKind = new Map<string, StepInfo[]>();
    for (const kid of kids) {
      if (unitOf.has(kid.id)) continue; // a parentId cycle given at start: each step is placed once
      const list = byKind.get(kid.kind);
      if (list) list.push(kid);
      else byKind.set(kid.kind, [kid]);
    }
    for (const [kind, list] of byKind) {
      if (list.length <= collapseAbove) {
        for (const step of list) {
          const unit: Unit = { id: step.id, members: [step] };
          place(unit);
          visit(unit, [step.id]);
        }
        continue;
      }
      const id = fanOutId(parent, kind, usedIds);
      const fanOut: RunGraphFanOut = { id, kind, size: list.length, counts: countByStatus(list), collapsed: !expand.has(id) };
      if (parent) fanOut.parent = parent.id;
      fanOuts.push(fanOut);
      if (fanOut.collapsed) {
        const unit: Unit = { id, members: list, fanOut };
        place(unit);
        visit(unit, list.map((s) => s.id));
      } else {
        const group: Unit = { id, members: list, fanOut };
        for (const step of list) place({ id: step.id, members: [step], fanOut });
        visit(group, list.map((s) => s.id));
      }
    }
  };
  const place = (unit: Unit): void => {
    for (const m of unit.members) unitOf.set(m.id, unit);
  };
  visit(undefined, [undefined]);
  // Steps whose parentIds only form cycles were never reached from the top: place them alone.
  for (const step of steps) if (!unitOf.has(step.id)) place({ id: step.id, members: [step] });

  return { run, steps: graphSteps(steps, unitOf), fanOuts, edges: graphEdges(steps, unitOf) };
}

/**
 * `<parent>/<kind>` (`<kind>` at the top level), suffixed `#2`, `#3`... if a step
 * or another fan-out has that id already. Deterministic: units are visited in
 * creation order.
 */
function fanOutId(parent: Unit | undefined, kind: string, used: Set<string>): string {
  const base = parent ? `${parent.id}/${kind}` : kind;
  let id = base;
  for (let n = 2; used.has(id); n++) id = `${base}#${n}`;
  used.add(id);
  return id;
}

function countByStatus(steps: readonly StepInfo[]): Partial<Record<StepStatus, number>> {
  const counts: Partial<Record<StepStatus, number>> = {};
  for (const step of steps) counts[step.status] = (counts[step.status] ?? 0) + 1;
  return counts;
}

function graphSteps(steps: readonly StepInfo[], unitOf: ReadonlyMap<string, Unit>): RunGraphStep[] {
  const out: RunGraphStep[] = [];
  for (const step of steps) {
    const unit = unitOf.get(step.id) as Unit;
    if (unit.fanOut?.collapsed) continue;
    const node: RunGraphStep = {
      stepId: step.id,
      kind: step.kind,
      queue: step.queue,
      status: step.status,
      attempt: step.attempt,
      maxAttempts: step.maxAttempts,
      createdAt: step.createdAt,
    };
    if (step.startedAt) node.startedAt = step.startedAt;
    if (step.finishedAt) node.finishedAt = step.finishedAt;
    if (step.lastError) node.lastErrorCode = step.lastError.code;
    if (step.waitingFor !== undefined) {
      node.waitingFor = step.waitingFor;
      if (step.waitingFor.startsWith("run:")) node.childRunId = step.waitingFor.slice("run:".length);
    }
    if (step.wakeAt) node.wakeAt = step.wakeAt;
    if (step.parentId !== undefined) node.parentId = step.parentId;
    if (unit.fanOut) node.fanOut = unit.fanOut.id;
    out.push(node);
  }
  return out;
}

/** Dependencies and emissions between units, each once, in step order; none inside one unit. */
function graphEdges(steps: readonly StepInfo[], unitOf: ReadonlyMap<string, Unit>): RunGraphEdge[] {
  const edges: RunGraphEdge[] = [];
  const seen = new Set<string>();
  const add = (from: Unit | undefined, to: Unit, kind: RunGraphEdgeKind): void => {
    if (!from || from === to) return;
    const key = `${from.id}\u0000${to.id}\u0000${kind}`;
    if (seen.has(key)) return;
    seen.add(key);
    edges.push({ from: from.id, to: to.id, kind });
  };
  for (const step of steps) {
    const unit = unitOf.get(step.id) as Unit;
    if (step.parentId !== undefined) add(unitOf.get(step.parentId), unit, "emitted");
    for (const dep of step.dependsOn) add(unitOf.get(dep.stepId), unit, EDGE_KIND[dep.on ?? (dep.required ? "succeeded" : "completed")]);
  }
  return edges;
}
