/**
 * The public record types: what `Runtime` returns to applications and admin screens.
 * Times are `Date`s here; the store keeps integer epoch milliseconds.
 */
import type { ArtifactRef } from "./artifacts/artifact-store.js";

export type RunStatus = "pending" | "running" | "paused" | "succeeded" | "failed" | "canceled";
/** `waiting`: a built-in wait (sleep, signal, child run) is waiting, holding no worker slot. */
export type StepStatus = "pending" | "ready" | "running" | "waiting" | "succeeded" | "failed" | "skipped" | "canceled";

/** A run as started by `startRun`. */
export interface RunHandle {
  id: string;
  package: string;
  name: string;
}

/** The run record. */
export interface WorkflowRun {
  id: string;
  package: string;
  name: string;
  status: RunStatus;
  input: unknown;
  metadata: Record<string, string>;
  createdAt: Date;
  /** The run's last transition. */
  updatedAt: Date;
  /**
   * When the run reached its finished status (`succeeded`, `failed` or
   * `canceled`); undefined while it is unfinished. An operator retry that
   * reopens the run clears it until the run finishes again.
   */
  finishedAt?: Date;
  /** Set on a child run: the run and step that started it. */
  parentRunId?: string;
  parentStepId?: string;
}

/** The state a dependency must reach for its dependent to run. */
export type DependencyOn = "succeeded" | "failed" | "completed";

/**
 * "Wait for `stepId`." `on` (default `"succeeded"`) is the state it must reach;
 * `required: false` means the same as `on: "completed"` (finished in any state).
 * Records read back from the store always carry `on`.
 */
export interface Dependency {
  stepId: string;
  required: boolean;
  on?: DependencyOn;
}

/** Who owns a running step, and until when. */
export interface Lease {
  workerId: string;
  token: string;
  acquiredAt: Date;
  expiresAt: Date;
}

/** A failure recorded for a step attempt. */
export interface StepError {
  code: string;
  message: string;
  retryable: boolean;
  details?: unknown;
  occurredAt: Date;
}

/** Everything an admin screen wants to know about a step. */
export interface StepInfo {
  runId: string;
  id: string;
  kind: string;
  queue: string;
  status: StepStatus;
  /** Attempts started so far (the first attempt is 1). */
  attempt: number;
  maxAttempts: number;
  /** How many times the step's lease expired and it was put back to `ready`. */
  reclaims: number;
  priority: number;
  dependsOn: Dependency[];
  parentId?: string;
  dedupKey?: string;
  site?: string;
  metadata: Record<string, string>;
  /**
   * History: the error of the step's most recent failed attempt, kept after a
   * later attempt (or an operator retry) succeeds. To tell whether the step is
   * failing now, use `error`, or `status`.
   */
  lastError?: StepError;
  /** Current state: the error the step failed with, set only while its `status` is `failed`. */
  error?: StepError;
  readyAt?: Date;
  /** ms one attempt may run before `step.signal` aborts and the attempt fails with `timeout`. */
  timeout?: number;
  /** While `waiting` (or when it last waited): when the wait ends by itself (a sleep's end, a signal's timeout). */
  wakeAt?: Date;
  /** What a built-in wait waits for: `signal:<name>` or `run:<child run id>`. */
  waitingFor?: string;
  startedAt?: Date;
  finishedAt?: Date;
  createdAt: Date;
  updatedAt: Date;
  /** Present while the step is running. */
  lease?: Lease;
}

/** A step with its input, as `rt.step(runId, stepId)` returns it. */
export interface StepDetail extends StepInfo {
  /** The step's input, decoded. */
  input: unknown;
}

/** A projection-style record written by a step, persisted with its result. */
export interface RecordWrite {
  collection: string;
  key: string;
  data: unknown;
}

/** What one `runOnce` cycle did. */
export interface CycleResult {
  /** Steps this cycle leased. */
  claimed: number;
  /** Leased steps whose attempt finished (and whose outcome was written). */
  processed: number;
  succeeded: number;
  /** Attempts that failed, whether or not a retry was scheduled. */
  failed: number;
  /** Expired leases this cycle took back (put back to ready, or failed with `lease_expired`). */
  reclaimed: number;
}

/** A step's last result: success (with `data`) or failure (with `error`). */
export interface StepResult {
  stepId: string;
  data: unknown;
  records: RecordWrite[];
  artifacts: ArtifactRef[];
  emittedIds: string[];
  error?: StepError;
  completedAt: Date;
}

/** Filter for `listRuns`; `after` is the id of the last run of the previous page. */
export interface ListRunsFilter {
  status?: RunStatus;
  package?: string;
  limit?: number;
  after?: string;
}

/** Every kind of transition the event log records. */
export type RunEventType =
  | "run_started"
  | "run_paused"
  | "run_resumed"
  | "run_succeeded"
  | "run_failed"
  | "run_canceled"
  /** A schedule started the run: `data` is `{ schedule, tick }` (the tick as an ISO string). */
  | "run_scheduled"
  | "step_ready"
  | "step_claimed"
  | "step_succeeded"
  | "step_failed"
  | "step_retry_scheduled"
  | "step_skipped"
  | "step_canceled"
  | "step_reclaimed"
  | "step_waiting"
  | "signal_received"
  | "operator_retry"
  | "operator_cancel";

/** One transition of a run or one of its steps, as the event log holds it. */
export interface RunEvent {
  /** Increases within a run (and across the store): the order things happened in. */
  seq: number;
  runId: string;
  at: Date;
  type: RunEventType;
  stepId?: string;
  attempt?: number;
  workerId?: string;
  error?: StepError;
  data?: unknown;
}

/** Filter for `listFailedSteps`; `after` is the last step of the previous page. */
export interface FailedStepsFilter {
  package?: string;
  kind?: string;
  queue?: string;
  code?: string;
  limit?: number;
  after?: { runId: string; stepId: string };
}

/** What `purge` deletes: finished runs (default: every finished status) finished before the instant. */
export interface PurgeOptions {
  finishedBefore: Date;
  statuses?: RunStatus[];
}
