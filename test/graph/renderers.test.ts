import { describe, expect, it } from "vitest";
import { renderDot, renderMermaid, renderSvg, type GraphModel } from "../../src/index.js";
import { groupedDefinition, HOSTILE, hostileModel, runModel } from "./fixtures.js";

const renderers = {
  mermaid: async (m: GraphModel) => renderMermaid(m),
  dot: async (m: GraphModel) => renderDot(m),
  svg: renderSvg,
} as const;
const extension = { mermaid: "mmd", dot: "dot", svg: "svg" } as const;

describe.each(Object.keys(renderers) as (keyof typeof renderers)[])("the %s renderer", (format) => {
  const render = renderers[format];

  it("draws a run graph as its snapshot, byte for byte", async () => {
    await expect(await render(runModel)).toMatchFileSnapshot(`__snapshots__/run.${extension[format]}`);
  });

  it("draws a definition graph with nested groups and edge labels as its snapshot", async () => {
    await expect(await render(groupedDefinition)).toMatchFileSnapshot(`__snapshots__/definition.${extension[format]}`);
  });

  it("is deterministic: the same model, or an equal copy, gives the same bytes", async () => {
    const first = await render(runModel);
    expect(await render(runModel)).toBe(first);
    expect(await render(structuredClone(runModel))).toBe(first);
  });

  it("draws an empty graph", async () => {
    const out = await render({ nodes: [], edges: [] });
    expect(out.length).toBeGreaterThan(0);
  });

  it("leaves out edges whose ends are not nodes", async () => {
    const model: GraphModel = { nodes: [{ id: "a", label: "only", shape: "task" }], edges: [{ from: "a", to: "ghost", kind: "required" }] };
    const out = await render(model);
    expect(out).not.toContain("ghost");
  });
});

describe("escaping what users wrote", () => {
  it("Mermaid: user text only as entity codes, every statement on its own line", () => {
    const out = renderMermaid(hostileModel);
    // The front matter holds the title as one YAML string; the diagram after it holds no raw user text.
    expect(out.split("\n").slice(3).join("\n")).not.toMatch(/<script|alert\(|-->\s*x|%%/);
    expect(out).toContain("#60;script#62;alert#40;#34;x#34;#41;#60;/script#62;");
    const lines = out.trimEnd().split("\n");
    // Front matter (3 lines), the header, one node, a subgraph of one node, one edge, one linkStyle,
    // two classDefs, two class lines, the legend (4 lines): a newline in user text would add lines.
    expect(lines).toHaveLength(3 + 1 + 1 + 3 + 1 + 1 + 2 + 2 + 4);
    expect(lines[1]).toBe(`title: ${JSON.stringify(HOSTILE.replace("\n", " ").replace(/</g, "‹").replace(/>/g, "›").replace(/&/g, "＆"))}`);
    for (const line of lines.slice(4)) {
      expect(line).toMatch(/^(  n\d+\("[^"]*"\)|  subgraph g\d+\["[^"]*"\]|    n\d+\{"plain"\}|  end|  n\d+ -->\|"[^"]*"\| n\d+|  linkStyle .*|  classDef .*|  class .*|  subgraph legend\["Legend"\]|    legend\d+\["\w+"\]:::status_\w+)$/);
    }
    expect(out).toContain("code #65533;bell #65533;evil #65533;lone");
  });

  it("DOT: user text only inside closed double-quoted strings", () => {
    const out = renderDot(hostileModel);
    const outside = out.replace(/"(?:[^"\\\n]|\\.)*"/g, '""');
    expect(outside).not.toMatch(/script|alert|pipe|-->|%%/);
    expect(outside.split("\n").filter((l) => l.includes("->"))).toEqual(["  n0 -> n1 [color=\"\", label=\"\", fontcolor=\"\"];", "    legend0 -> legend1 [style=invis];"]);
    expect(out).toContain('\\"d\\" \\\\N\\n]]');
  });

  it("SVG: user text only as escaped character data, well-formed, no script or style", async () => {
    const out = await renderSvg(hostileModel);
    const tags = out.match(/<\/?[a-zA-Z][^>]*>/g) ?? [];
    for (const tag of tags) expect(tag).toMatch(/^<\/?(svg|title|defs|marker|path|rect|text|tspan|g|polygon)[\s>/]/);
    expect(out).not.toMatch(/<script|<style|on\w+=|javascript:/i);
    expect(out).toContain("&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62; &#38; &#39;q&#39;");
    // Every opened element is closed, in order.
    const stack: string[] = [];
    for (const tag of tags) {
      const name = /^<\/?([a-zA-Z]+)/.exec(tag)?.[1] as string;
      if (tag.startsWith("</")) expect(stack.pop()).toBe(name);
      else if (!tag.endsWith("/>")) stack.push(name);
    }
    expect(stack).toEqual([]);
    // Control characters, bidi overrides and a lone surrogate are replaced.
    expect(out).toContain("code \uFFFDbell \uFFFDevil \uFFFDlone");
    expect(out).not.toMatch(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u202e]/);
  });
});

describe("large graphs (laid out the faster way)", () => {
  it("draws 300 nodes in groups deterministically, every node and group once", async () => {
    const nodes: GraphModel["nodes"][number][] = [];
    const edges: GraphModel["edges"][number][] = [];
    for (let g = 0; g < 6; g++) {
      nodes.push({ id: `split-${g}`, label: `split-${g}`, shape: "task", status: "succeeded" });
      for (let i = 0; i < 49; i++) {
        nodes.push({ id: `item-${g}-${i}`, label: `item-${g}-${i}`, shape: "task", status: i % 7 === 0 ? "failed" : "succeeded", group: `items-${g}` });
        edges.push({ from: `split-${g}`, to: `item-${g}-${i}`, kind: "emitted" });
        if (g > 0) edges.push({ from: `item-${g - 1}-${i}`, to: `split-${g}`, kind: "on_complete" });
      }
    }
    const model: GraphModel = { nodes, edges, groups: Array.from({ length: 6 }, (_, g) => ({ id: `items-${g}`, label: `items ${g}`, kind: "fanout" as const })) };
    const svg = await renderSvg(model);
    expect(await renderSvg(structuredClone(model))).toBe(svg);
    expect(svg.match(/<g data-node=/g)).toHaveLength(300);
    expect(svg.match(/<g data-group=/g)).toHaveLength(6);
    expect(svg).not.toMatch(/NaN|Infinity/);
  });
});

describe("colours and legends", () => {
  it("lists in the legend only the statuses and edge kinds the graph uses", async () => {
    const model: GraphModel = {
      nodes: [
        { id: "a", label: "a", shape: "task", status: "failed" },
        { id: "b", label: "b", shape: "task", status: "succeeded" },
      ],
      edges: [{ from: "a", to: "b", kind: "on_failure" }],
    };
    const svg = await renderSvg(model);
    const legend = svg.slice(svg.indexOf('data-legend="true"'));
    expect(legend).toContain(">failed<");
    expect(legend).toContain(">succeeded<");
    expect(legend).toContain(">on failure edge<");
    expect(legend).not.toContain(">running<");
    expect(svg).toContain('data-status="failed"');
    expect(svg).toContain('fill="#ffcdd2" stroke="#c62828"');
    const mermaid = renderMermaid(model);
    expect(mermaid).toContain("class n0 status_failed");
    expect(mermaid).not.toContain("status_running");
    expect(renderDot(model)).toContain('legend0 [label="succeeded"');
  });

  it("shows a collapsed fan-out's counts in every format", async () => {
    for (const out of [renderDot(runModel), await renderSvg(runModel)]) expect(out).toContain("29 succeeded, 1 failed");
    expect(renderMermaid(runModel)).toContain("29 succeeded, 1 failed");
  });
});
