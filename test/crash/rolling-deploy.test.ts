/**
 * A rolling deploy with two versions live, in real processes: the worker with
 * only v2's code leaves v1's steps ready (and warns that they wait), the one
 * with only v1's code runs them, the steps v1's code lays out later included;
 * nothing fails on the way.
 */
import { describe, expect, it } from "vitest";
import { newPackage } from "../../src/index.js";
import { pollUntil, STORE_KINDS, useCrashRuntime } from "./harness.js";

const orders = (v: string) =>
  newPackage("orders")
    .version(v)
    .entrypoint((run, input) => void run.step("prepare", input, { kind: `orders/prepare@${v}` }))
    .build();

describe.each(STORE_KINDS)("on %s", (kind) => {
  // The test process starts runs of both versions (as producers of both deploys would) and runs no workers.
  const env = useCrashRuntime(kind, orders("1"), orders("2"));

  it("each version's worker process runs only its version's steps; the other version's wait, counted and warned about", async () => {
    const { rt, box } = env;
    const v1Runs = ["a", "b", "c"].map((x) => `v1-${x}`);
    const v2Runs = ["a", "b", "c"].map((x) => `v2-${x}`);
    for (const runId of v1Runs) await rt.startRun("orders", { runId }, { runId, version: "1" });
    for (const runId of v2Runs) await rt.startRun("orders", { runId }, { runId }); // the newest: 2

    const newer = box.spawn({ workerId: "new", packageVersion: "2", pollInterval: 50 });
    const warning = await newer.waitFor("warn", (m) => String(m.message).includes("orders/prepare@1"));
    expect((warning.fields as { missingKinds: Record<string, number> }).missingKinds).toEqual({ "orders/prepare@1": 3 });
    for (const runId of v2Runs) {
      await pollUntil(`${runId} to succeed`, async () => ((await rt.workflow(runId))?.status === "succeeded" ? true : undefined));
    }
    // v1's steps are still ready, never claimed (no attempt spent), while v2's worker is idle.
    for (const runId of v1Runs) {
      expect((await rt.steps(runId)).map((s) => [s.id, s.status, s.attempt])).toEqual([["prepare", "ready", 0]]);
    }

    const older = box.spawn({ workerId: "old", packageVersion: "1", pollInterval: 50 });
    for (const runId of v1Runs) {
      await pollUntil(`${runId} to succeed`, async () => ((await rt.workflow(runId))?.status === "succeeded" ? true : undefined));
    }
    for (const runId of v1Runs) {
      expect(await rt.workflow(runId)).toMatchObject({ packageVersion: "1" });
      expect((await rt.result(runId, "charge"))?.data).toEqual({ code: "1", workerId: "old", runVersion: "1" });
    }
    for (const runId of v2Runs) {
      expect(await rt.workflow(runId)).toMatchObject({ packageVersion: "2" });
      expect((await rt.result(runId, "charge"))?.data).toEqual({ code: "2", workerId: "new", runVersion: "2" });
    }
    // Every step ran once, in the process with its version's code.
    expect(box.starts().map((l) => `${l.workerId} ${l.runId}/${l.stepId}`).sort()).toEqual(
      [...v1Runs.flatMap((r) => [`old ${r}/charge`, `old ${r}/prepare`]), ...v2Runs.flatMap((r) => [`new ${r}/charge`, `new ${r}/prepare`])].sort(),
    );
    expect(await rt.listRuns({ package: "orders", packageVersion: "1", status: "running" })).toEqual([]);
    // Warned once (at most once a minute), not at each of the many claims that passed v1's steps by.
    expect(newer.messages.filter((m) => m.type === "warn")).toHaveLength(1);
    expect(older.messages.filter((m) => m.type === "warn")).toEqual([]);
    expect(await newer.stop()).toEqual({ code: 0, signal: null });
    expect(await older.stop()).toEqual({ code: 0, signal: null });
    expect([...newer.errors, ...older.errors]).toEqual([]);
  });
});
