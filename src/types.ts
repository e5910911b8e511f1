/**
 * The public record types: what `Runtime` returns to applications and admin screens.
 * Times are `Date`s here; the store keeps integer epoch milliseconds.
 */
import type { ArtifactRef } from "./artifacts/artifact-store.js";

/**
 * A run's state. `running` until nothing is left to do, then `succeeded`,
 * `failed` or `canceled`; `paused` between `pauseRun` and `resumeRun`.
 * `pending` is never set.
 */
export type RunStatus = "pending" | "running" | "paused" | "succeeded" | "failed" | "canceled";
/**
 * A step's state: `pending` (its dependencies unfinished), `ready` (claimable,
 * perhaps from a later instant), `running` (leased to a worker), `waiting` (a
 * built-in wait: sleep, signal, child run, holding no worker slot), then one of
 * the finished states `succeeded`, `failed`, `skipped`, `canceled`.
 */
export type StepStatus = "pending" | "ready" | "running" | "waiting" | "succeeded" | "failed" | "skipped" | "canceled";

/** A run as started by `startRun`. */
export interface RunHandle<Output = unknown> {
  /** The run's id: generated (`<package>-<time-ordered id>`) or the `runId` the start gave. */
  id: string;
  /** The name of the package the run runs. */
  package: string;
  /** The run's display name (see `WorkflowRun.name`). */
  name: string;
  /** Never set: it carries the run's output type, for `rt.output(handle)`. */
  readonly __output?: Output;
}

/** The run record. */
export interface WorkflowRun {
  /** Unique in the store; a child run's is `<parent run id>/<step id>`. */
  id: string;
  /** The name of the package the run runs. */
  package: string;
  /**
   * Display name: the entrypoint's `run.name()`, else the start's `name` option,
   * else the package's display name.
   */
  name: string;
  /** Where the run is in its life (see `RunStatus`). */
  status: RunStatus;
  /** The run input, decoded (after the package's schema, when it has one). */
  input: unknown;
  /** The start's `metadata` option with the entrypoint's `run.metadata()` entries (and the trace context) over it. */
  metadata: Record<string, string>;
  /** When the run was started. */
  createdAt: Date;
  /** The run's last transition. */
  updatedAt: Date;
  /**
   * When the run reached its finished status (`succeeded`, `failed` or
   * `canceled`); undefined while it is unfinished. An operator retry that
   * reopens the run clears it until the run finishes again.
   */
  finishedAt?: Date;
  /**
   * How many of the run's steps are `failed` now, counted by the store: a run
   * still `running` with a failed step (handled by a branch, or waiting for an
   * operator) is not as healthy as its status says. Set on runs read from the
   * store (`workflow`, `listRuns`, `waitForRun`, `graph`); absent on
   * `step.workflow`, the run as it was claimed with the step.
   */
  failedSteps?: number;
  /** Set on a child run: the run and step that started it. */
  parentRunId?: string;
  /** Set on a child run: the id of the `childRun` step in `parentRunId` that started it. */
  parentStepId?: string;
  /**
   * The version of its package the run started with (`newPackage(name).version(v)`,
   * a declarative workflow's `version`); absent for an unversioned package. The
   * run keeps it to its end, through retries and reclaims.
   */
  packageVersion?: string;
}

/** The state a dependency must reach for its dependent to run. */
export type DependencyOn = "succeeded" | "failed" | "completed";

/**
 * "Wait for `stepId`." `on` (default `"succeeded"`) is the state it must reach;
 * `required: false` means the same as `on: "completed"` (finished in any state).
 * Records read back from the store always carry `on`.
 */
export interface Dependency {
  /** The id of the step waited for, in the same run. */
  stepId: string;
  /** True: the step must reach `on`; false: it only has to finish (`on: "completed"`). */
  required: boolean;
  /** The state `stepId` must reach (default `"succeeded"`). */
  on?: DependencyOn;
}

/** Who owns a running step, and until when. */
export interface Lease {
  /** The `workerId` of the runtime that holds it. */
  workerId: string;
  /** Unique to this lease: a write by an older holder of the step (fencing) is discarded. */
  token: string;
  /** When the step was claimed. */
  acquiredAt: Date;
  /** When the lease lapses unless a heartbeat extends it; the step is then reclaimed. */
  expiresAt: Date;
}

/** A failure recorded for a step attempt. */
export interface StepError {
  /** A `WorkflowError` code (see `ErrorCodes`), or one an executor chose. */
  code: string;
  /** Human-readable description. */
  message: string;
  /** Whether another attempt could succeed: a retryable failure is retried while attempts are left. */
  retryable: boolean;
  /** Extra data the error carried (`WorkflowError.details`), decoded; undefined when none. */
  details?: unknown;
  /** When the attempt failed. */
  occurredAt: Date;
}

/** Everything an admin screen wants to know about a step. */
export interface StepInfo {
  /** The run the step belongs to. */
  runId: string;
  /** The step's id, unique within its run. */
  id: string;
  /** The executor kind that runs it (built-in waits have kinds of their own, see `BuiltinKinds`). */
  kind: string;
  /** The queue it is claimed from (`"default"` unless its options named one). */
  queue: string;
  /** Where the step is in its life (see `StepStatus`). */
  status: StepStatus;
  /** Attempts started so far (the first attempt is 1). */
  attempt: number;
  /** The attempts its retry policy allows, the first included. */
  maxAttempts: number;
  /** How many times the step's lease expired and it was put back to `ready`. */
  reclaims: number;
  /** Higher is claimed first among the ready steps of its queue (default 0). */
  priority: number;
  /** The steps it waits for, each with the state it needs. */
  dependsOn: Dependency[];
  /** The step that emitted it, or the `parentId` its options gave; undefined for an entrypoint step without one. */
  parentId?: string;
  /** The key it was created with (a second step with the same key in the run is not created). */
  dedupKey?: string;
  /** The free label its options gave. */
  site?: string;
  /** The `metadata` its options gave. */
  metadata: Record<string, string>;
  /**
   * History: the error of the step's most recent failed attempt, kept after a
   * later attempt (or an operator retry) succeeds. To tell whether the step is
   * failing now, use `error`, or `status`.
   */
  lastError?: StepError;
  /** Current state: the error the step failed with, set only while its `status` is `failed`. */
  error?: StepError;
  /**
   * When it last became ready, or will (a retry's backoff, `runAt`, `delay`): it
   * is not claimed before. Undefined until it was first ready.
   */
  readyAt?: Date;
  /** ms one attempt may run before `step.signal` aborts and the attempt fails with `timeout`. */
  timeout?: number;
  /** While `waiting` (or when it last waited): when the wait ends by itself (a sleep's end, a signal's timeout). */
  wakeAt?: Date;
  /** What a built-in wait waits for: `signal:<name>` or `run:<child run id>`. */
  waitingFor?: string;
  /** When its latest attempt was claimed; undefined before the first. */
  startedAt?: Date;
  /** When it reached `succeeded`, `failed`, `skipped` or `canceled`; cleared by an operator retry. */
  finishedAt?: Date;
  /** When it was inserted (at run start, or with the success of the step that emitted it). */
  createdAt: Date;
  /** Its last change of any kind (status, lease, heartbeat). */
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
  /** The collection (projection-style table) the record belongs to. */
  collection: string;
  /** The record's key within its collection. */
  key: string;
  /** The record's value, decoded. */
  data: unknown;
}

/** What one `runOnce` cycle did. */
export interface CycleResult {
  /** Steps this cycle leased. */
  claimed: number;
  /** Leased steps whose attempt finished (and whose outcome was written). */
  processed: number;
  /** Attempts that succeeded. */
  succeeded: number;
  /** Attempts that failed, whether or not a retry was scheduled. */
  failed: number;
  /** Expired leases this cycle took back (put back to ready, or failed with `lease_expired`). */
  reclaimed: number;
}

/** A step's last result: success (with `data`) or failure (with `error`). */
export interface StepResult<Data = unknown> {
  /** The step the result belongs to. */
  stepId: string;
  /** The result data (undefined when the step failed or set none). */
  data: Data;
  /** Records the step wrote with its success (empty when none, or when it failed). */
  records: RecordWrite[];
  /** Artifacts the step stored with its success. */
  artifacts: ArtifactRef[];
  /** Ids of the steps its `step.emit` calls created (a step not created for its taken `dedupKey` left out). */
  emittedIds: string[];
  /** Set when the step failed: the error of its last attempt. */
  error?: StepError;
  /** When the attempt that produced this result finished. */
  completedAt: Date;
}

/**
 * Filter for `listRuns`, applied by the store: every field given must match.
 * `after` is the id of the last run of the previous page (of the same filter).
 */
export interface ListRunsFilter {
  /** Only runs in this status. */
  status?: RunStatus;
  /** Only runs of this package name. */
  package?: string;
  /** Runs started with this version of their package (with `package`, one package's old runs still in flight). */
  packageVersion?: string;
  /** Created at or after this instant. */
  createdFrom?: Date;
  /** Created at or before this instant. */
  createdTo?: Date;
  /** Every key given has exactly this value in the run's metadata. */
  metadata?: Record<string, string>;
  /** The run id starts with this text (case-sensitive). */
  idPrefix?: string;
  /** At most this many runs (default 100, at most 10 000). */
  limit?: number;
  /** Cursor: the runs listed after this run id (newest first); `not_found` for an unknown id. */
  after?: string;
}

/**
 * Who performed an operator action and why: written into the event the action
 * logs (`rt.events(runId)` returns them as the event's `actor` and `reason`).
 */
export interface OperatorOptions {
  /** Who acted: a user name, a service, ... (at most 200 characters). */
  actor?: string;
  /** Why (at most 1,000 characters). */
  reason?: string;
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
  /** The run it belongs to. */
  runId: string;
  /** When the transition happened. */
  at: Date;
  /** Which transition it was. */
  type: RunEventType;
  /** The step concerned; undefined for a run event (`run_*`, `signal_received`). */
  stepId?: string;
  /** The step's attempt number, on `step_claimed`, `step_succeeded`, `step_failed`, `step_retry_scheduled` and `step_reclaimed`. */
  attempt?: number;
  /** The worker that held (or took) the lease, on the events of a leased step. */
  workerId?: string;
  /** The failure, on `step_failed` and `step_retry_scheduled`. */
  error?: StepError;
  /**
   * An operator action's event (`operator_retry`, `operator_cancel`,
   * `run_paused`, `run_resumed`, `signal_received`): who acted, when the
   * caller said (`OperatorOptions`).
   */
  actor?: string;
  /** Why the operator acted, when the caller said (see `actor`). */
  reason?: string;
  /**
   * Details of some events, parsed JSON: `{ package, parentRunId?, parentStepId? }`
   * on `run_started`, `{ readyAt }` (epoch ms) when a step becomes ready later,
   * `{ wakeAt, waitingFor }` on `step_waiting`, `{ name, id }` on `signal_received`.
   */
  data?: unknown;
}

/** Filter for `listFailedSteps`; `after` is the last step of the previous page. */
export interface FailedStepsFilter {
  /** Only steps of runs of this package name. */
  package?: string;
  /** Only steps of this executor kind. */
  kind?: string;
  /** Only steps of this queue. */
  queue?: string;
  /** Only steps that failed with this error code. */
  code?: string;
  /** At most this many steps (default 100, at most 10 000). */
  limit?: number;
  /** Cursor: the last step of the previous page; `not_found` for a step that is not failed. */
  after?: {
    /** The run of that step. */
    runId: string;
    /** That step's id. */
    stepId: string;
  };
}

/** What `purge` deletes: finished runs (default: every finished status) finished before the instant. */
export interface PurgeOptions extends OperatorOptions {
  /** Runs that finished before this instant. */
  finishedBefore: Date;
  /** Only runs in these finished statuses (default `succeeded`, `failed` and `canceled`). */
  statuses?: RunStatus[];
}
