/**
 * The PostgreSQL store's schedules: their SQL and commands. The advance is a
 * compare-and-set on `next_fire_at` (one UPDATE: of two transactions, the
 * second finds the row changed and writes nothing), with its `run_scheduled`
 * event in the same transaction. Writes that set a fire time NOTIFY it as
 * `due`, so idle workers in every process shorten their sleep to it.
 */
import { SCHEDULE_COLUMNS, type ScheduleRow, scheduledEventData, toSchedule } from "../schedule-rows.js";
import type { NewSchedule, ScheduleAdvance, ScheduleRecord } from "../schedule-records.js";
import { Payload } from "./listener.js";
import type { Session } from "./transaction.js";

export function scheduleStatements(s: string) {
  return {
    // Replacing keeps pause, last tick and counters; the next fire time too unless cron or time zone changed.
    put: `INSERT INTO ${s}.schedules AS o (id, cron, timezone, package, input, overlap, catch_up, next_fire_at, created_at, updated_at)
          VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
          ON CONFLICT (id) DO UPDATE SET
            next_fire_at = CASE WHEN o.cron = excluded.cron AND o.timezone = excluded.timezone
                                THEN o.next_fire_at ELSE excluded.next_fire_at END,
            cron = excluded.cron, timezone = excluded.timezone, package = excluded.package, input = excluded.input,
            overlap = excluded.overlap, catch_up = excluded.catch_up, updated_at = excluded.updated_at
          RETURNING ${SCHEDULE_COLUMNS}`,
    get: `SELECT ${SCHEDULE_COLUMNS} FROM ${s}.schedules WHERE id = $1`,
    list: `SELECT ${SCHEDULE_COLUMNS} FROM ${s}.schedules ORDER BY id`,
    delete: `DELETE FROM ${s}.schedules WHERE id = $1`,
    setPaused: `UPDATE ${s}.schedules SET paused = $2, next_fire_at = CASE WHEN $2 THEN next_fire_at ELSE $3::bigint END, updated_at = $4
                WHERE id = $1 RETURNING ${SCHEDULE_COLUMNS}`,
    due: `SELECT ${SCHEDULE_COLUMNS} FROM ${s}.schedules WHERE NOT paused AND next_fire_at <= $1 ORDER BY next_fire_at LIMIT $2`,
    advance: `UPDATE ${s}.schedules SET next_fire_at = $1, last_tick_at = $2, last_outcome = $3, last_run_id = coalesce($4, last_run_id),
                last_error = $5, skipped_ticks = skipped_ticks + $6, updated_at = $7
              WHERE id = $8 AND next_fire_at = $9`,
    logScheduled: `INSERT INTO ${s}.events (run_id, at, type, data) VALUES ($1, $2, 'run_scheduled', $3)`,
  };
}

const dueAt = (schedule: ScheduleRecord): string[] => (!schedule.paused && schedule.nextFireAt !== undefined ? [Payload.due(schedule.nextFireAt)] : []);

export async function putSchedule(s: Session, n: NewSchedule): Promise<ScheduleRecord> {
  const [row] = await s.write((db) => s.rows<ScheduleRow>(db, s.sql.schedules.put, [n.id, n.cron, n.timezone, n.package, n.input, n.overlap, n.catchUp, n.nextFireAt ?? null, n.now]));
  const schedule = toSchedule(row as ScheduleRow);
  await s.notify(dueAt(schedule));
  return schedule;
}

export async function getSchedule(s: Session, id: string): Promise<ScheduleRecord | undefined> {
  const [row] = await s.rows<ScheduleRow>(s.pool, s.sql.schedules.get, [id]);
  return row && toSchedule(row);
}

export async function listSchedules(s: Session): Promise<ScheduleRecord[]> {
  return (await s.rows<ScheduleRow>(s.pool, s.sql.schedules.list)).map(toSchedule);
}

export async function deleteSchedule(s: Session, id: string): Promise<boolean> {
  return ((await s.write((db) => s.query(db, s.sql.schedules.delete, [id]))).rowCount ?? 0) > 0;
}

export async function setSchedulePaused(s: Session, id: string, paused: boolean, nextFireAt: number | undefined, now: number): Promise<ScheduleRecord | undefined> {
  const [row] = await s.write((db) => s.rows<ScheduleRow>(db, s.sql.schedules.setPaused, [id, paused, nextFireAt ?? null, now]));
  if (!row) return undefined;
  const schedule = toSchedule(row);
  await s.notify(dueAt(schedule));
  return schedule;
}

export async function dueSchedules(s: Session, now: number, limit: number): Promise<ScheduleRecord[]> {
  return (await s.rows<ScheduleRow>(s.pool, s.sql.schedules.due, [now, limit])).map(toSchedule);
}

export async function advanceSchedule(s: Session, a: ScheduleAdvance): Promise<boolean> {
  return s.tx({}, async ({ db }) => {
    const moved = ((await s.query(db, s.sql.schedules.advance, [a.next ?? null, a.tick, a.outcome, a.runId ?? null, a.error ?? null, a.skipped, a.now, a.id, a.expected])).rowCount ?? 0) > 0;
    if (moved && a.runId !== undefined) await s.query(db, s.sql.schedules.logScheduled, [a.runId, a.now, scheduledEventData(a)]);
    return moved;
  });
}
