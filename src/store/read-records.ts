/**
 * The records of the store's reads, queries and notifications: results,
 * events, filters, counts, and the `StoreEvent`s a store emits. The records of
 * writes and claims are in `store-records.ts`.
 */
import type { RunEventType, RunStatus } from "../types.js";
import type { Encoded, OperatorNote, StepErrorRecord } from "./store-records.js";

/** `listRuns`: every field given must match; newest first from `after` (a run id). */
export interface ListRunsQuery {
  /** Only runs in this status. */
  status?: RunStatus;
  /** Only runs of this package name. */
  package?: string;
  /** Only runs started with this version of their package. */
  packageVersion?: string;
  /** `created_at >= createdFrom` (epoch ms). */
  createdFrom?: number;
  /** `created_at <= createdTo` (epoch ms). */
  createdTo?: number;
  /** Each key has exactly this value in the run's metadata. */
  metadata?: Record<string, string>;
  /** The id starts with this text, compared character by character (no pattern, no collation). */
  idPrefix?: string;
  /** At most this many runs (`rt.listRuns` passes 100 unless given another). */
  limit: number;
  /** Cursor: the runs after this run id, newest first. */
  after?: string;
}

/**
 * What a wake-up tells the workers, when the adapter knows more than "something
 * changed" (no event means `ready`).
 */
export type StoreEvent =
  /** Work may be claimable now. */
  | {
      /** Work may be claimable now. */
      type: "ready";
    }
  /** Work becomes claimable at `at` (epoch ms): a retry's backoff, say. */
  | {
      /** Work becomes claimable at `at`. */
      type: "due";
      /** When (epoch ms). */
      at: number;
    }
  /** A run was canceled: abort its steps running in this process. */
  | {
      /** A run was canceled. */
      type: "canceled";
      /** The canceled run. */
      runId: string;
    }
  /**
   * A commit that made no work ready changed these runs (they finished, were
   * paused, got a signal nothing waited for); `runIds` absent: some runs.
   * For observers (`waitForRun`, live views), not for workers: nothing to claim.
   */
  | {
      /** Runs changed by a commit that made no work ready. */
      type: "changed";
      /** The runs it changed; absent: some runs (too many to name). */
      runIds?: string[];
    };

/** A signal to deliver (`rt.signal`). */
export interface NewSignal {
  /** The run it is sent to. */
  runId: string;
  /** The signal's name: it wakes the run's steps waiting for `signal:<name>`. */
  name: string;
  /** Idempotency key: a second signal with the same id for the same run is not stored. */
  id: string;
  /** The payload, encoded: the result of the step that consumes the signal. */
  payload: Encoded;
  /** When it was sent (epoch ms). */
  now: number;
  /** Who sent it and why: added to the `signal_received` event's data. */
  note?: OperatorNote;
}

/** An event log entry as the store keeps it. */
export interface EventRecord {
  /** Increases across the store: the order things happened in. */
  seq: number;
  /** The run it belongs to. */
  runId: string;
  /** When it happened (epoch ms). */
  at: number;
  /** Which transition it was. */
  type: RunEventType;
  /** The step concerned; absent for a run event. */
  stepId?: string;
  /** The step's attempt number, on the events of an attempt (see `RunEvent.attempt`). */
  attempt?: number;
  /** The worker that held (or took) the lease, on the events of a leased step. */
  workerId?: string;
  /** The failure, on `step_failed` and `step_retry_scheduled`. */
  error?: StepErrorRecord;
  /** JSON text (see `RunEvent.data`). */
  data?: string;
}

/** What `Store.listFailedSteps` is asked for. */
export interface FailedStepsQuery {
  /** Only steps of runs of this package name. */
  package?: string;
  /** Only steps of this executor kind. */
  kind?: string;
  /** Only steps of this queue. */
  queue?: string;
  /** Only steps whose error has this code. */
  code?: string;
  /** At most this many steps. */
  limit: number;
  /** Cursor: the last step of the previous page (`not_found` when it is not a failed step). */
  after?: {
    /** The run of that step. */
    runId: string;
    /** That step's id. */
    stepId: string;
  };
}

/** The steps of one queue in the statuses an operator watches (`Store.countSteps`). */
export interface StepCount {
  /** The queue's name. */
  queue: string;
  /** Ready to run, also those due later (a retry's backoff) or of a paused run. */
  ready: number;
  /** Leased to a worker. */
  running: number;
  /** Built-in waits parked (sleep, signal, child run). */
  waiting: number;
}

/** How many steps of one kind are ready (`Store.countReadyKinds`). */
export interface KindCount {
  /** The step kind. */
  kind: string;
  /** Ready to run, also those due later or of a paused run. */
  ready: number;
}

/** What one `Store.purge` call deleted. */
export interface PurgeResult {
  /** Runs deleted. */
  runs: number;
  /** Ids of the deleted runs' artifacts that live in an `ArtifactStore`. */
  storedArtifacts: string[];
}
