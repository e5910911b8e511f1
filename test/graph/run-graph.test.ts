import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runGraphToModel, type Runtime } from "../../src/index.js";
import { seedOperatorRuns } from "../support/operator-runs.js";
import { stores } from "../support/stores.js";

describe.each(stores("graph"))("rt.graph on $name", ({ fresh }) => {
  let rt: Runtime;
  beforeAll(async () => {
    rt = await seedOperatorRuns(fresh());
  });
  afterAll(() => rt.close());

  it("gives each step its node and each dependency and emission its edge", async () => {
    const graph = await rt.graph("done");
    expect(graph.run).toMatchObject({ id: "done", status: "succeeded" });
    expect(graph.steps.map((s) => s.stepId)).toEqual(["fetch", "charge", "refund", "cleanup", "item-0", "item-1", "item-2", "join"]);
    expect(graph.fanOuts).toEqual([]);
    expect(graph.edges).toEqual(
      expect.arrayContaining([
        { from: "charge", to: "refund", kind: "on_failure" },
        { from: "charge", to: "cleanup", kind: "on_complete" },
        { from: "fetch", to: "item-0", kind: "emitted" },
        { from: "fetch", to: "join", kind: "emitted" },
        { from: "item-2", to: "join", kind: "on_complete" },
      ]),
    );
    expect(graph.edges).toHaveLength(2 + 4 + 3);
    const refund = graph.steps.find((s) => s.stepId === "refund");
    expect(refund).toMatchObject({ status: "skipped", kind: "shop/refund", queue: "default" });
    const charge = graph.steps.find((s) => s.stepId === "charge");
    expect(charge).toMatchObject({ status: "succeeded", queue: "payments", attempt: 1, maxAttempts: expect.any(Number) });
    expect(charge?.finishedAt?.getTime()).toBeGreaterThanOrEqual(charge?.startedAt?.getTime() ?? Infinity);
  });

  it("folds a 30-item fan-out into one node with counts by status, and edges to and from it once", async () => {
    const graph = await rt.graph("waiting");
    expect(graph.run.status).toBe("running");
    expect(graph.fanOuts).toEqual([{ id: "fetch/shop/item", kind: "shop/item", parent: "fetch", size: 30, counts: { succeeded: 29, failed: 1 }, collapsed: true }]);
    expect(graph.steps.some((s) => s.stepId.startsWith("item-"))).toBe(false);
    expect(graph.edges.filter((e) => e.from === "fetch/shop/item" || e.to === "fetch/shop/item")).toEqual([
      { from: "fetch", to: "fetch/shop/item", kind: "emitted" },
      { from: "fetch/shop/item", to: "join", kind: "on_complete" },
    ]);
    expect(graph.steps.find((s) => s.stepId === "join")?.status).toBe("succeeded");
    expect(graph.steps.find((s) => s.stepId === "charge")).toMatchObject({ status: "failed", lastErrorCode: "card_declined" });
    expect(graph.steps.find((s) => s.stepId === "approval")).toMatchObject({ status: "waiting", waitingFor: "signal:approve" });
    const child = graph.steps.find((s) => s.stepId === "child");
    expect(child?.childRunId).toBeDefined();
    expect((await rt.workflow(child?.childRunId as string))?.parentRunId).toBe("waiting");
  });

  it("expands a fan-out it is asked to, as a group of its own nodes", async () => {
    const graph = await rt.graph("waiting", { expand: ["fetch/shop/item"] });
    expect(graph.fanOuts[0]).toMatchObject({ id: "fetch/shop/item", collapsed: false, size: 30 });
    const items = graph.steps.filter((s) => s.fanOut === "fetch/shop/item");
    expect(items).toHaveLength(30);
    expect(items[7]).toMatchObject({ stepId: "item-7", status: "failed", lastErrorCode: "item_broken" });
    expect(graph.edges.filter((e) => e.to === "join" && e.kind === "on_complete")).toHaveLength(30);
    const model = runGraphToModel(graph);
    expect(model.groups).toEqual([{ id: "fetch/shop/item", label: "shop/item ×30", kind: "fanout" }]);
    expect(model.nodes.filter((n) => n.group === "fetch/shop/item")).toHaveLength(30);
  });

  it("turns into a model whose collapsed node shows the failure among the successes", async () => {
    const model = runGraphToModel(await rt.graph("waiting"));
    expect(model.title).toBe("shop · waiting · running");
    const fanOut = model.nodes.find((n) => n.id === "fetch/shop/item");
    expect(fanOut).toMatchObject({ shape: "collapsed", status: "failed", counts: { succeeded: 29, failed: 1 }, label: "shop/item ×30" });
    expect(model.nodes.find((n) => n.id === "approval")).toMatchObject({ shape: "signal", status: "waiting" });
    expect(model.nodes.find((n) => n.id === "child")).toMatchObject({ shape: "subworkflow", status: "succeeded" });
    expect(model.nodes.find((n) => n.id === "charge")?.detail).toContain("error card_declined");
    // Every edge joins two nodes of the model.
    const ids = new Set(model.nodes.map((n) => n.id));
    for (const edge of model.edges) expect(ids.has(edge.from) && ids.has(edge.to), `${edge.from} -> ${edge.to}`).toBe(true);
    expect(ids.size).toBe(model.nodes.length);
  });

  it("collapses at the size it is given, and refuses bad options and unknown runs", async () => {
    const graph = await rt.graph("done", { collapseAbove: 2 });
    expect(graph.fanOuts).toEqual([expect.objectContaining({ id: "fetch/shop/item", size: 3, counts: { succeeded: 3 } })]);
    await expect(rt.graph("nope")).rejects.toMatchObject({ code: "not_found" });
    await expect(rt.graph("done", { collapseAbove: 0 })).rejects.toMatchObject({ code: "invalid_input" });
    await expect(rt.graph("done", { bogus: 1 } as never)).rejects.toMatchObject({ code: "invalid_input" });
  });
});
