/**
 * What `runUntilIdle` says when it gives up: the runs still busy, with their
 * step counts and the steps that are ready or running now, so that the test's
 * author sees which workflow keeps making work and where.
 */
import type { Runtime } from "../engine/runtime.js";

const SHOWN_RUNS = 3;
const SHOWN_STEPS = 3;

export async function describeUnfinished(rt: Runtime): Promise<string> {
  const runs = await rt.listRuns({ status: "running", limit: SHOWN_RUNS + 1 });
  if (runs.length === 0) return "no run is left running (the last steps finished their runs)";
  const lines: string[] = [];
  for (const run of runs.slice(0, SHOWN_RUNS)) {
    const steps = await rt.steps(run.id);
    const busy = steps.filter((s) => s.status === "ready" || s.status === "running");
    const named = busy.slice(-SHOWN_STEPS).map((s) => `"${s.id}" (${s.kind}, ${s.status}, attempt ${s.attempt})`);
    const more = busy.length > SHOWN_STEPS ? ` and ${busy.length - SHOWN_STEPS} more` : "";
    lines.push(`run "${run.id}" of package "${run.package}" has ${steps.length} steps; due now: ${named.join(", ") || "none"}${more}`);
  }
  if (runs.length > SHOWN_RUNS) lines.push("and more runs");
  return `still running: ${lines.join("; ")}`;
}
