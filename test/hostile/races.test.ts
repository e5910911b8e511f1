/**
 * Hostile conditions: races between workers, and between workers and
 * operators, on both stores. Several runtimes share one store (as processes
 * would); only the store's transactions keep them apart.
 */
import { describe, expect, it } from "vitest";
import { Gate } from "../../src/conformance/index.js";
import { newExecutor, newPackage, newRuntime, requireSteps, type Runtime } from "../../src/index.js";
import { stores } from "../support/stores.js";
import { expectCommittedOnce, finished, rig, workUntil } from "./support.js";

const SIBLINGS = 40;

async function sharedRuntimes(store: ReturnType<ReturnType<typeof stores>[number]["fresh"]>, n: number, joins: Map<string, number>): Promise<Runtime[]> {
  const runtimes: Runtime[] = [];
  // The workers that have run a sibling. A sibling waits (bounded) until two
  // have: otherwise the first worker to claim, finding the steps short, could
  // lease a whole run's siblings before another worker's first claim, and the
  // race under test would not happen.
  const siblingWorkers = new Set<string>();
  for (let i = 0; i < n; i++) {
    const rt = await newRuntime({ store, workerId: `w${i}`, maxWorkers: 8, pollInterval: 20, leaseDuration: 5_000 });
    rt.registerExecutor(newExecutor("sibling", async (step) => {
      siblingWorkers.add(rt.workerId);
      const cap = Date.now() + 5_000;
      while (siblingWorkers.size < 2 && Date.now() < cap) await new Promise((resolve) => setTimeout(resolve, 5));
      step.result(step.input<number>());
    }));
    rt.registerExecutor(newExecutor("join", async (step) => {
      joins.set(step.workflow.id, (joins.get(step.workflow.id) ?? 0) + 1);
      let sum = 0;
      for (const d of step.step.dependsOn) sum += await step.dependencyData<number>(d.stepId);
      step.result(sum);
    }));
    rt.registerPackage(
      newPackage("join")
        .entrypoint((run) => {
          const ids = Array.from({ length: SIBLINGS }, (_, i) => run.step(`s${i}`, i, { kind: "sibling" }));
          run.step("join", null, { kind: "join", dependsOn: requireSteps(...ids) });
        })
        .build(),
    );
    runtimes.push(rt);
  }
  return runtimes;
}

describe.each(stores("races"))("hostile: races on $name", ({ fresh }) => {
  it("same-run races: four workers completing the siblings of one join at once make it ready exactly once", async () => {
    const joins = new Map<string, number>();
    const runtimes = await sharedRuntimes(fresh(), 4, joins);
    const [first] = runtimes as [Runtime];
    const runIds = ["j0", "j1", "j2"];
    await first.startRuns("join", runIds.map((runId) => ({ input: null, runId })));
    const ac = new AbortController();
    const workers = runtimes.map((rt) => rt.startWorkers({ signal: ac.signal }));
    const until = Date.now() + 30_000;
    while (!(await finished(first, ...runIds)())) {
      if (Date.now() > until) throw new Error("the join runs did not finish");
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    ac.abort();
    await Promise.all(workers);
    await expectCommittedOnce(first, ...runIds);
    for (const id of runIds) {
      expect(joins.get(id), id).toBe(1);
      expect((await first.result(id, "join"))?.data).toBe((SIBLINGS * (SIBLINGS - 1)) / 2);
      expect((await first.events(id)).filter((e) => e.type === "step_ready" && e.stepId === "join")).toHaveLength(1);
    }
    // The siblings really were completed by several workers.
    const claimers = new Set((await first.events("j0")).filter((e) => e.type === "step_claimed").map((e) => e.workerId));
    expect(claimers.size).toBeGreaterThan(1);
    for (const rt of runtimes) await rt.close();
  });

  it("operator actions racing workers: a cancel while steps run and complete leaves nothing succeeding after it", async () => {
    const store = fresh();
    const worker = await newRuntime({ store, maxWorkers: 4, pollInterval: 20 });
    const operator = await newRuntime({ store });
    const gate = new Gate();
    let finishedAfterGate = 0;
    worker.registerExecutor(newExecutor("work", async (step) => {
      if (step.input<number>() % 5 === 0) {
        await gate.pass();
        finishedAfterGate++;
      }
      step.result(step.input());
    }));
    worker.registerPackage(
      newPackage("long")
        .entrypoint((run) => {
          let previous: string | undefined;
          for (let i = 0; i < 30; i++) previous = run.step(`s${i}`, i, { kind: "work", ...(previous && i % 3 === 0 ? { dependsOn: requireSteps(previous) } : {}) }).id;
        })
        .build(),
    );
    await worker.startRun("long", null, { runId: "r" });
    const ac = new AbortController();
    const workers = worker.startWorkers({ signal: ac.signal });
    await gate.waitFor(2);
    // A retry of a running step is refused and changes nothing.
    const running = (await operator.steps("r")).find((s) => s.status === "running");
    await expect(operator.retryStep("r", running?.id ?? "?")).rejects.toMatchObject({ code: "invalid_state" });
    await operator.cancelRun("r");
    gate.open();
    ac.abort();
    await workers;
    expect(finishedAfterGate).toBeGreaterThan(0); // the held executors did finish, and tried to commit
    const events = await operator.events("r");
    const cancelAt = events.findIndex((e) => e.type === "operator_cancel");
    expect(cancelAt).toBeGreaterThan(0);
    const after = events.slice(cancelAt);
    expect(after.filter((e) => e.type === "step_succeeded").map((e) => `${e.seq} ${e.stepId}`)).toEqual([]);
    // On Postgres a claim can commit while the cancel waits for its row locks: the
    // step is then claimed after "operator_cancel" is logged, and canceled right after.
    const statuses = new Map((await operator.steps("r")).map((st) => [st.id, st.status]));
    for (const e of after.filter((ev) => ev.type === "step_claimed")) expect(statuses.get(e.stepId ?? ""), `${e.stepId} claimed during the cancel`).toBe("canceled");
    expect(events.at(-1)?.type).toBe("run_canceled");
    expect((await operator.workflow("r"))?.status).toBe("canceled");
    for (const s of await operator.steps("r")) expect(["succeeded", "canceled"]).toContain(s.status);
    await worker.close();
    await operator.close();
  });

  it("restart with due timers, pending signals and a backlog: everything resumes in a new runtime", async () => {
    const store = fresh();
    const define = (rt: Runtime) => {
      rt.registerExecutor(newExecutor("echo", async (step) => step.result(step.rawInput())));
      rt.registerPackage(
        newPackage("mixed")
          .entrypoint((run, n) => {
            const i = n as number;
            if (i % 3 === 0) {
              const nap = run.sleep("wait", 150);
              run.step("after", i, { kind: "echo", dependsOn: requireSteps(nap) });
            } else if (i % 3 === 1) {
              const go = run.waitForSignal("wait", "go");
              run.step("after", i, { kind: "echo", dependsOn: requireSteps(go) });
            } else {
              run.step("after", i, { kind: "echo" });
            }
          })
          .build(),
      );
    };
    const before = await newRuntime({ store, pollInterval: 20 });
    define(before);
    const ids = Array.from({ length: 60 }, (_, i) => `m${i}`);
    await before.startRuns("mixed", ids.map((runId, i) => ({ input: i, runId })));
    // Park the waits (and run some of the backlog), then stop as if the process went away.
    await before.runOnce();
    await before.close();
    const web = await newRuntime({ store });
    for (const [i, id] of ids.entries()) if (i % 3 === 1) await web.signal(id, "go", i, { id: `go-${id}` });
    await web.close();

    const after = await newRuntime({ store, pollInterval: 60_000 });
    define(after);
    await workUntil(after, finished(after, ...ids));
    await expectCommittedOnce(after, ...ids);
    for (const [i, id] of ids.entries()) expect((await after.result(id, "after"))?.data, id).toBe(i);
    await after.close();
  });

  it("a step settling while runOnce's claim is under way: the cycle claims again before it ends", async () => {
    // X settles, so the cycle claims; the claim's answer is held (it ran: its
    // snapshot predates what follows) while Y completes and readies "next".
    // The held answer is empty and nothing of the cycle is left in flight: the
    // cycle must claim once more, or "next" waits for another cycle.
    const store = fresh();
    const { rt, faults, errors } = await rig(store);
    const gate = new Gate();
    rt.registerExecutor(newExecutor("gated", async () => gate.pass()));
    rt.registerPackage(
      newPackage("race")
        .entrypoint((run) => {
          run.step("x", null, { kind: "count" });
          const y = run.step("y", null, { kind: "gated" });
          run.step("next", null, { kind: "count", dependsOn: requireSteps(y) });
        })
        .build(),
    );
    await rt.startRun("race", null, { runId: "r" });
    let claims = 0;
    faults.inject({ method: "claim", when: "after", action: "hang", match: () => ++claims === 2 });
    let yWritten!: () => void;
    const yCompleted = new Promise<void>((resolve) => (yWritten = resolve));
    // Never fires (match is false); it only tells when Y's completion came back from the store.
    faults.inject({ method: "complete", when: "after", times: Infinity, match: (args) => {
      if ((args[0] as { stepId: string }[]).some((o) => o.stepId === "y")) yWritten();
      return false;
    } });
    const cycle = rt.runOnce();
    await gate.waitFor(1);
    while (faults.hanging === 0) await new Promise((resolve) => setImmediate(resolve)); // X settled, claim 2 held
    gate.open();
    await yCompleted;
    await new Promise((resolve) => setImmediate(resolve)); // Y's settle runs in the microtasks after its write
    faults.releaseHangs();
    expect(await cycle).toMatchObject({ claimed: 3, succeeded: 3 });
    expect((await rt.steps("r")).map((s) => [s.id, s.status])).toEqual([["x", "succeeded"], ["y", "succeeded"], ["next", "succeeded"]]);
    expect(errors).toEqual([]);
    await rt.close();
  });
});
