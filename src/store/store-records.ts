/**
 * The records that cross the store seam: what the engine hands a store to
 * write (new runs and steps, outcomes, leases, queries) and what a store gives
 * back (runs, steps, results, events). Payloads are encoded text, times epoch
 * milliseconds. The `Store` interface itself is in `store.ts`.
 */
import type { DependencyOn, RunEventType, RunStatus, StepStatus } from "../types.js";
import type { ResolvedRetryPolicy } from "../retry.js";

/** A value encoded by the engine (superjson text). Adapters store it verbatim. */
export type Encoded = string;

export interface RunRecord {
  id: string;
  package: string;
  name: string;
  status: RunStatus;
  input: Encoded;
  metadata: Record<string, string>;
  createdAt: number;
  updatedAt: number;
  /** A child run: the run and step that started it (woken when this run finishes). */
  parentRunId?: string;
  parentStepId?: string;
  /** The step whose result is the run's output (`run.output(handle)`). */
  outputStep?: string;
  /**
   * How many of its steps are `failed`: counted by `getRun` and `listRuns`
   * (cheaply, from an index of failed steps), absent elsewhere (a new run, a
   * claimed step's run).
   */
  failedSteps?: number;
}

/**
 * Who performed an operator action and why. The adapter writes it, as the
 * JSON text of `operatorNoteData` (store kit), into the `data` of the event
 * the action logs, in the action's transaction.
 */
export interface OperatorNote {
  actor?: string;
  reason?: string;
}

/** A dependency edge as the store keeps it: `on` resolved (see `dependencyOn`). */
export interface StoredDependency {
  stepId: string;
  on: DependencyOn;
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
  dependsOn: StoredDependency[];
  retry: ResolvedRetryPolicy;
  metadata: Record<string, string>;
  /** Higher is claimed first among the ready steps of a queue. */
  priority: number;
  parentId?: string;
  dedupKey?: string;
  site?: string;
  /** Not ready before this instant (epoch ms): `ready_at` is at least this. */
  notBefore?: number;
  /** ms added to the instant the step becomes ready (its dependencies done). */
  delay?: number;
  /** ms one attempt may run (enforced by the engine). */
  timeout?: number;
  /** A built-in wait's target, matched by signal delivery and child-run completion: `signal:<name>` or `run:<id>`. */
  waitFor?: string;
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
  dependsOn: StoredDependency[];
  parentId?: string;
  dedupKey?: string;
  site?: string;
  metadata: Record<string, string>;
  lastError?: StepErrorRecord;
  readyAt?: number;
  notBefore?: number;
  delay?: number;
  timeout?: number;
  waitFor?: string;
  /** Set by a `wait` outcome: when the wait ends by itself. Kept after the wait, cleared by an operator retry. */
  wakeAt?: number;
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

/**
 * Leases asked for with `createRuns` by a worker of this process that is idle:
 * the new runs' first ready steps go to it in the same transaction, so they start
 * without a claim (one round trip less between a start and its first step).
 * Only steps that are ready now, in a queue `eligible` says has no limits, and at
 * most `limit` of them. The leases are the same as a claim's: attempt 1, events
 * `step_ready` then `step_claimed`. An adapter may ignore the request (the
 * steps are then claimed as usual).
 */
export interface StartLease {
  workerId: string;
  now: number;
  leaseDuration: number;
  limit: number;
  eligible(queue: string): boolean;
  /**
   * Told of each lease before the write that takes it commits. When the answer
   * of `createRuns` is lost (the commit may have happened), the caller gives
   * these back with `release` instead of leaving the steps leased until their
   * lease expires; `release` is fenced by token, so a lease that was never
   * committed releases nothing. `StartLeases.take` calls it.
   */
  onLease?(lease: LeaseRef): void;
}

/** What `createRuns` did with one run. */
export interface CreatedRun {
  /** False: a run with this id existed already; `run` is the stored one and nothing was written. */
  created: boolean;
  run: RunRecord;
  /** Its steps leased with the `StartLease`, if any. */
  claimed?: ClaimedStep[];
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
    | WaitOutcome
  );

/**
 * A built-in wait (sleep, signal, child run) parks its step as `waiting`, lease
 * given back, attempt not spent, until something wakes it back to `ready` (the
 * executor then runs again and decides). In the same transaction, in order:
 * 1. `consume`: if an unconsumed signal named `consume.name` exists for the run,
 *    the oldest is marked consumed by this step and the step SUCCEEDS with the
 *    signal's payload as its result (a plain success: dependents, run finish).
 *    Otherwise, if `wakeAt <= now`, the step FAILS with `consume.timeoutError`.
 * 2. `childRunId`: if that run has finished, the step goes straight to `ready`.
 * 3. Otherwise it is parked: `waiting`, `wake_at = wakeAt` (none: only a
 *    signal or the child's end wakes it).
 * The step's row is locked (written) before the signal or child is looked at,
 * so a delivery racing the wait either is seen here or sees the step waiting.
 */
export interface WaitOutcome {
  status: "wait";
  wakeAt?: number;
  consume?: { name: string; timeoutError: StepErrorRecord };
  childRunId?: string;
}

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

/** `listRuns`: every field given must match; newest first from `after` (a run id). */
export interface ListRunsQuery {
  status?: RunStatus;
  package?: string;
  /** `created_at >= createdFrom` (epoch ms). */
  createdFrom?: number;
  /** `created_at <= createdTo` (epoch ms). */
  createdTo?: number;
  /** Each key has exactly this value in the run's metadata. */
  metadata?: Record<string, string>;
  /** The id starts with this text, compared character by character (no pattern, no collation). */
  idPrefix?: string;
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
  | { type: "canceled"; runId: string }
  /**
   * A commit that made no work ready changed these runs (they finished, were
   * paused, got a signal nothing waited for); `runIds` absent: some runs.
   * For observers (`waitForRun`, live views), not for workers: nothing to claim.
   */
  | { type: "changed"; runIds?: string[] };

/** A signal to deliver (`rt.signal`). */
export interface NewSignal {
  runId: string;
  name: string;
  /** Idempotency key: a second signal with the same id for the same run is not stored. */
  id: string;
  payload: Encoded;
  now: number;
  /** Who sent it and why: added to the `signal_received` event's data. */
  note?: OperatorNote;
}

/** An event log entry as the store keeps it. */
export interface EventRecord {
  seq: number;
  runId: string;
  at: number;
  type: RunEventType;
  stepId?: string;
  attempt?: number;
  workerId?: string;
  error?: StepErrorRecord;
  /** JSON text. */
  data?: string;
}

export interface FailedStepsQuery {
  package?: string;
  kind?: string;
  queue?: string;
  code?: string;
  limit: number;
  after?: { runId: string; stepId: string };
}

/** What one `Store.purge` call deleted. */
/** The steps of one queue in the statuses an operator watches (`Store.countSteps`). */
export interface StepCount {
  queue: string;
  /** Ready to run, also those due later (a retry's backoff) or of a paused run. */
  ready: number;
  /** Leased to a worker. */
  running: number;
  /** Built-in waits parked (sleep, signal, child run). */
  waiting: number;
}

export interface PurgeResult {
  /** Runs deleted. */
  runs: number;
  /** Ids of the deleted runs' artifacts that live in an `ArtifactStore`. */
  storedArtifacts: string[];
}
