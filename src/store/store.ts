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
import type { RunStatus } from "../types.js";
import type {
  ClaimRequest,
  ClaimResult,
  CompletionResult,
  CreatedRun,
  LeaseRef,
  NewRun,
  OperatorNote,
  ReclaimResult,
  RunRecord,
  StartLease,
  StepOutcome,
  StepRecord,
  ResultRecord,
  StoredArtifact,
} from "./store-records.js";
import type {
  EventRecord,
  FailedStepsQuery,
  KindCount,
  ListRunsQuery,
  NewSignal,
  PurgeResult,
  StepCount,
  StoreEvent,
} from "./read-records.js";
import type { NewSchedule, ScheduleAdvance, ScheduleRecord } from "./schedule-records.js";

export type * from "./store-records.js";
export type * from "./read-records.js";
export type * from "./schedule-records.js";

/** Opens a store. `sqliteStore(...)` and `postgresStore(...)` return one of these. */
export interface StoreConfig {
  /** A short label for logs and errors, e.g. `"sqlite"`. */
  readonly name: string;
  /** Opens connections and applies migrations; safe to call from many processes at once. */
  open(): Promise<Store>;
}

/** The commands every adapter implements. Each is atomic: one transaction, or one statement. */
export interface Store {
  // ---- runs ------------------------------------------------------------------

  /**
   * Inserts runs with their initial steps, all in one transaction. A run whose id
   * exists already is not written again: it comes back as stored, with
   * `created: false`, also when two processes race. The engine has already
   * validated each graph. With a `lease`, the adapter may lease the new runs'
   * first ready steps to the caller in the same transaction (see `StartLease`).
   */
  createRuns(runs: NewRun[], lease?: StartLease): Promise<CreatedRun[]>;

  // ---- claiming and leases ---------------------------------------------------

  /**
   * Leases up to `limit` ready steps in one transaction, honouring every queue's
   * limits (`policyFor`) across processes, and returns each with its run and
   * its dependencies' results. A step is leased to one worker at a time.
   */
  claim(request: ClaimRequest): Promise<ClaimResult>;
  /** Extends the leases still held to `expiresAt`, in one transaction; returns the ones that are not held. */
  heartbeat(leases: LeaseRef[], expiresAt: number, now: number): Promise<LeaseRef[]>;
  /** Gives leases back without spending an attempt (graceful shutdown); fenced by token. */
  release(leases: LeaseRef[], now: number): Promise<void>;
  /** Puts steps whose lease expired back to `ready`, or fails them with `lease_expired` past `maxReclaims`. */
  reclaimExpired(now: number, maxReclaims: number): Promise<ReclaimResult>;
  /**
   * Puts `waiting` steps whose `wake_at <= now` back to `ready`; returns how
   * many. Cheap when there are none (the engine calls it at due times).
   */
  wakeDue(now: number): Promise<number>;

  // ---- completion --------------------------------------------------------------

  /**
   * Writes a batch of outcomes in one transaction: each one only if its lease is
   * still held (fencing: `stale` otherwise, nothing written), with its effects,
   * its dependents readied or skipped and its run finished when it was the
   * last step. A step whose emitted graph does not fit its run fails alone
   * (`GRAPH_CONFLICTS`); the rest of the batch commits.
   */
  complete(outcomes: StepOutcome[]): Promise<CompletionResult[]>;

  // ---- operator control --------------------------------------------------------

  /**
   * Operator retry: a failed or canceled step, and the skipped or canceled steps
   * downstream of it, run again (`planRetry`). `not_found` / `invalid_state`.
   * Each operator command writes its `note` (who, why) into the data of the
   * event it logs (here `operator_retry`).
   */
  retryStep(runId: string, stepId: string, now: number, note?: OperatorNote): Promise<void>;
  /**
   * Operator cancel; throws `not_found` / `invalid_state` WorkflowErrors. Cancels
   * the run's unfinished child runs (and theirs) in the same transaction;
   * returns the ids of every run it canceled, this one first. `note`: in the
   * `operator_cancel` event.
   */
  cancelRun(runId: string, now: number, note?: OperatorNote): Promise<string[]>;
  /**
   * Stores a signal for a run and wakes its steps waiting for it (`waitFor =
   * "signal:" + name`; running ones are locked so a racing wait sees the
   * signal). `not_found` for an unknown run, `invalid_state` for a finished
   * one. `delivered: false` when a signal with this id exists already (checked
   * first: a retried delivery gets the same answer after the run finished).
   */
  signal(signal: NewSignal): Promise<{
    /** False when a signal with this id existed already (nothing was written). */
    delivered: boolean;
  }>;
  /** `running`/`pending` → `paused`; its steps are not claimed until resumed. `not_found` / `invalid_state`. `note`: in `run_paused`. */
  pauseRun(runId: string, now: number, note?: OperatorNote): Promise<void>;
  /** `paused` → `running` (finished at once if nothing is left to do). `not_found` / `invalid_state`. `note`: in `run_resumed`. */
  resumeRun(runId: string, now: number, note?: OperatorNote): Promise<void>;

  // ---- schedules ----------------------------------------------------------------
  // The engine computes ticks; the store keeps schedules and fences their
  // advance. `claim` reports the earliest future `nextFireAt` of an unpaused
  // schedule in `nextDueAt`, so that idle workers wake for it.

  /**
   * Creates or replaces a schedule and returns it as stored. Replacing keeps
   * its pause, last tick and counters, and its next fire time when cron and
   * time zone are unchanged (see `NewSchedule.nextFireAt`).
   */
  putSchedule(schedule: NewSchedule): Promise<ScheduleRecord>;
  /** The schedule, or undefined. */
  getSchedule(id: string): Promise<ScheduleRecord | undefined>;
  /** Every schedule, by id. */
  listSchedules(): Promise<ScheduleRecord[]>;
  /** Deletes a schedule; false if there was none. Runs it started stay. */
  deleteSchedule(id: string): Promise<boolean>;
  /**
   * Pauses or resumes a schedule; resuming sets its next fire time to
   * `nextFireAt` (ticks that passed while paused are not fired). Returns it as
   * stored, or undefined for an unknown id.
   */
  setSchedulePaused(id: string, paused: boolean, nextFireAt: number | undefined, now: number): Promise<ScheduleRecord | undefined>;
  /** Unpaused schedules whose `nextFireAt <= now`, earliest first, at most `limit`. */
  dueSchedules(now: number, limit: number): Promise<ScheduleRecord[]>;
  /**
   * Moves a schedule past a tick, only if its next fire time is still
   * `advance.expected` (compare-and-set); returns whether it did. With a
   * `runId`, logs `run_scheduled` (`{ schedule, tick }`) in that run's event
   * log in the same transaction.
   */
  advanceSchedule(advance: ScheduleAdvance): Promise<boolean>;

  // ---- reads (no transaction needed beyond one statement's snapshot) ------------

  /** The run with its `failedSteps` count, or undefined. */
  getRun(runId: string): Promise<RunRecord | undefined>;
  /**
   * Runs newest first, each with its `failedSteps` count, filtered in the
   * database by every field of the query (one statement); `not_found` for an
   * unknown `after`.
   */
  listRuns(query: ListRunsQuery): Promise<RunRecord[]>;
  /** The run's steps in creation order, each with its dependencies (none for an unknown run). */
  getSteps(runId: string): Promise<StepRecord[]>;
  /** A finished step's result, records, artifacts and error; undefined while it has none. */
  getResult(runId: string, stepId: string): Promise<ResultRecord | undefined>;
  /** An artifact of the run with its bytes (empty for one kept in an `ArtifactStore`), or undefined. */
  readArtifact(runId: string, artifactId: string): Promise<{
    /** The artifact's record. */
    artifact: StoredArtifact;
    /** Its bytes (empty when they are in an `ArtifactStore`). */
    body: Uint8Array;
  } | undefined>;
  /** The run's event log, oldest first. */
  getEvents(runId: string): Promise<EventRecord[]>;
  /** Failed steps across runs, most recently failed first. `not_found` for an unknown `after`. */
  listFailedSteps(query: FailedStepsQuery): Promise<StepRecord[]>;
  /**
   * Per queue, how many steps are ready, running and waiting, over every run
   * (queues with none of them left out), in queue name order. One statement
   * (`stepCountsSql` / `foldStepCounts` in the kit); read at a bounded rate
   * by the queue gauges and `rt.stats()`.
   */
  countSteps(): Promise<StepCount[]>;
  /**
   * Per kind, how many steps are ready, over every run (kinds with none left
   * out), in kind order. One statement (`readyKindsSql` in the kit); the engine
   * reads it at a bounded rate to tell which ready steps wait for a kind no
   * executor of its process runs (`rt.stats().missingKinds`).
   */
  countReadyKinds(): Promise<KindCount[]>;

  // ---- maintenance -------------------------------------------------------------

  /**
   * Deletes up to `limit` runs finished (status in `statuses`) before
   * `finishedBefore`, with their steps, edges, artifacts, signals and events,
   * in one transaction. Returns how many runs it deleted, and the ids of their
   * artifacts kept in an `ArtifactStore` (those with a `uri`): the runtime
   * deletes their bodies there once this has committed.
   */
  purge(finishedBefore: number, statuses: readonly RunStatus[], limit: number): Promise<PurgeResult>;
  /** Releases connections. Idempotent. */
  close(): Promise<void>;

  // ---- optional ----------------------------------------------------------------

  /**
   * Optional: delivers, after each commit, the events this store object wrote
   * in it (hooks, `rt.on`). Set only while someone listens; an adapter may
   * capture events only while it is set. An observer that throws fails neither
   * the write nor the other observers (`deliverEvents`). Returns the unsubscribe function.
   */
  observeEvents?(listener: (events: EventRecord[]) => void): () => void;
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
}
