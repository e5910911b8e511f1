/**
 * The model's groups as a tree, with each node in the group it names: what
 * the text renderers (Mermaid subgraphs, DOT clusters) write block by block.
 */
import type { GraphGroup, GraphModel, GraphNode } from "./graph-model.js";

export interface GroupBlock {
  readonly group: GraphGroup;
  readonly nodes: GraphNode[];
  readonly children: GroupBlock[];
}

/**
 * Nodes and groups at the top, each group with its own nodes and nested groups,
 * all in model order. A node naming an unknown group, or a group naming an
 * unknown parent (or one that would nest a group inside itself), sits at the top.
 * Groups left empty are dropped.
 */
export function groupTree(model: GraphModel): { nodes: GraphNode[]; children: GroupBlock[] } {
  const blocks = new Map<string, GroupBlock>();
  for (const group of model.groups ?? []) if (!blocks.has(group.id)) blocks.set(group.id, { group, nodes: [], children: [] });
  const top = { nodes: [] as GraphNode[], children: [] as GroupBlock[] };
  for (const block of blocks.values()) {
    const parent = block.group.parent === undefined ? undefined : blocks.get(block.group.parent);
    (parent && !nestsInside(parent, block, blocks) ? parent.children : top.children).push(block);
  }
  for (const node of model.nodes) {
    const block = node.group === undefined ? undefined : blocks.get(node.group);
    (block ? block.nodes : top.nodes).push(node);
  }
  const prune = (list: GroupBlock[]): GroupBlock[] =>
    list.filter((b) => {
      b.children.splice(0, b.children.length, ...prune(b.children));
      return b.nodes.length > 0 || b.children.length > 0;
    });
  top.children = prune(top.children);
  return top;
}

/** Whether `parent` is `block` or lies inside it: then nesting would make a cycle. */
function nestsInside(parent: GroupBlock, block: GroupBlock, blocks: ReadonlyMap<string, GroupBlock>): boolean {
  const seen = new Set<GroupBlock>();
  for (let at: GroupBlock | undefined = parent; at && !seen.has(at); at = at.group.parent === undefined ? undefined : blocks.get(at.group.parent)) {
    if (at === block) return true;
    seen.add(at);
  }
  return false;
}
