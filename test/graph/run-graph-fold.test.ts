import { describe, expect, it } from "vitest";
import { buildRunGraph } from "../../src/graph/run-graph.js";
import { renderMermaid, runGraphToModel, type StepInfo, type StepStatus, type WorkflowRun } from "../../src/index.js";

const at = new Date(0);
const run: WorkflowRun = { id: "r", package: "p", name: "p", status: "running", input: null, metadata: {}, createdAt: at, updatedAt: at };

function step(id: string, kind: string, extra: Partial<StepInfo> = {}): StepInfo {
  return { runId: "r", id, kind, queue: "default", status: "succeeded", attempt: 1, maxAttempts: 3, reclaims: 0, priority: 0, dependsOn: [], metadata: {}, createdAt: at, updatedAt: at, ...extra };
}

describe("folding fan-outs", () => {
  it("keeps a 10,000-child fan-out whose children each emit a grandchild at four nodes", () => {
    const steps: StepInfo[] = [step("root", "split")];
    for (let i = 0; i < 10_000; i++) {
      const status: StepStatus = i % 1000 === 0 ? "failed" : i % 3 === 0 ? "running" : "succeeded";
      steps.push(step(`c${i}`, "work", { parentId: "root", status }));
    }
    for (let i = 0; i < 10_000; i++) steps.push(step(`g${i}`, "report", { parentId: `c${i}`, dependsOn: [{ stepId: `c${i}`, required: true, on: "succeeded" }] }));
    steps.push(step("join", "join", { parentId: "root", dependsOn: steps.slice(1, 10_001).map((s) => ({ stepId: s.id, required: false, on: "completed" as const })) }));

    const graph = buildRunGraph(run, steps);
    expect(graph.steps.map((s) => s.stepId)).toEqual(["root", "join"]);
    expect(graph.fanOuts).toEqual([
      { id: "root/work", kind: "work", parent: "root", size: 10_000, counts: { failed: 10, running: 3330, succeeded: 6660 }, collapsed: true },
      { id: "root/work/report", kind: "report", parent: "root/work", size: 10_000, counts: { succeeded: 10_000 }, collapsed: true },
    ]);
    expect(graph.edges).toEqual([
      { from: "root", to: "root/work", kind: "emitted" },
      { from: "root/work", to: "root/work/report", kind: "emitted" },
      { from: "root/work", to: "root/work/report", kind: "required" },
      { from: "root", to: "join", kind: "emitted" },
      { from: "root/work", to: "join", kind: "on_complete" },
    ]);
    const model = runGraphToModel(graph);
    expect(model.nodes.map((n) => n.id)).toEqual(["root", "root/work", "join", "root/work/report"]);
    expect(renderMermaid(model)).toContain("10 failed");
  });

  it("keeps fan-out ids apart from step ids, and places steps whose parents form a cycle", () => {
    const steps = [step("a", "k"), ...Array.from({ length: 3 }, (_, i) => step(`x${i}`, "kid", { parentId: "a" })), step("a/kid", "other"), step("p", "k", { parentId: "q" }), step("q", "k", { parentId: "p" })];
    const graph = buildRunGraph(run, steps, { collapseAbove: 2 });
    expect(graph.fanOuts.map((f) => f.id)).toEqual(["a/kid#2"]);
    expect(graph.steps.map((s) => s.stepId)).toEqual(["a", "a/kid", "p", "q"]);
  });
});
