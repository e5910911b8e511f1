/**
 * Schedule rows as both built-in adapters read them, and the event a started
 * tick logs: the same mapping and the same JSON on SQLite and PostgreSQL.
 */
import type { ScheduleAdvance, ScheduleCatchUp, ScheduleOverlap, ScheduleRecord, ScheduleTickOutcome } from "./schedule-records.js";

export interface ScheduleRow {
  id: string;
  cron: string;
  timezone: string;
  package: string;
  input: string;
  overlap: string;
  catch_up: string;
  /** 0/1 on SQLite, a boolean on PostgreSQL. */
  paused: number | boolean;
  next_fire_at: number | null;
  last_tick_at: number | null;
  last_outcome: string | null;
  last_run_id: string | null;
  last_error: string | null;
  skipped_ticks: number;
  created_at: number;
  updated_at: number;
}

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
