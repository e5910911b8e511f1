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

export interface GraphNode {
  /** Unique in the graph; renderers derive their own safe identifiers from it. */
  readonly id: string;
  /** The text shown in the node (user-written: renderers escape it). */
  readonly label: string;
  readonly shape: GraphNodeShape;
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

export interface GraphEdge {
  readonly from: string;
  readonly to: string;
  readonly kind: GraphEdgeKind;
  /** Extra text on the edge (a decision's condition); user-written, escaped by renderers. */
  readonly label?: string;
}

export interface GraphGroup {
  readonly id: string;
  readonly label: string;
  readonly kind: "parallel" | "iteration" | "fanout";
  /** The enclosing group, for nested parallel blocks. */
  readonly parent?: string;
}

export interface GraphModel {
  readonly title?: string;
  readonly nodes: readonly GraphNode[];
  readonly edges: readonly GraphEdge[];
  readonly groups?: readonly GraphGroup[];
}
