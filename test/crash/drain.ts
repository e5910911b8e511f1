/**
 * The drain scenarios' workload and checks, shared by the two- and
 * three-process drain tests: runs of "crash/unit" steps, a fan-out / fan-in
 * graph each (s0 → s1..sN → s(N+1)), the fan-in optionally emitting a child.
 */
import { expect } from "vitest";
import { newPackage, requireSteps, type Runtime, type StepInfo, type StepResult } from "../../src/index.js";
import type { StartLine } from "./harness.js";

export const DRAIN_PACKAGE = "crash-drain";

export interface DrainShape {
  fanOut: number;
  /** The fan-in step emits "<fan-in>-audit" (one more step a run, made by a completion). */
  emitAudit: boolean;
  /**
   * Each step works this long (ms). Steps this long keep every worker's local buffer
   * short (2 x maxWorkers instead of 16 x), so that no process hoards the backlog
   * while another waits for a CPU: the drain is shared however loaded the machine is.
   */
  holdMs?: number;
}

export function drainPackage({ fanOut, emitAudit, holdMs }: DrainShape) {
  const hold = holdMs === undefined ? {} : { holdMs };
  return newPackage(DRAIN_PACKAGE)
    .entrypoint(async (run, input) => {
      const { n } = input as { n: number };
      const root = run.step("s0", { value: n, ...hold }, { kind: "crash/unit" });
      const fan = Array.from({ length: fanOut }, (_, i) =>
        run.step(`s${i + 1}`, { value: i + 1, sumOf: ["s0"], ...hold }, { kind: "crash/unit", dependsOn: requireSteps(root) }),
      );
      run.step(`s${fanOut + 1}`, { value: 0, sumOf: fan.map((h) => h.id), emit: emitAudit, ...hold }, { kind: "crash/unit", dependsOn: requireSteps(...fan) });
    })
    .build();
}

/** The step ids of one run, in the order `rt.steps` lists them (creation order). */
export function drainStepIds({ fanOut, emitAudit }: DrainShape): string[] {
  const fanIn = `s${fanOut + 1}`;
  return ["s0", ...Array.from({ length: fanOut }, (_, i) => `s${i + 1}`), fanIn, ...(emitAudit ? [`${fanIn}-audit`] : [])];
}

/** What run n's fan-in adds up: each fan step is its index plus s0's value n. */
export function fanInValue({ fanOut }: DrainShape, n: number): number {
  return (fanOut * (fanOut + 1)) / 2 + fanOut * n;
}

/** Starts `drain-<from>` .. `drain-<to - 1>`, one call (one transaction) per run. */
export async function startDrainRuns(rt: Runtime, from: number, to: number): Promise<void> {
  for (let n = from; n < to; n++) await rt.startRun(DRAIN_PACKAGE, { n }, { runId: `drain-${n}` });
}

/** Starts them all in one transaction: a backlog. */
export async function startDrainBacklog(rt: Runtime, from: number, to: number): Promise<void> {
  await rt.startRuns(
    DRAIN_PACKAGE,
    Array.from({ length: to - from }, (_, i) => ({ input: { n: from + i }, runId: `drain-${from + i}` })),
  );
}

export const noRunRunning = (rt: Runtime) => async () => ((await rt.listRuns({ status: "running", limit: 1 })).length === 0 ? true : undefined);

/** One step as committed, with the executor starts logged for it. */
export interface DrainedStep {
  key: string;
  info: StepInfo;
  result: StepResult | undefined;
  /** Oldest first (by the reclaim count the executor saw, then time). */
  starts: StartLine[];
}

/**
 * Checks what every drain must end with, kill or no kill: every run succeeded
 * with exactly the expected steps, each succeeded on its first attempt; every
 * step's executor started at least once, its last start is the one committed
 * (the result and the one record name its process, and it saw the reclaim count
 * the store holds), and the fan-in saw its dependencies' data. Returns the steps
 * for the scenario's own checks.
 */
export async function checkDrained(rt: Runtime, shape: DrainShape, runs: number, starts: StartLine[]): Promise<DrainedStep[]> {
  const stepIds = drainStepIds(shape);
  const byKey = new Map<string, StartLine[]>();
  for (const s of starts) {
    const key = `${s.runId}/${s.stepId}`;
    byKey.set(key, [...(byKey.get(key) ?? []), s]);
  }
  const expectedKeys = Array.from({ length: runs }, (_, n) => stepIds.map((id) => `drain-${n}/${id}`)).flat();
  // No executor ran anything that is not one of these steps.
  expect([...byKey.keys()].sort()).toEqual([...expectedKeys].sort());

  const listed = await rt.listRuns({ package: DRAIN_PACKAGE, limit: 10_000 });
  expect(listed).toHaveLength(runs);
  expect(listed.filter((r) => r.status !== "succeeded")).toEqual([]);

  const drained: DrainedStep[] = [];
  for (let n = 0; n < runs; n++) {
    const runId = `drain-${n}`;
    const steps = await rt.steps(runId);
    expect(steps.map((s) => [s.id, s.status, s.attempt])).toEqual(stepIds.map((id) => [id, "succeeded", 1]));
    for (const info of steps) {
      const key = `${runId}/${info.id}`;
      const result = await rt.result(runId, info.id);
      const stepStarts = (byKey.get(key) ?? []).sort((a, b) => a.reclaims - b.reclaims || a.at - b.at);
      const committed = stepStarts.at(-1);
      expect(committed?.reclaims, key).toBe(info.reclaims);
      expect(result?.data, key).toMatchObject({ pid: committed?.pid, workerId: committed?.workerId });
      expect(result?.records, key).toEqual([{ collection: "effects", key, data: { pid: committed?.pid } }]);
      drained.push({ key, info, result, starts: stepStarts });
    }
    const fanIn = await rt.result(runId, `s${shape.fanOut + 1}`);
    expect((fanIn?.data as { value: number }).value).toBe(fanInValue(shape, n));
    expect(fanIn?.emittedIds ?? []).toEqual(shape.emitAudit ? [`s${shape.fanOut + 1}-audit`] : []);
  }
  return drained;
}

/** Executor starts per worker id. */
export function startsPerWorker(starts: StartLine[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const s of starts) counts[s.workerId] = (counts[s.workerId] ?? 0) + 1;
  return counts;
}
