/**
 * Planning the insertion of steps into a run, the same way in every adapter:
 * which steps are created (a `dedupKey` already taken means "not created"), what
 * each one waits for, and the status it is born with. Pure: the adapter answers
 * two lookups about what the run holds already, then writes the plan.
 */
import { ErrorCodes, WorkflowError } from "../errors.js";
import type { DependencyOn, StepStatus } from "../types.js";
import { edgeState } from "./graph-rules.js";
import type { NewStep } from "./store.js";

/** What the run holds already (nothing, for a new run). */
export interface RunLookup {
  /** The status of an existing step of the run. */
  statusOf(stepId: string): StepStatus | undefined;
  /** The id of the existing step holding a dedup key. */
  holderOf(dedupKey: string): string | undefined;
}

/** One step `planSteps` decided to create, with what the adapter writes for it. */
export interface PlannedStep {
  /** The step to insert. */
  step: NewStep;
  /** The status it is born with: `ready` (waits for nothing), `pending`, or `skipped` (a dependency already finished the wrong way). */
  status: "pending" | "ready" | "skipped";
  /** Dependency edges after dedup aliasing: target step id -> the state it must reach. */
  edges: Map<string, DependencyOn>;
  /** Edges not yet satisfied (0 unless `pending`). */
  waiting: number;
}

export const NO_STEPS: RunLookup = { statusOf: () => undefined, holderOf: () => undefined };

/**
 * Plans `steps` for insertion into `runId`. Dependencies must name steps of the
 * run or of this batch. A step whose `dedupKey` is taken (in the run or earlier
 * in the batch) is not created; dependencies on it wait for the step holding the
 * key. Steps born `skipped` (a dependency already finished the wrong way) must have
 * their dependents told, like any step that finishes.
 *
 * @throws WorkflowError `duplicate_step` or `unknown_dependency`
 */
export function planSteps(runId: string, steps: readonly NewStep[], run: RunLookup): PlannedStep[] {
  const holderOf = new Map<string, string>(); // dedupKey -> step id, for keys taken in this batch
  const aliasOf = new Map<string, string>(); // id of a step not created -> id of the step holding its key
  const created: NewStep[] = [];
  for (const step of steps) {
    if (step.dedupKey !== undefined) {
      const holder = holderOf.get(step.dedupKey) ?? run.holderOf(step.dedupKey);
      if (holder !== undefined) {
        aliasOf.set(step.id, holder);
        continue;
      }
      holderOf.set(step.dedupKey, step.id);
    }
    created.push(step);
  }
  const inBatch = new Set(created.map((step) => step.id));
  return created.map((step) => {
    if (run.statusOf(step.id) !== undefined) {
      throw new WorkflowError(ErrorCodes.duplicateStep, `step id "${step.id}" is already used in run "${runId}"`);
    }
    const edges = new Map<string, DependencyOn>();
    for (const d of step.dependsOn) {
      const target = aliasOf.get(d.stepId) ?? d.stepId;
      // Two edges aliased onto one step: the one that asks more wins.
      const seen = edges.get(target);
      edges.set(target, seen === undefined || seen === "completed" ? d.on : seen);
    }
    let waiting = 0;
    let violated = false;
    for (const [target, on] of edges) {
      if (inBatch.has(target)) {
        waiting++;
        continue;
      }
      const status = run.statusOf(target);
      if (status === undefined) {
        throw new WorkflowError(ErrorCodes.unknownDependency, `step "${step.id}" depends on "${target}", which is not a step of run "${runId}"`);
      }
      const state = edgeState(status, on);
      if (state === "waiting") waiting++;
      else if (state === "violated") violated = true;
    }
    const status = violated ? "skipped" : waiting > 0 ? "pending" : "ready";
    return { step, status, edges, waiting: violated ? 0 : waiting };
  });
}

/** Every step id a plan needs to know about: the new ids and their dependencies. */
export function referencedIds(steps: readonly NewStep[]): string[] {
  const ids = new Set<string>();
  for (const step of steps) {
    ids.add(step.id);
    for (const d of step.dependsOn) ids.add(d.stepId);
  }
  return [...ids];
}

/** JSON text of small, mostly repeated values (retry policies, metadata), reusing the last one. */
let lastValue: unknown;
let lastJson = "";
export function jsonOf(value: object): string {
  if (value !== lastValue) {
    lastJson = JSON.stringify(value);
    lastValue = Object.isFrozen(value) ? value : undefined;
  }
  return lastJson;
}

/**
 * When a step that just became ready may first be claimed: `delay` after now,
 * and not before `notBefore` (`runAt`).
 */
export function readyAtFor(step: { delay?: number | undefined; notBefore?: number | undefined }, now: number): number {
  return Math.max(now + (step.delay ?? 0), step.notBefore ?? 0);
}
