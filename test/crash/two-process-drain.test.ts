/**
 * Two worker processes drain one SQLite file: 300 runs of 10 steps (a fan-out /
 * fan-in graph each), started by the test process while both workers run. Every
 * step must be executed exactly once, by one of the two processes.
 */
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { newPackage, requireSteps } from "../../src/index.js";
import { pollUntil, useCrashRuntime } from "./harness.js";

const RUNS = 300;
const FAN_OUT = 8; // s0 → s1..s8 → s9: 10 steps a run
const STEP_IDS = ["s0", ...Array.from({ length: FAN_OUT }, (_, i) => `s${i + 1}`), `s${FAN_OUT + 1}`];

const env = useCrashRuntime(
  newPackage("crash-drain")
    .entrypoint(async (run, input) => {
      const { n } = input as { n: number };
      const root = run.step("s0", { value: n }, { kind: "crash/unit" });
      const fan = Array.from({ length: FAN_OUT }, (_, i) =>
        run.step(`s${i + 1}`, { value: i + 1, sumOf: ["s0"] }, { kind: "crash/unit", dependsOn: requireSteps(root) }),
      );
      run.step(`s${FAN_OUT + 1}`, { value: 0, sumOf: fan.map((h) => h.id) }, { kind: "crash/unit", dependsOn: requireSteps(...fan) });
    })
    .build(),
);

describe("two worker processes on one SQLite file", () => {
  it(`execute each of ${RUNS * STEP_IDS.length} steps exactly once`, async () => {
    // A long lease: nothing is reclaimed from a live worker, so "at least once"
    // must be "exactly once" here.
    const config = { leaseDuration: 10_000, pollInterval: 20, maxWorkers: 8 };
    const start = async (from: number, to: number) => {
      for (let n = from; n < to; n++) runIds.push((await env.rt.startRun("crash-drain", { n }, { runId: `drain-${n}` })).id);
    };
    const runIds: string[] = [];
    // A backlog before the workers exist, the rest while they drain it.
    await start(0, RUNS / 3);
    const workers = [env.box.spawn({ workerId: "drain-1", ...config }), env.box.spawn({ workerId: "drain-2", ...config })];
    await Promise.all(workers.map((w) => w.waitFor("ready")));
    await start(RUNS / 3, RUNS);

    await pollUntil(
      "every run to finish",
      async () => ((await env.rt.listRuns({ status: "running", limit: 1 })).length === 0 ? true : undefined),
      45_000,
      100,
    );
    for (const w of workers) expect(await w.stop()).toEqual({ code: 0, signal: null });
    for (const w of workers) expect(w.errors).toEqual([]);

    // The union of the per-process execution logs has every step exactly once.
    const executions = new Map<string, number[]>(); // "runId/stepId" -> pids
    const byPid = new Map<number, number>();
    for (const w of workers) {
      const file = path.join(env.box.logDir, `exec-${w.config.workerId}.log`);
      const lines = fs.existsSync(file) ? fs.readFileSync(file, "utf8").split("\n").filter(Boolean) : [];
      for (const line of lines) {
        const [runId, stepId, pid] = line.split(" ");
        expect(Number(pid)).toBe(w.pid);
        const key = `${runId}/${stepId}`;
        executions.set(key, [...(executions.get(key) ?? []), w.pid]);
        byPid.set(w.pid, (byPid.get(w.pid) ?? 0) + 1);
      }
    }
    const expected = runIds.flatMap((r) => STEP_IDS.map((s) => `${r}/${s}`)).sort();
    expect([...executions.keys()].sort()).toEqual(expected);
    const repeated = [...executions].filter(([, pids]) => pids.length !== 1);
    expect(repeated).toEqual([]);
    // Both processes did work.
    for (const w of workers) expect(byPid.get(w.pid) ?? 0).toBeGreaterThan(0);

    // And the store agrees: every run succeeded, every step once, no reclaims,
    // and the fan-in saw its dependencies' data.
    const runs = await env.rt.listRuns({ package: "crash-drain", limit: 10_000 });
    expect(runs).toHaveLength(RUNS);
    expect(runs.filter((r) => r.status !== "succeeded")).toEqual([]);
    for (let n = 0; n < RUNS; n++) {
      const steps = await env.rt.steps(`drain-${n}`);
      expect(steps.map((s) => [s.id, s.status, s.attempt, s.reclaims])).toEqual(STEP_IDS.map((id) => [id, "succeeded", 1, 0]));
      const fanIn = await env.rt.result(`drain-${n}`, `s${FAN_OUT + 1}`);
      expect((fanIn?.data as { value: number }).value).toBe((FAN_OUT * (FAN_OUT + 1)) / 2 + FAN_OUT * n);
    }
  });
});
