/**
 * What operator actions a run or step allows, and what an operator retry
 * brings back: decisions every store adapter must make the same way, so they
 * are made here once, as pure functions over what the adapter read inside its
 * transaction. The errors they throw are the ones the runtime documents.
 */
import { ErrorCodes, WorkflowError } from "../errors.js";
import type { RunStatus, StepStatus } from "../types.js";
import { edgeState, FINISHED_RUN_STATUSES } from "./graph-rules.js";
import type { OperatorNote, StoredDependency } from "./store.js";

/** An action on a whole run: `rt.signal`, `pauseRun`, `resumeRun`, `cancelRun`. */
export type RunAction = "signal" | "pause" | "resume" | "cancel";

const ALLOWED: Record<RunAction, { from: readonly RunStatus[]; refusal: string }> = {
  signal: { from: ["pending", "running", "paused"], refusal: "a signal can only go to an unfinished run" },
  pause: { from: ["pending", "running"], refusal: "only a running run can be paused" },
  resume: { from: ["paused"], refusal: "only a paused run can be resumed" },
  cancel: { from: ["pending", "running", "paused"], refusal: "only an unfinished run can be canceled" },
};

/** Whether a run in `status` accepts `action`. */
export function runAccepts(action: RunAction, status: RunStatus): boolean {
  return ALLOWED[action].from.includes(status);
}

/**
 * Throws what the runtime documents for `action` on this run: `not_found` when
 * there is no run, `invalid_state` when its status does not accept the action.
 */
export function assertRunAccepts(action: RunAction, runId: string, run: { status: RunStatus } | undefined): void {
  if (!run) throw new WorkflowError(ErrorCodes.notFound, `no run "${runId}"`);
  if (!runAccepts(action, run.status)) throw new WorkflowError(ErrorCodes.invalidState, `run "${runId}" is ${run.status}; ${ALLOWED[action].refusal}`);
}

/** Whether a run in `status` is finished (until an operator retries one of its steps). */
export const isFinishedRun = (status: RunStatus): boolean => (FINISHED_RUN_STATUSES as readonly string[]).includes(status);

/** A step as an operator retry sees it. */
/** What `planRetry` needs to know of each step of the run. */
export interface RetryCandidate {
  /** The step's id. */
  id: string;
  /** Its current status. */
  status: StepStatus;
  /** Its dependencies, as stored. */
  dependsOn: readonly StoredDependency[];
}

/** What an operator retry writes: each revived step's new status and waiting edges, and those skipped again. */
export interface RetryPlan {
  /** The steps that run again, the retried one first, each with its new state. */
  revived: {
    /** The step's id. */
    id: string;
    /** `ready` when none of its dependency edges is waiting, else `pending`. */
    status: "pending" | "ready";
    /** How many of its dependency edges are still waiting (0 when `ready`). */
    waiting: number;
  }[];
  /** Revived steps that one of their other dependencies rules out: skipped again, at once. */
  skippedAgain: string[];
}

/**
 * Plans `retryStep(runId, stepId)` over the run's steps. The step must be
 * failed or canceled. Everything downstream of it that was skipped or canceled
 * comes back with it; each revived step waits for its dependencies again,
 * counting the other revived steps as unfinished. Throws `not_found` for an
 * unknown step and `invalid_state` when the step cannot run (its own status, or
 * a dependency that finished the way it cannot use: retry that one first).
 */
export function planRetry(runId: string, stepId: string, steps: readonly RetryCandidate[]): RetryPlan {
  const byId = new Map(steps.map((s) => [s.id, s]));
  const target = byId.get(stepId);
  if (!target) throw new WorkflowError(ErrorCodes.notFound, `no step "${stepId}" in run "${runId}"`);
  if (target.status !== "failed" && target.status !== "canceled") {
    throw new WorkflowError(ErrorCodes.invalidState, `step "${stepId}" is ${target.status}; only a failed or canceled step can be retried`);
  }
  const dependents = new Map<string, string[]>();
  for (const s of steps) for (const d of s.dependsOn) dependents.set(d.stepId, [...(dependents.get(d.stepId) ?? []), s.id]);

  const revived = new Set<string>([stepId]);
  const frontier = [stepId];
  for (let id = frontier.pop(); id !== undefined; id = frontier.pop()) {
    for (const next of dependents.get(id) ?? []) {
      const status = byId.get(next)?.status;
      if (!revived.has(next) && (status === "skipped" || status === "canceled")) {
        revived.add(next);
        frontier.push(next);
      }
    }
  }

  const plan: RetryPlan = { revived: [], skippedAgain: [] };
  for (const id of revived) {
    let waiting = 0;
    let violated: string | undefined;
    for (const d of byId.get(id)?.dependsOn ?? []) {
      const depStatus: StepStatus = revived.has(d.stepId) ? "pending" : (byId.get(d.stepId)?.status ?? "pending");
      const state = edgeState(depStatus, d.on);
      if (state === "waiting") waiting++;
      else if (state === "violated") violated = d.stepId;
    }
    if (violated !== undefined && id === stepId) {
      throw new WorkflowError(ErrorCodes.invalidState, `step "${stepId}" cannot run: its dependency "${violated}" did not finish as it needs; retry that one`);
    }
    if (violated !== undefined) plan.skippedAgain.push(id);
    plan.revived.push({ id, status: waiting > 0 ? "pending" : "ready", waiting });
  }
  return plan;
}

/**
 * An operator's note as the event log keeps it: the JSON text of `{ actor,
 * reason }` (absent fields left out), merged into the data of the event the
 * action logs; null when there is nothing to say. The runtime reads the two
 * fields back out (`toRunEvent`).
 */
export function operatorNoteData(note: OperatorNote | undefined): string | null {
  if (!note) return null;
  const data: OperatorNote = {};
  if (note.actor !== undefined) data.actor = note.actor;
  if (note.reason !== undefined) data.reason = note.reason;
  return Object.keys(data).length ? JSON.stringify(data) : null;
}
