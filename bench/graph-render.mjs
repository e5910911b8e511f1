// Renders graphs of 1,000 nodes with each renderer and prints how long each took.
// `npm run bench:graph` (builds first). A measurement, not a test: no threshold.
//
// fan-outs: 20 fan-outs of 48 steps in a chain, each between a split and a join
//   (what a large run graph with its fan-outs expanded looks like);
// layers: 10 groups of 100 steps, each step depending on two steps of the layer
//   above, one of them far across (a stress case for the layout's crossing reduction).
import { renderDot, renderMermaid, renderSvg } from "../dist/index.js";

const STATUSES = ["pending", "ready", "running", "waiting", "succeeded", "failed", "canceled", "skipped"];
const status = (i) => STATUSES[i % STATUSES.length];

function fanOuts() {
  const nodes = [];
  const edges = [];
  const groups = [];
  let previous;
  for (let f = 0; f < 20; f++) {
    const split = `split-${f}`;
    const join = `join-${f}`;
    nodes.push({ id: split, label: split, shape: "task", status: "succeeded", detail: ["bench/split", "attempt 1/3"] });
    if (previous) edges.push({ from: previous, to: split, kind: "required" });
    groups.push({ id: `items-${f}`, label: `bench/item ×48`, kind: "fanout" });
    for (let i = 0; i < 48; i++) {
      const id = `item-${f}-${i}`;
      nodes.push({ id, label: id, shape: "task", status: status(f * 48 + i), detail: ["bench/item", "attempt 1/3"], group: `items-${f}` });
      edges.push({ from: split, to: id, kind: "emitted" }, { from: id, to: join, kind: "on_complete" });
    }
    nodes.push({ id: join, label: join, shape: "task", status: "pending", detail: ["bench/join"] });
    edges.push({ from: split, to: join, kind: "emitted" });
    previous = join;
  }
  return { title: "bench: 20 fan-outs of 48", nodes, edges, groups };
}

function layers() {
  const nodes = [];
  const edges = [];
  const groups = [];
  for (let layer = 0; layer < 10; layer++) {
    groups.push({ id: `layer-${layer}`, label: `layer ${layer}`, kind: "fanout" });
    for (let i = 0; i < 100; i++) {
      const id = `s-${layer}-${i}`;
      nodes.push({ id, label: id, shape: "task", status: status(layer * 100 + i), detail: ["bench/step", "attempt 1/3"], group: `layer-${layer}` });
      if (layer > 0) {
        edges.push({ from: `s-${layer - 1}-${i}`, to: id, kind: "required" });
        edges.push({ from: `s-${layer - 1}-${(i * 7 + 3) % 100}`, to: id, kind: i % 5 === 0 ? "on_failure" : "on_complete" });
      }
    }
  }
  return { title: "bench: 10 layers of 100", nodes, edges, groups };
}

// Wall time, and this process's CPU time beside it: on a shared machine the wall time
// includes waiting for a core, the CPU time does not.
async function time(name, fn, repeat) {
  let best = Infinity;
  let bestCpu = Infinity;
  let bytes = 0;
  for (let i = 0; i < repeat; i++) {
    const started = performance.now();
    const cpu = process.cpuUsage();
    bytes = (await fn()).length;
    const used = process.cpuUsage(cpu);
    best = Math.min(best, performance.now() - started);
    bestCpu = Math.min(bestCpu, (used.user + used.system) / 1000);
  }
  console.log(`  ${name.padEnd(36)} ${best.toFixed(1).padStart(8)} ms wall ${bestCpu.toFixed(1).padStart(8)} ms cpu  (${(bytes / 1024).toFixed(0)} KiB, best of ${repeat})`);
}

console.log(`load average ${(await import("node:os")).loadavg().map((l) => l.toFixed(1)).join(" ")} on ${(await import("node:os")).availableParallelism()} cores`);
await time("loading dagre (first renderSvg)", () => renderSvg({ nodes: [{ id: "a", label: "a", shape: "task" }], edges: [] }), 1);
for (const model of [fanOuts(), layers()]) {
  console.log(`${model.title}: ${model.nodes.length} nodes, ${model.edges.length} edges, ${model.groups.length} groups`);
  await time("renderMermaid", () => renderMermaid(model), 5);
  await time("renderDot", () => renderDot(model), 5);
  await time("renderSvg", () => renderSvg(model), 3);
}
