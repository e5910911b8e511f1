/**
 * The schedule records that cross the store seam (`rt.schedule`). Like the
 * run records: times are epoch milliseconds, the input is superjson text. The
 * engine computes every tick (cron, time zone); the store only keeps them and
 * moves `nextFireAt` forward with a compare-and-set.
 */
import type { Encoded } from "./store-records.js";

export type ScheduleOverlap = "allow" | "skip" | "cancel-previous";
export type ScheduleCatchUp = "none" | "latest" | "all";
/** What became of a tick: a run `started`, `skipped` (overlap or catch-up), or the start `failed`. */
export type ScheduleTickOutcome = "started" | "skipped" | "failed";

/** A schedule to create or update (`putSchedule`). */
export interface NewSchedule {
  id: string;
  cron: string;
  timezone: string;
  package: string;
  input: Encoded;
  overlap: ScheduleOverlap;
  catchUp: ScheduleCatchUp;
  /**
   * The first tick after now under this cron and time zone. An update that
   * keeps the stored cron and time zone keeps the stored next fire time
   * instead (an application that declares its schedules at every start must
   * not lose the ticks its downtime missed); one that changes them takes this.
   */
  nextFireAt: number | undefined;
  now: number;
}

export interface ScheduleRecord {
  id: string;
  cron: string;
  timezone: string;
  package: string;
  input: Encoded;
  overlap: ScheduleOverlap;
  catchUp: ScheduleCatchUp;
  paused: boolean;
  /** The next tick to fire; undefined once the expression has no future tick. */
  nextFireAt?: number;
  /** The last tick handled (fired, skipped or failed). */
  lastTickAt?: number;
  lastOutcome?: ScheduleTickOutcome;
  /** The run of the last tick that started one. */
  lastRunId?: string;
  /** Why the last tick's start failed. */
  lastError?: string;
  /** Ticks not fired: skipped by the overlap policy or left behind by catch-up. */
  skippedTicks: number;
  createdAt: number;
  updatedAt: number;
}

/**
 * Moves a schedule past a tick (`advanceSchedule`): written only while its
 * stored next fire time is still `expected`, so that of two processes handling
 * the same tick one advances it and the other learns that it lost.
 */
export interface ScheduleAdvance {
  id: string;
  /** The stored next fire time this advance starts from. */
  expected: number;
  /** The tick after the handled one (undefined: none left). */
  next: number | undefined;
  /** The tick handled. */
  tick: number;
  outcome: ScheduleTickOutcome;
  /** The run the tick started (`started`); the store logs `run_scheduled` in its event log. */
  runId?: string;
  error?: string;
  /** Ticks passed over without firing on the way (catch-up), plus this one if skipped. */
  skipped: number;
  now: number;
}
