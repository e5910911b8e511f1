/**
 * The public record types: what `Runtime` returns to applications and admin screens.
 * Times are `Date`s here; the store keeps integer epoch milliseconds.
 */
import type { ArtifactRef } from "./artifacts/artifact-store.js";

export type RunStatus = "pending" | "running" | "succeeded" | "failed" | "canceled";
export type StepStatus = "pending" | "ready" | "running" | "succeeded" | "failed" | "skipped" | "canceled";

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
  updatedAt: Date;
}

/** "Wait for `stepId`." `required: false` waits for it to finish in any state. */
export interface Dependency {
  stepId: string;
  required: boolean;
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
  lastError?: StepError;
  readyAt?: Date;
  startedAt?: Date;
  finishedAt?: Date;
  createdAt: Date;
  updatedAt: Date;
  /** Present while the step is running. */
  lease?: Lease;
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
