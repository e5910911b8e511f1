/**
 * What the three renderers share: the colours of each status, the look of each
 * edge kind, the lines a node shows, and the cleaning of user-written text
 * before each renderer escapes it for its own syntax.
 */
import type { GraphEdge, GraphEdgeKind, GraphModel, GraphNode, GraphNodeStatus } from "./graph-model.js";

/** Fill, border and text colours of a node. */
export interface NodeColours {
  readonly fill: string;
  readonly stroke: string;
}

/** Every status, in the order legends list them. */
export const STATUS_ORDER: readonly GraphNodeStatus[] = ["pending", "ready", "running", "waiting", "succeeded", "failed", "canceled", "skipped"];

export const STATUS_COLOURS: Readonly<Record<GraphNodeStatus, NodeColours>> = {
  pending: { fill: "#eceff1", stroke: "#90a4ae" },
  ready: { fill: "#e3f2fd", stroke: "#42a5f5" },
  running: { fill: "#bbdefb", stroke: "#1565c0" },
  waiting: { fill: "#fff3e0", stroke: "#ef6c00" },
  succeeded: { fill: "#c8e6c9", stroke: "#2e7d32" },
  failed: { fill: "#ffcdd2", stroke: "#c62828" },
  canceled: { fill: "#e0e0e0", stroke: "#424242" },
  skipped: { fill: "#fafafa", stroke: "#bdbdbd" },
};

/** A node without a status (a definition graph that has not run). */
export const NO_STATUS_COLOURS: NodeColours = { fill: "#ffffff", stroke: "#455a64" };

export const TEXT_COLOUR = "#212121";

export function coloursOf(node: GraphNode): NodeColours {
  return node.status ? STATUS_COLOURS[node.status] : NO_STATUS_COLOURS;
}

/** How an edge of each kind is drawn, and the text it carries when the edge has no label of its own. */
export interface EdgeStyle {
  readonly colour: string;
  readonly line: "solid" | "dashed" | "dotted";
  readonly text?: string;
}

export const EDGE_STYLES: Readonly<Record<GraphEdgeKind, EdgeStyle>> = {
  required: { colour: "#455a64", line: "solid" },
  on_failure: { colour: "#c62828", line: "dashed", text: "on failure" },
  on_complete: { colour: "#6a1b9a", line: "dashed", text: "on complete" },
  emitted: { colour: "#78909c", line: "dotted", text: "emitted" },
  success: { colour: "#2e7d32", line: "solid" },
  failure: { colour: "#c62828", line: "dashed", text: "failure" },
  complete: { colour: "#6a1b9a", line: "dashed", text: "complete" },
  timeout: { colour: "#ef6c00", line: "dashed", text: "timeout" },
  decision: { colour: "#455a64", line: "solid" },
};

/** The style of an edge's kind (an unknown kind, from an untyped caller, is drawn as `required`). */
export function edgeStyle(edge: GraphEdge): EdgeStyle {
  return EDGE_STYLES[edge.kind] ?? EDGE_STYLES.required;
}

/** Edge kinds in the order legends list them. */
export const EDGE_KIND_ORDER = Object.keys(EDGE_STYLES) as GraphEdgeKind[];

/** The text on an edge: its own label (user-written) or its kind's. */
export function edgeText(edge: GraphEdge): string | undefined {
  return edge.label ?? edgeStyle(edge).text;
}

/** Longest line a node shows; longer ones are cut with an ellipsis so one value cannot stretch a picture. */
export const MAX_LINE_CHARS = 60;

/**
 * Characters no picture shows as they are: C0/C1 controls (but newlines, which
 * split lines), line and paragraph separators, and bidirectional overrides
 * (which can make text read differently from what it is).
 */
const UNSHOWABLE = /[\u0000-\u0009\u000b\u000c\u000e-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu;

/** Half of a surrogate pair without its other half: not a character, and invalid in XML. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * User-written text as lines fit to show: well-formed (no lone surrogates),
 * unshowable characters replaced by U+FFFD, split at newlines, each line cut
 * at `max` characters. Renderers escape the result for their syntax.
 */
export function textLines(text: string, max = MAX_LINE_CHARS): string[] {
  const clean = String(text).replace(LONE_SURROGATE, "\uFFFD").replace(/\r\n?/g, "\n").replace(UNSHOWABLE, "\uFFFD");
  return clean.split("\n").map((line) => {
    const chars = Array.from(line);
    return chars.length > max ? `${chars.slice(0, max - 1).join("")}…` : line;
  });
}

/** A collapsed node's counts as one line: `29 succeeded, 1 failed`, in status order. */
export function countsLine(node: GraphNode): string | undefined {
  if (!node.counts) return undefined;
  const parts = STATUS_ORDER.filter((s) => (node.counts?.[s] ?? 0) > 0).map((s) => `${node.counts?.[s]} ${s}`);
  return parts.length ? parts.join(", ") : undefined;
}

/** Every line a node shows: its label, its detail lines, then its counts. */
export function nodeLines(node: GraphNode): { label: string[]; rest: string[] } {
  const rest = (node.detail ?? []).flatMap((d) => textLines(d));
  const counts = countsLine(node);
  if (counts) rest.push(counts);
  return { label: textLines(node.label), rest };
}

/** The statuses the model's nodes have, in legend order. */
export function statusesIn(model: GraphModel): GraphNodeStatus[] {
  const seen = new Set(model.nodes.map((n) => n.status));
  return STATUS_ORDER.filter((s) => seen.has(s));
}

/** The edge kinds the model uses, in legend order. */
export function edgeKindsIn(model: GraphModel): GraphEdgeKind[] {
  const seen = new Set(model.edges.map((e) => e.kind));
  return EDGE_KIND_ORDER.filter((k) => seen.has(k));
}

/**
 * Safe identifiers for a renderer's own syntax (`n0`, `n1`... and `g0`...), in
 * model order, so nothing a user wrote ends up in an identifier. Edges whose
 * ends are not nodes of the model are left out by the renderers.
 */
export function identifiers(model: GraphModel): { node: Map<string, string>; group: Map<string, string> } {
  const node = new Map<string, string>();
  model.nodes.forEach((n, i) => {
    if (!node.has(n.id)) node.set(n.id, `n${i}`);
  });
  const group = new Map<string, string>();
  (model.groups ?? []).forEach((g, i) => {
    if (!group.has(g.id)) group.set(g.id, `g${i}`);
  });
  return { node, group };
}

/** Edges whose two ends are nodes of the model (renderers draw only those). */
export function drawableEdges(model: GraphModel, ids: ReadonlyMap<string, string>): GraphEdge[] {
  return model.edges.filter((e) => ids.has(e.from) && ids.has(e.to));
}
