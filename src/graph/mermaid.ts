/**
 * A `GraphModel` as Mermaid flowchart text, for Markdown that renders Mermaid
 * (GitHub, GitLab, most wikis). Node ids are generated (`n0`, `n1`...); every
 * user-written character that is not a letter, a digit, a space or one of `. , _ / -`
 * is written as a Mermaid entity code (`#60;`), so no label can end its node,
 * start a statement, or carry markup into an HTML label.
 */
import type { GraphEdge, GraphModel, GraphNode, GraphNodeShape, GraphNodeStatus } from "./graph-model.js";
import { groupTree, type GroupBlock } from "./group-tree.js";
import {
  drawableEdges,
  edgeStyle,
  edgeText,
  identifiers,
  NO_STATUS_COLOURS,
  nodeLines,
  STATUS_COLOURS,
  statusesIn,
  TEXT_COLOUR,
  textLines,
} from "./render-style.js";

/** Opening and closing brackets of each shape. */
const SHAPES: Readonly<Record<GraphNodeShape, readonly [string, string]>> = {
  task: ["(", ")"],
  wait: ["([", "])"],
  signal: [">", "]"],
  inquiry: ["{{", "}}"],
  timer: ["((", "))"],
  subworkflow: ["[[", "]]"],
  decision: ["{", "}"],
  collapsed: ["[/", "/]"],
};

/** User text as Mermaid label text: letters, digits, spaces and `. , _ / -` as they are, everything else as `#<code>;`. */
export function escapeMermaid(text: string): string {
  return Array.from(text, (ch) => (/^[\p{L}\p{N} .,_/-]$/u.test(ch) ? ch : `#${ch.codePointAt(0)};`)).join("");
}

/** Lines of user text as one Mermaid label, lines joined by `<br/>` (the only markup, ours). */
function label(lines: readonly string[]): string {
  return `"${lines.map(escapeMermaid).join("<br/>")}"`;
}

const TITLE_LOOKALIKES: Readonly<Record<string, string>> = { "<": "‹", ">": "›", "&": "＆" };

const classOf = (status: GraphNodeStatus): string => `status_${status}`;

/** Renders the model as a Mermaid `flowchart TD`, with a legend of the statuses it uses. Deterministic. */
export function renderMermaid(model: GraphModel): string {
  const ids = identifiers(model);
  const out: string[] = [];
  // The title goes in the front matter as a YAML double-quoted string (JSON is one). Mermaid
  // escapes a title once more as it draws it (and drops markup), so `<`, `>` and `&` are
  // written as their look-alikes ‹ › ＆ rather than shown as `&lt;` or lost.
  if (model.title !== undefined) out.push("---", `title: ${JSON.stringify(textLines(model.title, 200).join(" ").replace(/[<>&]/g, (ch) => TITLE_LOOKALIKES[ch] as string))}`, "---");
  out.push("flowchart TD");

  const writeNode = (node: GraphNode, indent: string): void => {
    const { label: head, rest } = nodeLines(node);
    const [open, close] = SHAPES[node.shape] ?? SHAPES.task;
    out.push(`${indent}${ids.node.get(node.id)}${open}${label([...head, ...rest])}${close}`);
  };
  const writeBlock = (block: GroupBlock, indent: string): void => {
    out.push(`${indent}subgraph ${ids.group.get(block.group.id)}[${label(textLines(block.group.label))}]`);
    for (const node of block.nodes) writeNode(node, `${indent}  `);
    for (const child of block.children) writeBlock(child, `${indent}  `);
    out.push(`${indent}end`);
  };
  const tree = groupTree(model);
  for (const node of tree.nodes) writeNode(node, "  ");
  for (const block of tree.children) writeBlock(block, "  ");

  const edges = drawableEdges(model, ids.node);
  edges.forEach((edge) => out.push(`  ${ids.node.get(edge.from)} ${arrow(edge)} ${ids.node.get(edge.to)}`));
  const byColour = new Map<string, number[]>();
  edges.forEach((edge, i) => {
    const colour = edgeStyle(edge).colour;
    byColour.set(colour, [...(byColour.get(colour) ?? []), i]);
  });
  for (const [colour, indexes] of byColour) out.push(`  linkStyle ${indexes.join(",")} stroke:${colour},color:${colour}`);

  const statuses = statusesIn(model);
  for (const status of statuses) {
    const { fill, stroke } = STATUS_COLOURS[status];
    out.push(`  classDef ${classOf(status)} fill:${fill},stroke:${stroke},color:${TEXT_COLOUR}`);
  }
  for (const status of statuses) {
    const members = new Set(model.nodes.filter((n) => n.status === status).map((n) => ids.node.get(n.id)));
    out.push(`  class ${[...members].join(",")} ${classOf(status)}`);
  }
  if (statuses.length) {
    out.push(`  subgraph legend["Legend"]`);
    statuses.forEach((status, i) => out.push(`    legend${i}["${status}"]:::${classOf(status)}`));
    out.push("  end");
  }
  if (model.nodes.some((n) => !n.status)) {
    out.push(`  classDef default fill:${NO_STATUS_COLOURS.fill},stroke:${NO_STATUS_COLOURS.stroke},color:${TEXT_COLOUR}`);
  }
  return `${out.join("\n")}\n`;
}

/** `-->` or `-.->` by the kind's line, with the edge's text as a quoted label. */
function arrow(edge: GraphEdge): string {
  const style = edgeStyle(edge);
  const body = style.line === "solid" ? "-->" : "-.->";
  const text = edgeText(edge);
  return text === undefined ? body : `${body}|${label(textLines(text))}|`;
}
