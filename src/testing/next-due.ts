/**
 * When something next comes due, for `runUntilSettled`'s time skipping: the
 * earliest future instant among the unfinished runs' steps at which a cycle
 * would find work: a step's `readyAt` (a delay, `runAt`, a retry's backoff), a
 * wait's `wakeAt` (a sleep, a signal's timeout), or the expiry of a lease
 * nobody renews (a crashed attempt). Paused runs wait for an operator, not for
 * time, and are left out.
 */
import type { Runtime } from "../engine/runtime.js";
import type { StepInfo } from "../types.js";

/** Runs read at most; a test with more unfinished runs than this has other problems. */
const MAX_RUNS = 10_000;

export async function nextDueAt(rt: Runtime, now: number): Promise<number | undefined> {
  let next: number | undefined;
  for (const status of ["pending", "running"] as const) {
    for (const run of await rt.listRuns({ status, limit: MAX_RUNS })) {
      for (const step of await rt.steps(run.id)) {
        const at = dueAt(step);
        if (at !== undefined && at > now && (next === undefined || at < next)) next = at;
      }
    }
  }
  return next;
}

function dueAt(step: StepInfo): number | undefined {
  if (step.status === "ready") return step.readyAt?.getTime();
  if (step.status === "waiting") return step.wakeAt?.getTime();
  if (step.status === "running") return step.lease?.expiresAt.getTime();
  return undefined;
}
