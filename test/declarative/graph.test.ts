/**
 * A definition's GraphModel: a node per task with its shape, an edge per
 * transition with its kind, groups for parallel blocks and iterations; the same
 * file gives the same model, byte for byte once serialized.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { definitionGraph, parseWorkflow } from "../../src/declarative/index.js";

const deploy = readFileSync(path.join(import.meta.dirname, "../../examples/declarative/workflows/deploy_application.yaml"), "utf8");
const features = `
ref: g.features
version: "1"
tasks:
  - name: checks
    type: parallel
    tasks:
      - name: db
        action: t.echo
      - name: inner
        type: parallel
        tasks:
          - name: cache
            action: core.noop
    on_success: approve
    on_timeout: give_up
  - name: approve
    action: core.inquiry
    timeout: 60
    decision:
      - when: "{{ task.approve.result.ok }}"
        next: regions
      - default: give_up
  - name: regions
    action: t.deploy
    with_items: "{{ [1, 2] }}"
    batch_size: 1
    concurrency: 2
    on_complete: child
  - name: child
    action: g.other
  - name: give_up
    action: core.sleep
    input: { seconds: 1 }
`;

describe("definitionGraph", () => {
  it("draws the seed's deploy_application: every task, every transition with its kind", () => {
    const graph = definitionGraph(parseWorkflow(deploy).workflow);
    expect(graph.title).toBe("my_pack.deploy_application@1.0.0");
    expect(graph.nodes.map((n) => n.id)).toEqual([
      "create_deployment", "build_image", "deploy_containers", "wait_for_ready", "health_check",
      "update_deployment_status", "rollback_deployment", "cleanup_deployment", "notify_success", "notify_failure",
    ]);
    expect(graph.edges.filter((e) => e.from === "health_check")).toEqual([
      { from: "health_check", to: "update_deployment_status", kind: "success" },
      { from: "health_check", to: "rollback_deployment", kind: "failure" },
    ]);
    expect(graph.edges.find((e) => e.from === "rollback_deployment")).toEqual({ from: "rollback_deployment", to: "cleanup_deployment", kind: "complete" });
    expect(graph.nodes.find((n) => n.id === "wait_for_ready")?.detail).toEqual(["kubernetes.wait_for_ready", "retry 3"]);
  });

  it("parallel blocks (nested), inquiries, decisions, iterations, timers, timeouts and subworkflows", () => {
    const graph = definitionGraph(parseWorkflow(features).workflow, (ref) => ref === "g.other");
    const node = (id: string) => graph.nodes.find((n) => n.id === id);
    expect(graph.groups).toEqual([
      { id: "checks", label: "checks", kind: "parallel" },
      { id: "inner", label: "inner", kind: "parallel", parent: "checks" },
      { id: "regions[]", label: "regions (each item)", kind: "iteration" },
    ]);
    expect(node("cache")?.group).toBe("inner");
    expect(node("approve")?.shape).toBe("inquiry");
    expect(node("give_up")?.shape).toBe("timer");
    expect(node("child")?.shape).toBe("subworkflow");
    expect(node("regions")).toMatchObject({ group: "regions[]", detail: ["t.deploy", "with_items (batch 1, concurrency 2)"] });
    expect(graph.edges).toContainEqual({ from: "checks", to: "give_up", kind: "timeout" });
    expect(graph.edges).toContainEqual({ from: "approve", to: "regions", kind: "decision", label: "task.approve.result.ok" });
    expect(graph.edges).toContainEqual({ from: "approve", to: "give_up", kind: "decision", label: "default" });
  });

  it("is deterministic: the same file gives byte-identical models", () => {
    const a = JSON.stringify(definitionGraph(parseWorkflow(features).workflow));
    const b = JSON.stringify(definitionGraph(parseWorkflow(features).workflow));
    expect(a).toBe(b);
  });
});
