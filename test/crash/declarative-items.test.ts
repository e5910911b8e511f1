/**
 * A declarative `with_items` fan-out under fire, on both stores: a worker is
 * SIGKILLed in the middle of 1,000 items and the others finish the run, with
 * every item's success committed exactly once and the results in order; and
 * `concurrency` holds across worker processes (a gauge counts the executors
 * inside at once, in every process).
 */
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parseWorkflow } from "../../src/declarative/index.js";
import { Gauge, pollUntil, STORE_KINDS, useCrashRuntime } from "./harness.js";

const ITEMS = 1_000;
const fanout = `
ref: crash.items
version: "1"
parameters:
  values: { type: array, items: { type: integer } }
tasks:
  - name: each
    action: crash/unit
    with_items: "{{ parameters.values }}"
    concurrency: 16
    input: { value: "{{ item }}" }
output_map:
  total: "{{ task.each.result | length }}"
  first: "{{ task.each.result | first }}"
`;
const gauged = `
ref: crash.gauged
version: "1"
tasks:
  - name: each
    action: crash/gauged
    with_items: "{{ [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24] }}"
    concurrency: 3
    input: { holdMs: 5, rendezvous: 3 }
`;

describe.each(STORE_KINDS)("declarative with_items on %s", (kind) => {
  const env = useCrashRuntime(kind, parseWorkflow(fanout), parseWorkflow(gauged));
  const write = (name: string, text: string) => {
    const file = path.join(env.box.dir, name);
    fs.writeFileSync(file, text);
    return file;
  };

  it("a worker killed in the middle of 1,000 items: the others finish, each item committed once, results in order", async () => {
    const file = write("fanout.yaml", fanout);
    const values = Array.from({ length: ITEMS }, (_, i) => i);
    const { id } = await env.rt.startRun("crash.items", { values });
    const config = { leaseDuration: 1_000, pollInterval: 50, maxWorkers: 8, declarative: [file] };
    const victim = env.box.spawn({ ...config, workerId: "victim", hangAtStart: 300 });
    await victim.waitFor("hanging");
    await victim.kill();
    const survivors = [env.box.spawn({ ...config, workerId: "a" }), env.box.spawn({ ...config, workerId: "b" })];
    await pollUntil("the run to finish", async () => {
      const run = await env.rt.workflow(id);
      return run && ["succeeded", "failed", "canceled"].includes(run.status) ? run : undefined;
    }, 120_000);
    for (const w of survivors) await w.kill();

    expect((await env.rt.workflow(id))?.status).toBe("succeeded");
    expect(await env.rt.output(id)).toEqual({ total: ITEMS, first: expect.objectContaining({ value: 0 }) });
    const items = (await env.rt.steps(id)).filter((s) => s.id.startsWith("each["));
    expect(items).toHaveLength(ITEMS);
    expect(items.every((s) => s.status === "succeeded")).toBe(true);
    // One committed result per item, with its own value: nothing lost, nothing doubled.
    const route = await env.rt.result(id, "each.route");
    const results = (route?.data as { result: { value: number }[] }).result;
    expect(results.map((r) => r.value)).toEqual(values);
    // Only what the victim had started and not committed ran twice.
    const starts = env.box.starts().filter((s) => s.runId === id);
    const byStep = new Map<string, number>();
    for (const s of starts) byStep.set(s.stepId, (byStep.get(s.stepId) ?? 0) + 1);
    const again = [...byStep.values()].filter((n) => n > 1).length;
    expect(byStep.size).toBe(ITEMS);
    expect(again).toBeGreaterThanOrEqual(1);
    expect(again).toBeLessThanOrEqual(4 * 8 + 8);
  });

  it("concurrency: 3 holds across three worker processes", async () => {
    const gauge = new Gauge(env.box.dir);
    const file = write("gauged.yaml", gauged);
    const { id } = await env.rt.startRun("crash.gauged", {});
    const config = { leaseDuration: 10_000, pollInterval: 50, maxWorkers: 4, gauge: gauge.file, declarative: [file] };
    const workers = ["p1", "p2", "p3"].map((workerId) => env.box.spawn({ ...config, workerId }));
    await pollUntil("the run to succeed", async () => ((await env.rt.workflow(id))?.status === "succeeded" ? true : undefined), 60_000);
    for (const w of workers) await w.kill();
    const { current, peak } = gauge.read();
    expect(current).toBe(0);
    expect(peak).toBe(3);
  });
});
