/**
 * Helpers of the hostile-condition suite: runtimes on a store behind a
 * FaultInjector, executors that count their calls, and the invariants every
 * case checks at the end (every run finished, each step's success committed
 * once, read from the event log, which the store writes in the same
 * transaction as the transition).
 */
import { expect } from "vitest";
import { FaultInjector } from "../../src/conformance/index.js";
import { isWorkflowError, newExecutor, newPackage, newRuntime, requireSteps, type Runtime, type RuntimeConfig, type StoreConfig } from "../../src/index.js";

export interface Rig {
  rt: Runtime;
  faults: FaultInjector;
  errors: unknown[];
  /** Executor calls per `${runId}/${stepId}`. */
  calls: Map<string, number>;
}

/** A runtime on `store` behind a fault injector, with a "count" executor and a two-step "chain" package. */
export async function rig(store: StoreConfig, extra: Partial<RuntimeConfig> = {}): Promise<Rig> {
  const faults = new FaultInjector();
  const errors: unknown[] = [];
  const rt = await newRuntime({ store: faults.wrap(store), leaseDuration: 400, pollInterval: 20, onError: (e) => errors.push(e), ...extra });
  const calls = new Map<string, number>();
  rt.registerExecutor(newExecutor("count", async (step) => {
    const key = `${step.workflow.id}/${step.step.id}`;
    calls.set(key, (calls.get(key) ?? 0) + 1);
    step.result({ by: rt.workerId });
  }));
  rt.registerPackage(
    newPackage("chain")
      .entrypoint((run) => {
        const a = run.step("a", null, { kind: "count" });
        run.step("b", null, { kind: "count", dependsOn: requireSteps(a) });
      })
      .build(),
  );
  return { rt, faults, errors, calls };
}

/** Resolves to the code of the WorkflowError `call` throws, or "ok"; anything else thrown fails the test. */
export async function outcome(call: () => Promise<unknown>): Promise<string> {
  try {
    await call();
    return "ok";
  } catch (err) {
    if (!isWorkflowError(err)) throw new Error(`not a WorkflowError: ${String(err)}`, { cause: err });
    return err.code;
  }
}

/** Polls until `done` holds (the deadline only bounds a broken test). */
export async function waitFor(done: () => Promise<boolean>, deadline = 20_000): Promise<void> {
  const until = Date.now() + deadline;
  while (!(await done())) {
    if (Date.now() > until) throw new Error("timed out waiting for the runs to finish");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Runs workers until `done` holds, then stops them. */
export async function workUntil(rt: Runtime, done: () => Promise<boolean>, deadline = 20_000): Promise<void> {
  const ac = new AbortController();
  const workers = rt.startWorkers({ signal: ac.signal });
  try {
    await waitFor(done, deadline);
  } finally {
    ac.abort();
    await workers;
  }
}

export const finished = (rt: Runtime, ...runIds: string[]) => async () => {
  for (const id of runIds) {
    const status = (await rt.workflow(id))?.status;
    if (status !== "succeeded" && status !== "failed" && status !== "canceled") return false;
  }
  return true;
};

/** Every run succeeded and each of its steps' success was committed exactly once. */
export async function expectCommittedOnce(rt: Runtime, ...runIds: string[]): Promise<void> {
  for (const id of runIds) {
    expect((await rt.workflow(id))?.status, id).toBe("succeeded");
    const events = await rt.events(id);
    for (const step of await rt.steps(id)) {
      expect(step.status, `${id}/${step.id}`).toBe("succeeded");
      expect(events.filter((e) => e.type === "step_succeeded" && e.stepId === step.id).length, `${id}/${step.id} successes`).toBe(1);
    }
    expect(events.filter((e) => e.type === "run_succeeded").length, `${id} run_succeeded`).toBe(1);
  }
}

/** Only the injected faults reached onError, as store_error WorkflowErrors. */
export function expectOnlyInjected(errors: unknown[]): void {
  for (const e of errors) expect(e, String(e)).toMatchObject({ code: "store_error", cause: { name: "InjectedStoreError" } });
}
