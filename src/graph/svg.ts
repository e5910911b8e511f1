/**
 * A `GraphModel` as a standalone SVG document, drawn in Node without a browser:
 * `@dagrejs/dagre` lays the graph out (imported on the first call only, so
 * `import "trellis"` never loads it), and the drawing uses presentation
 * attributes only (no `<style>`, no script), so a page with a strict
 * Content-Security-Policy can inline it. Text is measured as a monospace font.
 */
import type { GraphEdge, GraphModel, GraphNode, GraphNodeShape } from "./graph-model.js";
import { groupTree, type GroupBlock } from "./group-tree.js";
import {
  coloursOf,
  drawableEdges,
  edgeKindsIn,
  edgeStyle,
  EDGE_STYLES,
  identifiers,
  nodeLines,
  STATUS_COLOURS,
  statusesIn,
  TEXT_COLOUR,
  textLines,
} from "./render-style.js";

const FONT = "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace";
const FONT_SIZE = 12;
/** Advance of one character of FONT at FONT_SIZE, rounded up so text never overflows its box. */
const CHAR_WIDTH = 7.3;
const LINE_HEIGHT = 15;
const PAD_X = 12;
const PAD_Y = 8;
const MARGIN = 16;
/**
 * Above this many nodes the layout trades looks for time: it ranks with
 * `tight-tree` instead of `network-simplex`, orders each rank with one pass of
 * crossing reduction instead of dagre's best-of-several, and lays the graph out
 * flat, each group then drawn around its members (dagre's compound layout costs
 * several times as much on a large graph, and a large run graph's groups are
 * fan-outs whose members share a rank anyway). Together about 5x faster at 1,000 nodes.
 */
const LARGE_GRAPH_ABOVE = 200;
const GROUP_PAD = 10;

interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** `& < > " '` as entities, and the line breaks an attribute would fold (input is already cleaned by `textLines`). */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"'\n\r\t]/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

/** Coordinates with one decimal at most, never `-0`: the same layout always prints the same text. */
const num = (n: number): string => String(Math.round(n * 10) / 10 + 0);

const textWidth = (lines: readonly string[]): number => Math.max(0, ...lines.map((l) => Array.from(l).length)) * CHAR_WIDTH;

/** Extra room a shape needs around its text. */
const SHAPE_GROWTH: Readonly<Record<GraphNodeShape, number>> = {
  task: 1,
  wait: 1.1,
  signal: 1.15,
  inquiry: 1.2,
  timer: 1.25,
  subworkflow: 1.1,
  decision: 1.6,
  collapsed: 1,
};

/**
 * Renders the model as SVG: nodes coloured by status, edges coloured and dashed
 * by kind (named in the legend; only an edge's own `label` is written on it),
 * groups as dashed boxes, a legend of the statuses and edge kinds it uses.
 * Deterministic: the same model gives byte-identical output.
 */
export async function renderSvg(model: GraphModel): Promise<string> {
  const dagre = await import("@dagrejs/dagre");
  const ids = identifiers(model);
  const edges = drawableEdges(model, ids.node);
  const large = model.nodes.length > LARGE_GRAPH_ABOVE;
  const graph = new dagre.graphlib.Graph({ compound: !large, multigraph: true });
  graph.setGraph({ rankdir: "TB", nodesep: 24, ranksep: 44, edgesep: 12, marginx: MARGIN, marginy: MARGIN, ranker: large ? "tight-tree" : "network-simplex" });
  graph.setDefaultEdgeLabel(() => ({}));

  const lines = new Map<string, { label: string[]; rest: string[] }>();
  for (const node of model.nodes) {
    const key = ids.node.get(node.id) as string;
    if (lines.has(key)) continue;
    const text = nodeLines(node);
    lines.set(key, text);
    const growth = SHAPE_GROWTH[node.shape] ?? 1;
    const count = text.label.length + text.rest.length;
    graph.setNode(key, { width: (textWidth([...text.label, ...text.rest]) + 2 * PAD_X) * growth, height: (count * LINE_HEIGHT + 2 * PAD_Y) * (node.shape === "decision" ? growth : 1) });
  }
  const setGroups = (blocks: readonly GroupBlock[], parent: string | undefined): void => {
    for (const block of blocks) {
      const key = ids.group.get(block.group.id) as string;
      graph.setNode(key, {});
      if (parent) graph.setParent(key, parent);
      for (const node of block.nodes) graph.setParent(ids.node.get(node.id) as string, key);
      setGroups(block.children, key);
    }
  };
  const tree = groupTree(model);
  if (!large) setGroups(tree.children, undefined);
  edges.forEach((edge, i) => {
    // Only an edge's own label (a decision's condition) gets room in the layout: the kinds'
    // texts are in the legend, and a labelled edge costs the layout a node on every rank it spans.
    const label = edge.label === undefined ? {} : { width: textWidth(textLines(edge.label)) + 8, height: textLines(edge.label).length * LINE_HEIGHT, labelpos: "c" as const };
    graph.setEdge(ids.node.get(edge.from) as string, ids.node.get(edge.to) as string, label, `e${i}`);
  });
  if (model.nodes.length) dagre.layout(graph, large ? { disableOptimalOrderHeuristic: true } : {});

  const size = graph.graph();
  const body: string[] = [];
  const titleHeight = model.title === undefined ? 0 : 28;
  let width = model.nodes.length ? (size.width ?? 0) : 2 * MARGIN;
  let height = (model.nodes.length ? (size.height ?? 0) : 2 * MARGIN) + titleHeight;

  // Groups first, so nodes and edges are drawn over them.
  const groupBox = (block: GroupBlock): Box => {
    if (!large) return graph.node(ids.group.get(block.group.id) as string) as Box;
    const boxes = [...block.nodes.map((n) => graph.node(ids.node.get(n.id) as string) as Box), ...block.children.map(groupBox)];
    const left = Math.min(...boxes.map((b) => b.x - b.width / 2)) - GROUP_PAD;
    const right = Math.max(...boxes.map((b) => b.x + b.width / 2)) + GROUP_PAD;
    const top = Math.min(...boxes.map((b) => b.y - b.height / 2)) - GROUP_PAD - 12; // room for the label
    const bottom = Math.max(...boxes.map((b) => b.y + b.height / 2)) + GROUP_PAD;
    return { x: (left + right) / 2, y: (top + bottom) / 2, width: right - left, height: bottom - top };
  };
  const drawGroups = (blocks: readonly GroupBlock[]): void => {
    for (const block of blocks) {
      const box = groupBox(block);
      const [x, y] = [box.x - box.width / 2, box.y - box.height / 2 + titleHeight];
      body.push(`<g data-group="${escapeXml(textLines(block.group.id, 1_000).join(" "))}">`);
      body.push(`<rect x="${num(x)}" y="${num(y)}" width="${num(box.width)}" height="${num(box.height)}" rx="8" fill="#f5f7f8" stroke="#90a4ae" stroke-dasharray="5 4"/>`);
      // Cut to the box's width (11px characters), so a long label does not run over its neighbours.
      const fits = Math.max(4, Math.floor((box.width - 12) / 6.7));
      body.push(`<text x="${num(x + 6)}" y="${num(y + 13)}" fill="#546e7a" font-size="11">${escapeXml(textLines(block.group.label, fits).join(" "))}</text>`);
      drawGroups(block.children);
      body.push("</g>");
    }
  };
  drawGroups(tree.children);
  edges.forEach((edge, i) => body.push(...drawEdge(edge, graph.edge({ v: ids.node.get(edge.from) as string, w: ids.node.get(edge.to) as string, name: `e${i}` }), titleHeight)));
  const drawn = new Set<string>();
  for (const node of model.nodes) {
    const key = ids.node.get(node.id) as string;
    if (drawn.has(key)) continue;
    drawn.add(key);
    body.push(...drawNode(node, graph.node(key) as Box, lines.get(key) as { label: string[]; rest: string[] }, titleHeight));
  }

  const legend = drawLegend(model, height, Math.max(width, 480));
  body.push(...legend.parts);
  width = Math.max(width, legend.width);
  height = legend.bottom + MARGIN;
  if (model.title !== undefined) {
    const title = textLines(model.title, 200).join(" ");
    width = Math.max(width, (textWidth([title]) * 14) / FONT_SIZE + 2 * MARGIN); // the title is 14px
    body.unshift(`<text x="${MARGIN}" y="${MARGIN + 8}" font-size="14" font-weight="bold" fill="${TEXT_COLOUR}">${escapeXml(title)}</text>`);
  }
  const markers = edgeKindsIn(model).map((kind) => {
    const colour = EDGE_STYLES[kind].colour;
    return `<marker id="trellis-arrow-${kind}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="${colour}"/></marker>`;
  });
  const titleText = model.title === undefined ? "workflow graph" : textLines(model.title, 200).join(" ");
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${num(width)}" height="${num(height)}" viewBox="0 0 ${num(width)} ${num(height)}" role="img" font-family="${FONT}" font-size="${FONT_SIZE}">`,
    `<title>${escapeXml(titleText)}</title>`,
    `<defs>${markers.join("")}</defs>`,
    `<rect x="0" y="0" width="${num(width)}" height="${num(height)}" fill="#ffffff"/>`,
    ...body,
    "</svg>",
    "",
  ].join("\n");
}

function drawEdge(edge: GraphEdge, layout: { points?: { x: number; y: number }[]; x?: number; y?: number }, dy: number): string[] {
  const style = edgeStyle(edge);
  const points = layout.points ?? [];
  if (points.length === 0) return [];
  const d = points.map((p, i) => `${i === 0 ? "M" : "L"}${num(p.x)},${num(p.y + dy)}`).join(" ");
  const dash = style.line === "dashed" ? ` stroke-dasharray="6 4"` : style.line === "dotted" ? ` stroke-dasharray="2 3"` : "";
  const kind = EDGE_STYLES[edge.kind] ? edge.kind : "required";
  const out = [`<path d="${d}" fill="none" stroke="${style.colour}" stroke-width="1.4"${dash} marker-end="url(#trellis-arrow-${kind})"/>`];
  if (edge.label !== undefined && layout.x !== undefined && layout.y !== undefined) {
    const lines = textLines(edge.label);
    const top = layout.y + dy - ((lines.length - 1) * LINE_HEIGHT) / 2 + 4;
    const spans = lines.map((line, i) => `<tspan x="${num(layout.x as number)}" y="${num(top + i * LINE_HEIGHT)}">${escapeXml(line)}</tspan>`);
    out.push(`<text text-anchor="middle" font-size="10" fill="${style.colour}">${spans.join("")}</text>`);
  }
  return out;
}

function drawNode(node: GraphNode, box: Box, text: { label: string[]; rest: string[] }, dy: number): string[] {
  const { fill, stroke } = coloursOf(node);
  const [x, y, w, h] = [box.x - box.width / 2, box.y - box.height / 2 + dy, box.width, box.height];
  const out = [`<g data-node="${escapeXml(textLines(node.id, 1_000).join(" "))}"${node.status ? ` data-status="${node.status}"` : ""}>`];
  out.push(...outline(node.shape, x, y, w, h, fill, stroke));
  const all = [...text.label, ...text.rest];
  const top = box.y + dy - ((all.length - 1) * LINE_HEIGHT) / 2 + 4;
  const spans = all.map((line, i) => {
    const weight = i < text.label.length ? ` font-weight="bold"` : "";
    return `<tspan x="${num(box.x)}" y="${num(top + i * LINE_HEIGHT)}"${weight}>${escapeXml(line)}</tspan>`;
  });
  out.push(`<text text-anchor="middle" fill="${TEXT_COLOUR}">${spans.join("")}</text>`, "</g>");
  return out;
}

/** The outline of each shape: rounded boxes, pills, hexagons, a diamond, a stack for a collapsed fan-out. */
function outline(shape: GraphNodeShape, x: number, y: number, w: number, h: number, fill: string, stroke: string): string[] {
  const paint = `fill="${fill}" stroke="${stroke}" stroke-width="1.5"`;
  const rect = (rx: number, dx = 0, dy = 0) => `<rect x="${num(x + dx)}" y="${num(y + dy)}" width="${num(w)}" height="${num(h)}" rx="${num(rx)}" ${paint}/>`;
  const polygon = (pts: [number, number][]) => `<polygon points="${pts.map(([px, py]) => `${num(px)},${num(py)}`).join(" ")}" ${paint}/>`;
  const cut = Math.min(14, w / 6);
  switch (shape) {
    case "wait":
    case "timer":
      return [rect(h / 2)];
    case "signal":
      return [polygon([[x, y], [x + w - cut, y], [x + w, y + h / 2], [x + w - cut, y + h], [x, y + h]])];
    case "inquiry":
      return [polygon([[x + cut, y], [x + w - cut, y], [x + w, y + h / 2], [x + w - cut, y + h], [x + cut, y + h], [x, y + h / 2]])];
    case "decision":
      return [polygon([[x + w / 2, y], [x + w, y + h / 2], [x + w / 2, y + h], [x, y + h / 2]])];
    case "subworkflow":
      return [rect(2), `<path d="M${num(x + 6)},${num(y)} V${num(y + h)} M${num(x + w - 6)},${num(y)} V${num(y + h)}" stroke="${stroke}" stroke-width="1.2"/>`];
    case "collapsed":
      return [rect(6, 6, -6), rect(6, 3, -3), rect(6)];
    default:
      return [rect(6)];
  }
}

/** The legend under the graph: a swatch per status used, a line sample per edge kind used, wrapped at `maxWidth`. */
function drawLegend(model: GraphModel, top: number, maxWidth: number): { parts: string[]; width: number; bottom: number } {
  const items = [
    ...statusesIn(model).map((status) => ({ text: status, swatch: (x: number, y: number) => `<rect x="${num(x)}" y="${num(y - 10)}" width="14" height="14" rx="3" fill="${STATUS_COLOURS[status].fill}" stroke="${STATUS_COLOURS[status].stroke}"/>` })),
    ...edgeKindsIn(model).map((kind) => {
      const style = EDGE_STYLES[kind];
      const dash = style.line === "dashed" ? ` stroke-dasharray="6 4"` : style.line === "dotted" ? ` stroke-dasharray="2 3"` : "";
      return { text: `${kind.replace(/_/g, " ")} edge`, swatch: (x: number, y: number) => `<path d="M${num(x)},${num(y - 3)} H${num(x + 14)}" stroke="${style.colour}" stroke-width="2"${dash}/>` };
    }),
  ];
  if (items.length === 0) return { parts: [], width: 0, bottom: top };
  const parts = [`<g data-legend="true">`, `<text x="${MARGIN}" y="${num(top + 14)}" font-weight="bold" fill="${TEXT_COLOUR}">Legend</text>`];
  let [x, y, width] = [MARGIN, top + 34, 0];
  for (const item of items) {
    const itemWidth = 14 + 6 + textWidth([item.text]) + 18;
    if (x > MARGIN && x + itemWidth > maxWidth - MARGIN) [x, y] = [MARGIN, y + 22];
    parts.push(item.swatch(x, y), `<text x="${num(x + 20)}" y="${num(y)}" fill="${TEXT_COLOUR}">${escapeXml(item.text)}</text>`);
    x += itemWidth;
    width = Math.max(width, x + MARGIN);
  }
  parts.push("</g>");
  return { parts, width, bottom: y + 8 };
}
