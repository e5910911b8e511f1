/**
 * Schedule rows as both built-in adapters read them, and the event a started
 * tick logs: the same mapping and the same JSON on SQLite and PostgreSQL.
 */
import type { ScheduleAdvance, ScheduleCatchUp, ScheduleOverlap, ScheduleRecord, ScheduleTickOutcome } from "./schedule-records.js";

/** A row of the `schedules` table, its columns as `SCHEDULE_COLUMNS` lists them; `toSchedule` makes it a `ScheduleRecord`. */
export interface ScheduleRow {
  /** The schedule's id. */
  id: string;
  /** The cron expression as given. */
  cron: string;
  /** The IANA time zone the expression is read in. */
  timezone: string;
  /** The name of the package every tick starts a run of. */
  package: string;
  /** The input of every run it starts, superjson text. */
  input: string;
  /** `allow`, `skip` or `cancel-previous` (a `ScheduleOverlap`). */
  overlap: string;
  /** `none`, `latest` or `all` (a `ScheduleCatchUp`). */
  catch_up: string;
  /** 0/1 on SQLite, a boolean on PostgreSQL. */
  paused: number | boolean;
  /** The next tick to fire (epoch ms); null once the expression has no future tick. */
  next_fire_at: number | null;
  /** The last tick handled (epoch ms); null until one is. */
  last_tick_at: number | null;
  /** `started`, `skipped` or `failed` (a `ScheduleTickOutcome`); null until a tick is handled. */
  last_outcome: string | null;
  /** The run of the last tick that started one; null until one does. */
  last_run_id: string | null;
  /** Why the last tick's start failed; null unless `last_outcome` is `failed`. */
  last_error: string | null;
  /** Ticks not fired: skipped by the overlap policy or left behind by catch-up. */
  skipped_ticks: number;
  /** When the schedule was first created (epoch ms). */
  created_at: number;
  /** Its last change (epoch ms). */
  updated_at: number;
}

/** The schedule a row holds, its null columns left out. */
export function toSchedule(row: ScheduleRow): ScheduleRecord {
  const schedule: ScheduleRecord = {
    id: row.id,
    cron: row.cron,
    timezone: row.timezone,
    package: row.package,
    input: row.input,
    overlap: row.overlap as ScheduleOverlap,
    catchUp: row.catch_up as ScheduleCatchUp,
    paused: Boolean(row.paused),
    skippedTicks: Number(row.skipped_ticks),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
  if (row.next_fire_at !== null) schedule.nextFireAt = row.next_fire_at;
  if (row.last_tick_at !== null) schedule.lastTickAt = row.last_tick_at;
  if (row.last_outcome !== null) schedule.lastOutcome = row.last_outcome as ScheduleTickOutcome;
  if (row.last_run_id !== null) schedule.lastRunId = row.last_run_id;
  if (row.last_error !== null) schedule.lastError = row.last_error;
  return schedule;
}

/** The `data` of the `run_scheduled` event an advance with a run logs: which schedule, which tick. */
export function scheduledEventData(advance: ScheduleAdvance): string {
  return JSON.stringify({ schedule: advance.id, tick: new Date(advance.tick).toISOString() });
}

/** The columns every schedule statement returns. */
export const SCHEDULE_COLUMNS =
  "id, cron, timezone, package, input, overlap, catch_up, paused, next_fire_at, last_tick_at, last_outcome, last_run_id, last_error, skipped_ticks, created_at, updated_at";
