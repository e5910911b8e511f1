/**
 * A declarative `with_items` fan-out under fire, on both stores, with real
 * worker processes: a worker is SIGKILLed in the middle of 1,000 items and the
 * others finish the run, with every item's success committed exactly once (by
 * the last execution of it) and the results in order; and `concurrency` holds
 * across three worker processes over 1,000 items, one step per item and one per
 * batch (a gauge counts the executors inside at once, in every process).
 */
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parseWorkflow } from "../../src/declarative/index.js";
import type { Runtime } from "../../src/index.js";
import { Gauge, pollUntil, type StartLine, STORE_KINDS, useCrashRuntime } from "./harness.js";

const ITEMS = 1_000;
const VALUES = Array.from({ length: ITEMS }, (_, i) => i);
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
const CONCURRENCY = 8;
const BATCH = 10;
const gauged = (ref: string, batch: string) => `
ref: ${ref}
version: "1"
parameters:
  values: { type: array, items: { type: integer } }
tasks:
  - name: each
    action: crash/gauged
    with_items: "{{ parameters.values }}"${batch}
    concurrency: ${CONCURRENCY}
    input: { holdMs: 1, rendezvous: ${CONCURRENCY}, value: "{{ item }}" }
`;
const perItem = gauged("crash.gauged", "");
const perBatch = gauged("crash.gauged_batches", `\n    batch_size: ${BATCH}`);

/** The run's end, whatever it is. */
const finished = (rt: Runtime, id: string) => async () => {
  const run = await rt.workflow(id);
  return run && ["succeeded", "failed", "canceled"].includes(run.status) ? run : undefined;
};

/** Executor starts of one run, by step id, first execution first. */
function startsByStep(starts: StartLine[], runId: string): Map<string, StartLine[]> {
  const by = new Map<string, StartLine[]>();
  for (const s of starts) if (s.runId === runId) by.set(s.stepId, [...(by.get(s.stepId) ?? []), s]);
  for (const list of by.values()) list.sort((a, b) => a.reclaims - b.reclaims || a.at - b.at);
  return by;
}

describe.each(STORE_KINDS)("declarative with_items on %s", (kind) => {
  const env = useCrashRuntime(kind, parseWorkflow(fanout), parseWorkflow(perItem), parseWorkflow(perBatch));
  const write = (name: string, text: string) => {
    const file = path.join(env.box.dir, name);
    fs.writeFileSync(file, text);
    return file;
  };

  it("a worker killed in the middle of 1,000 items: the others finish, each item committed once, results in order", async () => {
    const file = write("fanout.yaml", fanout);
    const { id } = await env.rt.startRun("crash.items", { values: VALUES });
    const config = { leaseDuration: 1_000, pollInterval: 50, maxWorkers: 8, declarative: [file] };
    const victim = env.box.spawn({ ...config, workerId: "victim", hangAtStart: 300 });
    const hanging = await victim.waitFor("hanging");
    expect(await victim.kill()).toEqual({ code: null, signal: "SIGKILL" });
    const survivors = [env.box.spawn({ ...config, workerId: "a" }), env.box.spawn({ ...config, workerId: "b" })];
    await pollUntil("the run to finish", finished(env.rt, id), 120_000);
    for (const w of survivors) await w.kill();
    for (const w of survivors) expect(w.errors).toEqual([]);

    expect((await env.rt.workflow(id))?.status).toBe("succeeded");
    expect(await env.rt.output(id)).toEqual({ total: ITEMS, first: expect.objectContaining({ value: 0 }) });
    const items = (await env.rt.steps(id)).filter((s) => s.id.startsWith("each["));
    expect(items).toHaveLength(ITEMS);
    expect(items.every((s) => s.status === "succeeded")).toBe(true);
    // One committed result per item, with its own value: nothing lost, nothing doubled.
    const route = await env.rt.result(id, "each.route");
    const results = (route?.data as { result: { value: number }[] }).result;
    expect(results.map((r) => r.value)).toEqual(VALUES);

    // Each item's success was committed exactly once, by its last execution: the
    // result and the single record name the process of the last start, and the run
    // records one step_succeeded per item and one end.
    const byStep = startsByStep(env.box.starts(), id);
    expect([...byStep.keys()].sort()).toEqual(items.map((s) => s.id).sort());
    for (const step of items) {
      const key = `${id}/${step.id}`;
      const starts = byStep.get(step.id) as StartLine[];
      const committed = starts.at(-1) as StartLine;
      const result = await env.rt.result(id, step.id);
      expect(committed.reclaims, key).toBe(step.reclaims);
      expect(result?.data, key).toMatchObject({ workerId: committed.workerId, pid: committed.pid });
      expect(result?.records, key).toEqual([{ collection: "effects", key, data: { pid: committed.pid } }]);
      // Run twice only when the victim had it and died: reclaimed once, committed by a survivor.
      if (starts.length > 1) expect([starts.length, starts[0]?.workerId, step.reclaims, committed.workerId === "victim"], key).toEqual([2, "victim", 1, false]);
    }
    const events = await env.rt.events(id);
    const succeeded = new Map<string, number>();
    for (const e of events) if (e.type === "step_succeeded" && e.stepId?.startsWith("each[")) succeeded.set(e.stepId, (succeeded.get(e.stepId) ?? 0) + 1);
    expect(succeeded.size).toBe(ITEMS);
    expect([...succeeded.values()].every((n) => n === 1)).toBe(true);
    expect(events.filter((e) => e.type === "run_succeeded")).toHaveLength(1);
    // The item the victim hung in ran again elsewhere; at most what it held (running or buffered) ran twice.
    expect(byStep.get(hanging.stepId as string)?.map((s) => s.workerId)).toEqual(["victim", expect.not.stringMatching(/^victim$/)]);
    const again = [...byStep.values()].filter((s) => s.length > 1).length;
    expect(again).toBeGreaterThanOrEqual(1);
    expect(again).toBeLessThanOrEqual(4 * 8 + 8);
  });

  it.each([
    { shape: "one step per item", ref: "crash.gauged", file: perItem, steps: ITEMS },
    { shape: `batches of ${BATCH}`, ref: "crash.gauged_batches", file: perBatch, steps: ITEMS / BATCH },
  ])(`concurrency: ${CONCURRENCY} holds across worker processes over ${ITEMS} items, $shape`, async ({ ref, file, steps }) => {
    const gauge = new Gauge(env.box.dir);
    const marker = path.join(env.box.dir, "release");
    const definition = write("gauged.yaml", file);
    const { id } = await env.rt.startRun(ref, { values: VALUES });
    // A long lease: nothing is reclaimed from a live worker, so each step runs once.
    // Enough workers in one process for the first CONCURRENCY items to be inside at
    // once (they wait for that): the bound is reached, not merely respected.
    const config = { leaseDuration: 10_000, pollInterval: 10, maxWorkers: CONCURRENCY + 4, gauge: gauge.file, marker, declarative: [definition] };
    // p1 alone first. At its item number steps / 4 (which stays inside, paused) p1 is
    // asked to stop: it takes nothing new, finishes what it holds, and waits for the
    // paused item. p2 and p3 start and take over the rest while that item is still
    // inside: items of two processes are inside at once, and the bound holds across them.
    const p1 = env.box.spawn({ ...config, workerId: "p1", pauseGaugedAt: steps / 4, shutdownGrace: 120_000 });
    await p1.waitFor("paused");
    const stopped = p1.stop();
    const others = ["p2", "p3"].map((workerId) => env.box.spawn({ ...config, workerId }));
    await pollUntil("items of two processes inside at once", async () => (gauge.read().peakProcesses >= 2 ? true : undefined), 60_000);
    fs.writeFileSync(marker, "");
    expect(await stopped).toEqual({ code: 0, signal: null });
    await pollUntil("the run to finish", finished(env.rt, id), 120_000);
    for (const w of others) expect(await w.stop()).toEqual({ code: 0, signal: null });
    for (const w of [p1, ...others]) expect(w.errors).toEqual([]);
    expect((await env.rt.workflow(id))?.status).toBe("succeeded");

    const { current, peak, peakProcesses } = gauge.read();
    expect(current).toBe(0);
    // Never more than `concurrency` inside at once, in all processes together; and it was reached.
    expect(peak).toBe(CONCURRENCY);
    expect(peakProcesses).toBeGreaterThanOrEqual(2);
    const byStep = startsByStep(env.box.starts(), id);
    expect(byStep.size).toBe(steps);
    expect([...byStep.values()].every((s) => s.length === 1)).toBe(true);
    const workers = new Set([...byStep.values()].map((s) => s[0]?.workerId));
    expect(workers.has("p1") && (workers.has("p2") || workers.has("p3"))).toBe(true);
    const route = await env.rt.result(id, "each.route");
    const results = (route?.data as { result: { value: number | number[] }[] }).result;
    expect(results).toHaveLength(steps);
    expect(results.flatMap((r) => r.value)).toEqual(VALUES);
  });
});
