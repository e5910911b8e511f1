/**
 * The one shape every graph picture in trellis is drawn from: a run's graph
 * (`rt.graph(runId)`) and a declarative workflow definition's graph both become a
 * `GraphModel`, and the renderers (Mermaid, DOT, SVG) take nothing else. Renderers
 * must be deterministic: the same model gives byte-identical text, so callers keep
 * nodes and edges in a stable order.
 */

/** The status colours a node takes; definition graphs (not yet run) have none. */
export type GraphNodeStatus = "pending" | "ready" | "running" | "waiting" | "succeeded" | "failed" | "canceled" | "skipped";

/** What a node stands for, which decides its shape in a picture. */
export type GraphNodeShape = "task" | "wait" | "signal" | "inquiry" | "timer" | "subworkflow" | "decision" | "collapsed";

/** One node of a picture: a step, a collapsed fan-out, or a task of a definition. */
export interface GraphNode {
  /** Unique in the graph; renderers derive their own safe identifiers from it. */
  readonly id: string;
  /** The text shown in the node (user-written: renderers escape it). */
  readonly label: string;
  /** What the node stands for; decides how it is drawn. */
  readonly shape: GraphNodeShape;
  /** The step's status, which colours the node; undefined in a definition graph. */
  readonly status?: GraphNodeStatus;
  /** Further lines shown under the label (kind, attempts, error code, ...). */
  readonly detail?: readonly string[];
  /** The group (parallel block, iteration, fan-out) the node belongs to. */
  readonly group?: string;
  /** For a collapsed fan-out: how many members it stands for, by status. */
  readonly counts?: Readonly<Partial<Record<GraphNodeStatus, number>>>;
}

/**
 * Why one node follows another. Run graphs use the dependency kinds; definition
 * graphs use the transition kinds of the declarative format.
 */
export type GraphEdgeKind =
  | "required"
  | "on_failure"
  | "on_complete"
  | "emitted"
  | "success"
  | "failure"
  | "complete"
  | "timeout"
  | "decision";

/** An arrow from one node to another. */
export interface GraphEdge {
  /** The id of the node it starts at. */
  readonly from: string;
  /** The id of the node it points to. */
  readonly to: string;
  /** Why `to` follows `from`; decides the line style. */
  readonly kind: GraphEdgeKind;
  /** Extra text on the edge (a decision's condition); user-written, escaped by renderers. */
  readonly label?: string;
}

/** A box drawn around the nodes whose `group` names it. */
export interface GraphGroup {
  /** Unique in the graph; what `GraphNode.group` and `parent` refer to. */
  readonly id: string;
  /** The text shown on the box (user-written: renderers escape it). */
  readonly label: string;
  /** What the box stands for: a parallel block, a loop's iteration, or an expanded fan-out. */
  readonly kind: "parallel" | "iteration" | "fanout";
  /** The enclosing group, for nested parallel blocks. */
  readonly parent?: string;
}

/** A graph to draw, as `renderMermaid`, `renderDot` and `renderSvg` take it. */
export interface GraphModel {
  /** A heading drawn with the picture, when set. */
  readonly title?: string;
  /** The nodes, in a stable order (it decides the output). */
  readonly nodes: readonly GraphNode[];
  /** The edges, in a stable order; one whose ends are not both in `nodes` is not drawn. */
  readonly edges: readonly GraphEdge[];
  /** The boxes that `GraphNode.group` names; none when absent. */
  readonly groups?: readonly GraphGroup[];
}
