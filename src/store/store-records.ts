/**
 * The records that cross the store seam for writes and claims: what the engine
 * hands a store to write (new runs and steps, outcomes, leases) and the runs and
 * steps it gets back. What reads, queries and notifications carry is in
 * `read-records.ts`. Payloads are encoded text, times epoch milliseconds. The
 * `Store` interface itself is in `store.ts`.
 */
import type { DependencyOn, RunStatus, StepStatus } from "../types.js";
import type { ResolvedRetryPolicy } from "../retry.js";

/** A value encoded by the engine (superjson text). Adapters store it verbatim. */
export type Encoded = string;

/** A run as the store keeps it (`WorkflowRun` is the public form). */
export interface RunRecord {
  /** Unique in the store; `createRuns` writes nothing for an id it has. */
  id: string;
  /** The name of the package the run runs. */
  package: string;
  /** The run's display name. */
  name: string;
  /** Where the run is in its life. */
  status: RunStatus;
  /** The run input, encoded. */
  input: Encoded;
  /** String key/values kept with the run. */
  metadata: Record<string, string>;
  /** When the run was created (epoch ms). */
  createdAt: number;
  /** The run's last transition (epoch ms); for a finished run, when it finished. */
  updatedAt: number;
  /** A child run: the run and step that started it (woken when this run finishes). */
  parentRunId?: string;
  /** A child run: the id of the step in `parentRunId` that started it. */
  parentStepId?: string;
  /** The step whose result is the run's output (`run.output(handle)`). */
  outputStep?: string;
  /** The version of its package the run started with (absent for an unversioned package). */
  packageVersion?: string;
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
  /** Who acted (at most 200 characters). */
  actor?: string;
  /** Why (at most 1 000 characters). */
  reason?: string;
}

/** A dependency edge as the store keeps it: `on` resolved (see `dependencyOn`). */
export interface StoredDependency {
  /** The id of the step waited for, in the same run. */
  stepId: string;
  /** The state it must reach. */
  on: DependencyOn;
}

/** A run to insert with its first steps. */
export interface NewRun {
  /** The run, `status` already set (`running`). */
  run: RunRecord;
  /** Its first steps, as the entrypoint laid them out (checked: ids unique, no cycle). */
  steps: NewStep[];
}

/** A step to insert, at run start or emitted by a completing step. */
export interface NewStep {
  /** Unique within the run. */
  id: string;
  /** The executor kind that runs it. */
  kind: string;
  /** The queue it is claimed from. */
  queue: string;
  /** The step input, encoded. */
  input: Encoded;
  /** The steps it waits for (see `planSteps` for how they are inserted). */
  dependsOn: StoredDependency[];
  /** Its retry policy; `retry.maxAttempts` is stored as the step's `maxAttempts`. */
  retry: ResolvedRetryPolicy;
  /** String key/values kept with the step. */
  metadata: Record<string, string>;
  /** Higher is claimed first among the ready steps of a queue. */
  priority: number;
  /** The step it is grouped under; when absent, an emitted step gets the id of the step that emitted it. */
  parentId?: string;
  /** A step whose key is already held in the run is not created; dependencies on it wait for the holder. */
  dedupKey?: string;
  /** A free label, stored as given. */
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

/** A failure as the store keeps it (`StepError` is the public form). */
export interface StepErrorRecord {
  /** The error code, e.g. `timeout` or one an executor chose. */
  code: string;
  /** Human-readable description. */
  message: string;
  /** Whether another attempt could succeed. */
  retryable: boolean;
  /** Encoded details, if any. */
  details?: Encoded;
  /** When the attempt failed (epoch ms). */
  occurredAt: number;
}

/** A step's lease as the store keeps it (`Lease` is the public form). */
export interface LeaseRecord {
  /** The worker that holds it. */
  workerId: string;
  /** Unique to this lease, new at every claim: writes are fenced by it. */
  token: string;
  /** When it was taken (epoch ms). */
  acquiredAt: number;
  /** When it lapses (epoch ms) unless a heartbeat extends it. */
  expiresAt: number;
}

/** A step as the store keeps it (`StepInfo` is the public form). */
export interface StepRecord {
  /** The run it belongs to. */
  runId: string;
  /** Unique within the run. */
  id: string;
  /** The executor kind that runs it. */
  kind: string;
  /** The queue it is claimed from. */
  queue: string;
  /** Where the step is in its life. */
  status: StepStatus;
  /** The step input, encoded. */
  input: Encoded;
  /** Attempts started so far (the first is 1); a lease given back or reclaimed and a parked wait do not count, an operator retry resets it to 0. */
  attempt: number;
  /** `retry.maxAttempts`, kept in its own column. */
  maxAttempts: number;
  /** How many times its lease expired and it was put back to `ready`. */
  reclaims: number;
  /** Higher is claimed first among the ready steps of its queue. */
  priority: number;
  /** Its retry policy, as inserted. */
  retry: ResolvedRetryPolicy;
  /** The steps it waits for. */
  dependsOn: StoredDependency[];
  /** The step it is grouped under (by default the step that emitted it). */
  parentId?: string;
  /** The key it was created with. */
  dedupKey?: string;
  /** A free label, as given. */
  site?: string;
  /** String key/values kept with the step. */
  metadata: Record<string, string>;
  /** The error of its most recent failed attempt (kept after a later success); the current error when `status` is `failed`. */
  lastError?: StepErrorRecord;
  /** When it last became, or will become, claimable (epoch ms); absent until first ready. */
  readyAt?: number;
  /** As inserted: not ready before this instant (epoch ms). */
  notBefore?: number;
  /** As inserted: ms added to the instant it becomes ready. */
  delay?: number;
  /** As inserted: ms one attempt may run. */
  timeout?: number;
  /** A built-in wait's target: `signal:<name>` or `run:<id>`. */
  waitFor?: string;
  /** Set by a `wait` outcome: when the wait ends by itself. Kept after the wait, cleared by an operator retry. */
  wakeAt?: number;
  /** When its latest attempt was claimed (epoch ms). */
  startedAt?: number;
  /** When it reached a finished status (epoch ms); cleared by an operator retry. */
  finishedAt?: number;
  /** When it was inserted (epoch ms). */
  createdAt: number;
  /** Its last change (epoch ms). */
  updatedAt: number;
  /** Present while it is `running`. */
  lease?: LeaseRecord;
}

/** A step just leased to this worker, with its run. */
export interface ClaimedStep {
  /** The step, now `running`, with the lease just taken. */
  step: StepRecord & {
    /** The lease this claim took. */
    lease: LeaseRecord;
  };
  /** The step's run. */
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
  /** A token bucket shared across processes; absent: no rate limit. */
  rateLimit?: {
    /** Tokens added per second; each claimed step takes one. */
    ratePerSecond: number;
    /** The bucket's size: steps that may start at once after an idle period. */
    burst: number;
  };
}

/**
 * Leases asked for with `createRuns` by a worker of this process that is idle:
 * the new runs' first ready steps go to it in the same transaction, so they start
 * without a claim (one round trip less between a start and its first step).
 * Only steps that are ready now, whose queue and kind `eligible` accepts (a
 * queue with no limits, a kind this process runs), and at most `limit` of them. The leases are the same as a claim's: attempt 1, events
 * `step_ready` then `step_claimed`. An adapter may ignore the request (the
 * steps are then claimed as usual).
 */
export interface StartLease {
  /** The worker the leases go to. */
  workerId: string;
  /** The current time (epoch ms): the leases' `acquiredAt`. */
  now: number;
  /** ms: the leases expire at `now + leaseDuration`. */
  leaseDuration: number;
  /** At most this many steps, over every run of the call. */
  limit: number;
  /** Whether steps of this queue and kind may be leased here: only a queue without limits (`isUnlimited`), and a kind this process runs. */
  eligible(queue: string, kind: string): boolean;
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
  /** The run as stored. */
  run: RunRecord;
  /** Its steps leased with the `StartLease`, if any. */
  claimed?: ClaimedStep[];
}

/** What `Store.claim` is asked for. */
export interface ClaimRequest {
  /** The worker the leases go to. */
  workerId: string;
  /** At most this many steps. */
  limit: number;
  /** The current time (epoch ms): steps whose `readyAt` is later are not claimed. */
  now: number;
  /** ms: the leases expire at `now + leaseDuration`. */
  leaseDuration: number;
  /** The limits of a queue, resolved from `RuntimeConfig.queues` (an unconfigured queue other than `"default"` runs one step at a time). */
  policyFor(queue: string): QueuePolicy;
  /**
   * The step kinds this worker can run. When given, only ready steps of these
   * kinds are leased; the others stay ready for a worker that has them (and do
   * not count against this claim's limit). Undefined: every kind.
   */
  kinds?: readonly string[];
}

/** What `Store.claim` leased. */
export interface ClaimResult {
  /** The steps leased; possibly none. */
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
  /** Unique within the run (`duplicate_artifact` otherwise). */
  id: string;
  /** Human-readable name, e.g. `report.md`. */
  name: string;
  /** Free-form category (inferred from the content type or name when the step gave none). */
  kind: string;
  /** MIME type of the bytes. */
  contentType: string;
  /** String key/values kept with the artifact. */
  metadata: Record<string, string>;
  /** The bytes; empty when `uri` is set. */
  body: Uint8Array;
  /** Where an `ArtifactStore` holds the bytes; absent for an inline artifact. */
  uri?: string;
  /** Byte length of the artifact's bytes (wherever they are). */
  size: number;
}

/** Identifies a held lease. */
export interface LeaseRef {
  /** The run of the leased step. */
  runId: string;
  /** The leased step. */
  stepId: string;
  /** The lease's token: the command does nothing for a step leased under another. */
  token: string;
}

/** The outcome of one attempt, to be written only if the lease is still held. */
export type StepOutcome = LeaseRef & {
  /** When the attempt ended (epoch ms). */
  now: number;
} & (
    | {
        /** The step succeeded: its dependents are readied or skipped. */
        status: "succeeded";
        /** The result data, encoded. */
        result: Encoded;
        /** Encoded `RecordWrite[]`, or undefined when the step wrote none. */
        records?: Encoded;
        /** Artifacts to insert with the result. */
        artifacts: ArtifactRecord[];
        /** Steps the step emitted, inserted into its run (`parentId` defaulting to the step). */
        emitted: NewStep[];
      }
    | {
        /** A retryable failure with attempts left: the step goes back to `ready` at `readyAt`. */
        status: "retry";
        /** The failure, kept as the step's `lastError`. */
        error: StepErrorRecord;
        /** When the next attempt may be claimed (epoch ms): now plus the backoff. */
        readyAt: number;
      }
    | {
        /** A permanent failure (or attempts used up): the step is `failed`. */
        status: "failed";
        /** The failure. */
        error: StepErrorRecord;
      }
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
  /** Park the step (see above). */
  status: "wait";
  /** When the wait ends by itself (epoch ms); absent: only a signal or the child's end wakes it. */
  wakeAt?: number;
  /** A signal wait: the signal it takes, and the failure once `wakeAt` has passed without one. */
  consume?: {
    /** The signal's name. */
    name: string;
    /** The error the step fails with when `wakeAt <= now` and no signal came. */
    timeoutError: StepErrorRecord;
  };
  /** A child-run wait: the child run's id. */
  childRunId?: string;
}

/**
 * What became of an outcome: written; discarded because the lease was no longer
 * held (expired and reclaimed, or the run was canceled); or turned into a
 * permanent failure because its emitted steps (or artifact ids) did not fit the run.
 */
export type CompletionResult =
  | {
      /** The outcome was written. */
      status: "applied";
    }
  | {
      /** Nothing was written: the lease was no longer held. */
      status: "stale";
    }
  | {
      /** The step failed instead, with `error`. */
      status: "rejected";
      /** Why the outcome did not fit its run: a `GRAPH_CONFLICTS` code (`duplicate_step`, `unknown_dependency`, `duplicate_artifact`). */
      error: StepErrorRecord;
    };

/** What `Store.reclaimExpired` did. */
export interface ReclaimResult {
  /** Put back to `ready`. */
  reclaimed: number;
  /** Failed with `lease_expired` after too many reclaims. */
  failed: number;
}

/** An artifact as the store gives it back, without its bytes. */
export interface StoredArtifact extends Omit<ArtifactRecord, "body"> {
  /** The step whose success wrote it. */
  stepId: string;
  /** Byte length of the artifact's bytes (wherever they are). */
  size: number;
}

/** A finished step's result as the store keeps it (`StepResult` is the public form). */
export interface ResultRecord {
  /** The step it belongs to. */
  stepId: string;
  /** The result data, encoded; absent when the step failed. */
  result?: Encoded;
  /** Encoded `RecordWrite[]`; absent when the step wrote none. */
  records?: Encoded;
  /** Ids of the steps its success created (emitted steps not created for their `dedupKey` left out). */
  emittedIds: string[];
  /** The error of its last attempt, when the step failed. */
  error?: StepErrorRecord;
  /** When the attempt that wrote it ended (epoch ms). */
  completedAt: number;
  /** The artifacts written with its success. */
  artifacts: StoredArtifact[];
}
