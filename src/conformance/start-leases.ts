/**
 * Conformance: leases taken when a run starts (`StartLease`). An adapter may
 * ignore them; one that takes them (`ConformanceTarget.startLeases`) must give
 * real leases: fenced, logged like a claim, never handed to a second worker.
 */
import { describe, expect, it } from "./runner.js";
import { newExecutor } from "../executor.js";
import { newPackage } from "../package.js";
import type { LeaseRef, NewRun, NewStep, StartLease, StepOutcome } from "../store/store.js";
import { type ConformanceTarget, Gate, useHarness, waitUntil } from "./harness.js";

const RETRY = { maxAttempts: 3, backoff: "fixed", initialBackoff: 0, multiplier: 1, jitter: false } as const;

function step(id: string, extra: Partial<NewStep> = {}): NewStep {
  return { id, kind: "k", queue: "default", input: "null", dependsOn: [], metadata: {}, priority: 0, retry: RETRY, ...extra };
}

function newRun(id: string, now: number, steps: NewStep[]): NewRun {
  return { run: { id, package: "p", name: "p", status: "running", input: "null", metadata: {}, createdAt: now, updatedAt: now }, steps };
}

export function startLeasesSuite(target: ConformanceTarget): void {
  describe("leases taken at start", () => {
    const h = useHarness(target);
    const lease = (now: number, limit: number, eligible = (_queue: string) => true): StartLease => ({
      workerId: "w-start",
      now,
      leaseDuration: 30_000,
      limit,
      eligible,
    });

    it("leases the new run's ready steps in its own transaction: fenced, logged as ready then claimed, not claimable again", async () => {
      const store = await h().store();
      const now = h().now;
      const told: LeaseRef[] = [];
      const [created] = await store.createRuns(
        [newRun("r", now, [step("a"), step("b", { dependsOn: [{ stepId: "a", on: "succeeded" }] })])],
        { ...lease(now, 8), onLease: (l) => void told.push(l) },
      );
      const claimed = created?.claimed ?? [];
      if (target.startLeases) expect(claimed.map((c) => c.step.id)).toEqual(["a"]);
      // Every lease taken was told to onLease (the caller's way to give them back should the answer be lost).
      expect(told).toEqual(claimed.map((c) => ({ runId: c.run.id, stepId: c.step.id, token: c.step.lease.token })));
      if (claimed.length === 0) return; // the adapter ignores start leases: nothing more to hold it to
      const [a] = claimed as [(typeof claimed)[number]];
      expect(a.run).toMatchObject({ id: "r", status: "running" });
      expect(a.step).toMatchObject({ runId: "r", id: "a", status: "running", attempt: 1, lease: { workerId: "w-start", acquiredAt: now, expiresAt: now + 30_000 } });

      // Stored as claimed: running under that token, and no other worker gets it.
      const stored = await store.getSteps("r");
      expect(stored.map((s) => [s.id, s.status, s.attempt])).toEqual([["a", "running", 1], ["b", "pending", 0]]);
      expect(stored[0]?.lease?.token).toBe(a.step.lease.token);
      const other = await store.claim({ workerId: "w-other", limit: 10, now, leaseDuration: 30_000, policyFor: () => ({ maxWorkers: Infinity }) });
      expect(other.steps).toEqual([]);
      expect((await store.getEvents("r")).map((e) => [e.type, e.stepId, e.attempt, e.workerId])).toEqual([
        ["run_started", undefined, undefined, undefined],
        ["step_ready", "a", undefined, undefined],
        ["step_claimed", "a", 1, "w-start"],
      ]);

      // Fenced like any lease: a wrong token is stale, the right one applies and readies the dependent.
      const done = (token: string): StepOutcome => ({ runId: "r", stepId: "a", token, now, status: "succeeded", result: "1", artifacts: [], emitted: [] });
      expect(await store.complete([done("not-the-lease")])).toEqual([{ status: "stale" }]);
      expect(await store.complete([done(a.step.lease.token)])).toEqual([{ status: "applied" }]);
      expect((await store.getSteps("r")).map((s) => s.status)).toEqual(["succeeded", "ready"]);
    });

    it("leases only what is ready now, in eligible queues, up to the limit, and nothing of a run that exists", async () => {
      const store = await h().store();
      const now = h().now;
      const created = await store.createRuns(
        [
          newRun("later", now, [step("delayed", { delay: 1_000 }), step("runAt", { notBefore: now + 1 })]),
          newRun("limited", now, [step("q", { queue: "limited" })]),
          newRun("many", now, [step("m1"), step("m2"), step("m3")]),
        ],
        lease(now, 2, (queue) => queue !== "limited"),
      );
      const leased = created.flatMap((c) => c.claimed ?? []).map((c) => `${c.run.id}/${c.step.id}`);
      if (target.startLeases) expect(leased).toEqual(["many/m1", "many/m2"]);
      else expect(leased.length).toBeLessThanOrEqual(2);
      for (const id of leased) expect(id.startsWith("many/")).toBe(true);

      // The rest is claimed as usual.
      const claim = await store.claim({ workerId: "w-other", limit: 10, now: now + 1_000, leaseDuration: 30_000, policyFor: () => ({ maxWorkers: Infinity }) });
      expect(claim.steps.map((c) => `${c.run.id}/${c.step.id}`).sort()).toEqual(
        ["later/delayed", "later/runAt", "limited/q", "many/m1", "many/m2", "many/m3"].filter((id) => !leased.includes(id)).sort(),
      );

      const again = await store.createRuns([newRun("many", now, [step("m1")])], lease(now, 10));
      expect(again[0]).toMatchObject({ created: false });
      expect(again[0]?.claimed).toBeUndefined();
    });

    it("runs a run started while the workers are idle at once, exactly once, and logs it like any claim", async () => {
      const rt = await h().runtime({ maxWorkers: 2, pollInterval: 60_000 });
      const gate = new Gate();
      const ran: string[] = [];
      rt.registerExecutor(newExecutor("job", async (s) => {
        ran.push(s.workflow.id);
        await gate.pass();
      }));
      rt.registerPackage(newPackage("job").entrypoint((run, input) => void run.step("s", input, { kind: "job" })).build());
      const ac = new AbortController();
      const workers = rt.startWorkers({ signal: ac.signal });
      try {
        // Idle workers, a poll an hour away: the step starts without waiting for one.
        await rt.startRun("job", 1, { runId: "first" });
        await gate.waitFor(1);
        // Busy now: more runs wait for places, and each still runs once.
        await rt.startRuns("job", [{ input: 2, runId: "second" }, { input: 3, runId: "third" }, { input: 4, runId: "fourth" }]);
        await gate.waitFor(2);
        gate.open();
        await waitUntil(async () => (await rt.listRuns({ status: "succeeded" })).length === 4, "four runs succeeded");
      } finally {
        ac.abort();
        await workers;
      }
      expect([...ran].sort()).toEqual(["first", "fourth", "second", "third"]);
      const events = (await rt.events("first")).map((e) => e.type);
      expect(events).toEqual(["run_started", "step_ready", "step_claimed", "step_succeeded", "run_succeeded"]);
      expect(h().errors).toEqual([]);
    });
  });
}
