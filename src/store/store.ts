/**
 * The store interface: the one seam between the engine and a database.
 *
 * The engine never imports an adapter; it talks to a `Store` opened from the
 * `StoreConfig` in the runtime config. An adapter implements a handful of
 * coarse, transactional commands (start a run, claim a batch, complete a batch,
 * heartbeat, reclaim, operator actions) so that each one is a single round of
 * work for the database. Payloads cross the seam already encoded (superjson
 * text), times as integer epoch milliseconds, so adapters stay dumb about values.
 *
 * The graph rules every adapter must apply inside those commands (when a
 * dependent becomes ready or skipped, when a run finishes) live in
 * `graph-rules.ts`, and the exported conformance suite checks them.
 */
import type { Dependency, RunStatus, StepStatus } from "../types.js";
import type { ResolvedRetryPolicy } from "../retry.js";

/** A value encoded by the engine (superjson text). Adapters store it verbatim. */
export type Encoded = string;

/** Opens a store. `sqliteStore(...)` and `postgresStore(...)` return one of these. */
export interface StoreConfig {
  /** A short label for logs and errors, e.g. `"sqlite"`. */
  readonly name: string;
  /** Opens connections and applies migrations; safe to call from many processes at once. */
  open(): Promise<Store>;
}

export interface RunRecord {
  id: string;
  package: string;
  name: string;
  status: RunStatus;
  input: Encoded;
  metadata: Record<string, string>;
  createdAt: number;
  updatedAt: number;
}

/** A run to insert with its first steps. */
export interface NewRun {
  run: RunRecord;
  steps: NewStep[];
}

/** A step to insert, at run start or emitted by a completing step. */
export interface NewStep {
  id: string;
  kind: string;
  queue: string;
  input: Encoded;
  dependsOn: Dependency[];
  retry: ResolvedRetryPolicy;
  metadata: Record<string, string>;
  priority: number;
  parentId?: string;
  dedupKey?: string;
  site?: string;
}

export interface StepErrorRecord {
  code: string;
  message: string;
  retryable: boolean;
  /** Encoded details, if any. */
  details?: Encoded;
  occurredAt: number;
}

export interface LeaseRecord {
  workerId: string;
  token: string;
  acquiredAt: number;
  expiresAt: number;
}

export interface StepRecord {
  runId: string;
  id: string;
  kind: string;
  queue: string;
  status: StepStatus;
  input: Encoded;
  attempt: number;
  maxAttempts: number;
  reclaims: number;
  priority: number;
  retry: ResolvedRetryPolicy;
  dependsOn: Dependency[];
  parentId?: string;
  dedupKey?: string;
  site?: string;
  metadata: Record<string, string>;
  lastError?: StepErrorRecord;
  readyAt?: number;
  startedAt?: number;
  finishedAt?: number;
  createdAt: number;
  updatedAt: number;
  lease?: LeaseRecord;
}

/** A step just leased to this worker, with its run. */
export interface ClaimedStep {
  step: StepRecord & { lease: LeaseRecord };
  run: RunRecord;
  /**
   * Optional: results of finished dependencies, read with the claim by an adapter
   * for which every read is a round trip to a server. `step.dependencyResult()`
   * looks here first and asks `getResult` for anything missing.
   */
  dependencyResults?: ReadonlyMap<string, ResultRecord>;
}

/** The limits of one queue, resolved by the engine from the runtime config. */
export interface QueuePolicy {
  /** Steps of this queue running at once across every process (Infinity: no limit). */
  maxWorkers: number;
  rateLimit?: { ratePerSecond: number; burst: number };
}

export interface ClaimRequest {
  workerId: string;
  /** At most this many steps. */
  limit: number;
  now: number;
  leaseDuration: number;
  policyFor(queue: string): QueuePolicy;
}

export interface ClaimResult {
  steps: ClaimedStep[];
  /**
   * The earliest future instant at which something not claimable now may become
   * claimable (a retry's backoff, a token refill, a lease expiry), if the store
   * knows one. The engine sleeps until then at most.
   */
  nextDueAt?: number;
}

/**
 * An artifact written with a step's success: its bytes inline, or (with `uri`) a
 * reference to bytes an `ArtifactStore` already holds, whose `size` it records.
 */
export interface ArtifactRecord {
  id: string;
  name: string;
  kind: string;
  contentType: string;
  metadata: Record<string, string>;
  body: Uint8Array;
  uri?: string;
  size: number;
}

/** Identifies a held lease. */
export interface LeaseRef {
  runId: string;
  stepId: string;
  token: string;
}

/** The outcome of one attempt, to be written only if the lease is still held. */
export type StepOutcome = LeaseRef & { now: number } & (
    | {
        status: "succeeded";
        result: Encoded;
        /** Encoded `RecordWrite[]`, or undefined when the step wrote none. */
        records?: Encoded;
        artifacts: ArtifactRecord[];
        emitted: NewStep[];
      }
    | { status: "retry"; error: StepErrorRecord; readyAt: number }
    | { status: "failed"; error: StepErrorRecord }
  );

/**
 * What became of an outcome: written; discarded because the lease was no longer
 * held (expired and reclaimed, or the run was canceled); or turned into a
 * permanent failure because its emitted steps did not fit the run's graph.
 */
export type CompletionResult =
  | { status: "applied" }
  | { status: "stale" }
  | { status: "rejected"; error: StepErrorRecord };

export interface ReclaimResult {
  /** Put back to `ready`. */
  reclaimed: number;
  /** Failed with `lease_expired` after too many reclaims. */
  failed: number;
}

export interface StoredArtifact extends Omit<ArtifactRecord, "body"> {
  stepId: string;
  size: number;
}

export interface ResultRecord {
  stepId: string;
  result?: Encoded;
  records?: Encoded;
  emittedIds: string[];
  error?: StepErrorRecord;
  completedAt: number;
  artifacts: StoredArtifact[];
}

export interface ListRunsQuery {
  status?: RunStatus;
  package?: string;
  limit: number;
  after?: string;
}

/**
 * What a wake-up tells the workers, when the adapter knows more than "something
 * changed" (no event means `ready`).
 */
export type StoreEvent =
  /** Work may be claimable now. */
  | { type: "ready" }
  /** Work becomes claimable at `at` (epoch ms): a retry's backoff, say. */
  | { type: "due"; at: number }
  /** A run was canceled: abort its steps running in this process. */
  | { type: "canceled"; runId: string };

/** The commands every adapter implements. All of them are atomic. */
export interface Store {
  /**
   * Inserts runs with their initial steps, all in one transaction. A run whose id
   * exists already is not written again: it comes back as stored, with
   * `created: false`, also when two processes race. The engine has already
   * validated each graph.
   */
  createRuns(runs: NewRun[]): Promise<{ created: boolean; run: RunRecord }[]>;
  /** Leases up to `limit` ready steps, honouring every queue's limits across processes. */
  claim(request: ClaimRequest): Promise<ClaimResult>;
  /** Writes a batch of outcomes; each one only if its lease is still held. */
  complete(outcomes: StepOutcome[]): Promise<CompletionResult[]>;
  /** Extends the leases still held to `expiresAt`; returns the ones that are not. */
  heartbeat(leases: LeaseRef[], expiresAt: number, now: number): Promise<LeaseRef[]>;
  /** Gives leases back without spending an attempt (graceful shutdown). */
  release(leases: LeaseRef[], now: number): Promise<void>;
  /** Puts steps whose lease expired back to `ready`, or fails them after `maxReclaims`. */
  reclaimExpired(now: number, maxReclaims: number): Promise<ReclaimResult>;
  getRun(runId: string): Promise<RunRecord | undefined>;
  listRuns(query: ListRunsQuery): Promise<RunRecord[]>;
  getSteps(runId: string): Promise<StepRecord[]>;
  getResult(runId: string, stepId: string): Promise<ResultRecord | undefined>;
  readArtifact(runId: string, artifactId: string): Promise<{ artifact: StoredArtifact; body: Uint8Array } | undefined>;
  /** Operator retry; throws `not_found` / `invalid_state` WorkflowErrors. */
  retryStep(runId: string, stepId: string, now: number): Promise<void>;
  /** Operator cancel; throws `not_found` / `invalid_state` WorkflowErrors. */
  cancelRun(runId: string, now: number): Promise<void>;
  /**
   * Optional: calls `onChange` when another connection (in this process or
   * another) may have made work ready, so idle workers claim at once instead of
   * at their next poll. A hint: spurious calls are fine, missed ones cost a poll.
   * An adapter that knows more says so with an event (see `StoreEvent`).
   * Returns the unsubscribe function.
   */
  subscribe?(onChange: (event?: StoreEvent) => void): () => void;
  /**
   * Optional: how many writes the engine may have in flight at once (default 1).
   * A store on a server gains from 2: one completion batch's round trips overlap
   * another's, and the next claim overlaps both. An embedded store whose writes
   * are synchronous gains nothing and loses batch size, so it leaves this at 1.
   */
  readonly writeConcurrency?: number;
  close(): Promise<void>;
}
