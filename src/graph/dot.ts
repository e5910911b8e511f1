/**
 * A `GraphModel` as Graphviz DOT, for `dot -Tsvg` / `-Tpng` and every tool that
 * reads DOT. Node ids are generated (`n0`, `n1`...); user-written text only ever
 * appears inside double-quoted strings, with `\` and `"` escaped, so it can
 * neither end its string nor use Graphviz's `\N`-style escapes.
 */
import type { GraphEdge, GraphModel, GraphNode, GraphNodeShape } from "./graph-model.js";
import { groupTree, type GroupBlock } from "./group-tree.js";
import { coloursOf, drawableEdges, edgeStyle, edgeText, identifiers, nodeLines, STATUS_COLOURS, statusesIn, TEXT_COLOUR, textLines } from "./render-style.js";

/** Graphviz shape and extra style of each node shape. */
const SHAPES: Readonly<Record<GraphNodeShape, { shape: string; style?: string; peripheries?: number }>> = {
  task: { shape: "box", style: "rounded,filled" },
  wait: { shape: "box", style: "rounded,filled,dashed" },
  signal: { shape: "cds", style: "filled" },
  inquiry: { shape: "hexagon", style: "filled" },
  timer: { shape: "ellipse", style: "filled" },
  subworkflow: { shape: "box3d", style: "filled" },
  decision: { shape: "diamond", style: "filled" },
  collapsed: { shape: "box", style: "rounded,filled", peripheries: 2 },
};

/** A DOT double-quoted string: `\` and `"` escaped; lines joined with DOT's `\n`. */
export function quoteDot(lines: readonly string[]): string {
  return `"${lines.map((line) => line.replace(/\\/g, "\\\\").replace(/"/g, '\\"')).join("\\n")}"`;
}

/** Renders the model as a DOT `digraph`, with a legend cluster of the statuses it uses. Deterministic. */
export function renderDot(model: GraphModel): string {
  const ids = identifiers(model);
  const out: string[] = ["digraph trellis {"];
  const graphAttrs = ["rankdir=TB", 'fontname="Helvetica"', "fontsize=12"];
  if (model.title !== undefined) graphAttrs.push(`label=${quoteDot([textLines(model.title, 200).join(" ")])}`, "labelloc=t");
  out.push(`  graph [${graphAttrs.join(", ")}];`);
  out.push(`  node [fontname="Helvetica", fontsize=10, fontcolor="${TEXT_COLOUR}", margin="0.15,0.06"];`);
  out.push(`  edge [fontname="Helvetica", fontsize=9];`);

  const writeNode = (node: GraphNode, indent: string): void => {
    const { label, rest } = nodeLines(node);
    const shape = SHAPES[node.shape] ?? SHAPES.task;
    const { fill, stroke } = coloursOf(node);
    const attrs = [`label=${quoteDot([...label, ...rest])}`, `shape=${shape.shape}`, `style="${shape.style ?? "filled"}"`, `fillcolor="${fill}"`, `color="${stroke}"`];
    if (shape.peripheries) attrs.push(`peripheries=${shape.peripheries}`);
    out.push(`${indent}${ids.node.get(node.id)} [${attrs.join(", ")}];`);
  };
  const writeBlock = (block: GroupBlock, indent: string): void => {
    out.push(`${indent}subgraph cluster_${ids.group.get(block.group.id)} {`);
    out.push(`${indent}  label=${quoteDot(textLines(block.group.label))}; style="dashed,rounded"; color="#90a4ae";`);
    for (const node of block.nodes) writeNode(node, `${indent}  `);
    for (const child of block.children) writeBlock(child, `${indent}  `);
    out.push(`${indent}}`);
  };
  const tree = groupTree(model);
  for (const node of tree.nodes) writeNode(node, "  ");
  for (const block of tree.children) writeBlock(block, "  ");
  for (const edge of drawableEdges(model, ids.node)) out.push(`  ${ids.node.get(edge.from)} -> ${ids.node.get(edge.to)} [${edgeAttrs(edge).join(", ")}];`);

  const statuses = statusesIn(model);
  if (statuses.length) {
    out.push("  subgraph cluster_legend {", '    label="Legend"; style="rounded"; color="#cfd8dc";');
    statuses.forEach((status, i) => {
      const { fill, stroke } = STATUS_COLOURS[status];
      out.push(`    legend${i} [label="${status}", shape=box, style="rounded,filled", fillcolor="${fill}", color="${stroke}"];`);
    });
    // Invisible edges keep the legend's entries in one column, in order.
    for (let i = 1; i < statuses.length; i++) out.push(`    legend${i - 1} -> legend${i} [style=invis];`);
    out.push("  }");
  }
  out.push("}");
  return `${out.join("\n")}\n`;
}

function edgeAttrs(edge: GraphEdge): string[] {
  const style = edgeStyle(edge);
  const attrs = [`color="${style.colour}"`];
  if (style.line !== "solid") attrs.push(`style=${style.line}`);
  const text = edgeText(edge);
  if (text !== undefined) attrs.push(`label=${quoteDot(textLines(text))}`, `fontcolor="${style.colour}"`);
  return attrs;
}
