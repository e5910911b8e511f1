/**
 * The schedule records that cross the store seam (`rt.schedule`). Like the
 * run records: times are epoch milliseconds, the input is superjson text. The
 * engine computes every tick (cron, time zone); the store only keeps them and
 * moves `nextFireAt` forward with a compare-and-set.
 */
import type { Encoded } from "./store-records.js";

/**
 * What a tick does while the run of the schedule's previous started tick is
 * unfinished: start its run anyway (`allow`), start nothing (`skip`), or cancel
 * that run and then start (`cancel-previous`).
 */
export type ScheduleOverlap = "allow" | "skip" | "cancel-previous";
/**
 * Which missed ticks (a later tick came before they fired) still fire: none
 * (`none`), the most recent (`latest`), or every one, at most the
 * `CATCH_UP_LIMIT` most recent (`all`).
 */
export type ScheduleCatchUp = "none" | "latest" | "all";
/** What became of a tick: a run `started`, `skipped` (overlap or catch-up), or the start `failed`. */
export type ScheduleTickOutcome = "started" | "skipped" | "failed";

/** A schedule to create or update (`putSchedule`). */
export interface NewSchedule {
  /** Unique in the store; `putSchedule` with an id it has replaces that schedule. */
  id: string;
  /** The cron expression as given: five fields (minute first) or six (seconds first). */
  cron: string;
  /** The IANA time zone the expression is read in (the engine's default is `"UTC"`). */
  timezone: string;
  /** The name of the package every tick starts a run of. */
  package: string;
  /** The input of every run it starts, encoded. */
  input: Encoded;
  /** What a tick does while the previous started run is unfinished. */
  overlap: ScheduleOverlap;
  /** Which missed ticks still fire. */
  catchUp: ScheduleCatchUp;
  /**
   * The first tick after now under this cron and time zone. An update that
   * keeps the stored cron and time zone keeps the stored next fire time
   * instead (an application that declares its schedules at every start must
   * not lose the ticks its downtime missed); one that changes them takes this.
   */
  nextFireAt: number | undefined;
  /** When it is written (epoch ms): the `updatedAt`, and for a new schedule the `createdAt`. */
  now: number;
}

/** A schedule as the store keeps it (`ScheduleInfo` is the public form). */
export interface ScheduleRecord {
  /** Unique in the store. */
  id: string;
  /** The cron expression as given: five fields (minute first) or six (seconds first). */
  cron: string;
  /** The IANA time zone the expression is read in. */
  timezone: string;
  /** The name of the package every tick starts a run of. */
  package: string;
  /** The input of every run it starts, encoded. */
  input: Encoded;
  /** What a tick does while the previous started run is unfinished. */
  overlap: ScheduleOverlap;
  /** Which missed ticks still fire. */
  catchUp: ScheduleCatchUp;
  /** Whether it is paused: a paused schedule is never due (`dueSchedules` skips it). */
  paused: boolean;
  /** The next tick to fire; undefined once the expression has no future tick. */
  nextFireAt?: number;
  /** The last tick handled (fired, skipped or failed). */
  lastTickAt?: number;
  /** What became of the last tick handled; set with `lastTickAt`. */
  lastOutcome?: ScheduleTickOutcome;
  /** The run of the last tick that started one. */
  lastRunId?: string;
  /** Why the last tick's start failed. */
  lastError?: string;
  /** Ticks not fired: skipped by the overlap policy or left behind by catch-up. */
  skippedTicks: number;
  /** When it was first created (epoch ms); replacing it keeps this. */
  createdAt: number;
  /** Its last change (epoch ms): a put, a pause or resume, or an advance. */
  updatedAt: number;
}

/**
 * Moves a schedule past a tick (`advanceSchedule`): written only while its
 * stored next fire time is still `expected`, so that of two processes handling
 * the same tick one advances it and the other learns that it lost.
 */
export interface ScheduleAdvance {
  /** The schedule to move. */
  id: string;
  /** The stored next fire time this advance starts from. */
  expected: number;
  /** The tick after the handled one (undefined: none left). */
  next: number | undefined;
  /** The tick handled. */
  tick: number;
  /** What became of the tick handled; stored as `lastOutcome`. */
  outcome: ScheduleTickOutcome;
  /** The run the tick started (`started`); the store logs `run_scheduled` in its event log. */
  runId?: string;
  /** Why the tick's start failed (`failed`); stored as `lastError`, which an advance without it clears. */
  error?: string;
  /** Ticks passed over without firing on the way (catch-up), plus this one if skipped. */
  skipped: number;
  /** When the advance is written (epoch ms): the schedule's `updatedAt` and the `run_scheduled` event's time. */
  now: number;
}
