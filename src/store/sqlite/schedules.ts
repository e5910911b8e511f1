/**
 * The SQLite store's schedules: their SQL and commands. Every write is one
 * `BEGIN IMMEDIATE` transaction (`Session.writer`), so the compare-and-set of
 * `advance` and its `run_scheduled` event commit together.
 */
import type Database from "better-sqlite3";
import { SCHEDULE_COLUMNS, type ScheduleRow, scheduledEventData, toSchedule } from "../schedule-rows.js";
import type { NewSchedule, ScheduleAdvance, ScheduleRecord } from "../schedule-records.js";
import { BOUND_LIMIT, type PreparedStatement } from "./statements.js";
import type { Session } from "./transaction.js";

/** The schedules' statements (exported for the statement-journal test, which checks every write). */
export function prepareScheduleStatements(db: Database.Database) {
  const p = (sql: string): PreparedStatement => db.prepare(sql);
  return {
    // Replacing keeps pause, last tick and counters; the next fire time too unless cron or time zone changed.
    put: p(`INSERT INTO schedules (id, cron, timezone, package, input, overlap, catch_up, next_fire_at, created_at, updated_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (id) DO UPDATE SET
              next_fire_at = CASE WHEN schedules.cron = excluded.cron AND schedules.timezone = excluded.timezone
                                  THEN schedules.next_fire_at ELSE excluded.next_fire_at END,
              cron = excluded.cron, timezone = excluded.timezone, package = excluded.package, input = excluded.input,
              overlap = excluded.overlap, catch_up = excluded.catch_up, updated_at = excluded.updated_at
            RETURNING ${SCHEDULE_COLUMNS}`),
    get: p(`SELECT ${SCHEDULE_COLUMNS} FROM schedules WHERE id = ?`),
    list: p(`SELECT ${SCHEDULE_COLUMNS} FROM schedules ORDER BY id`),
    delete: p("DELETE FROM schedules WHERE id = ?"),
    setPaused: p(`UPDATE schedules SET paused = ?, next_fire_at = CASE WHEN ? THEN ? ELSE next_fire_at END, updated_at = ?
                  WHERE id = ? RETURNING ${SCHEDULE_COLUMNS}`),
    due: p(`SELECT ${SCHEDULE_COLUMNS} FROM schedules WHERE paused = 0 AND next_fire_at <= ? ORDER BY next_fire_at ${BOUND_LIMIT}`),
    advance: p(`UPDATE schedules SET next_fire_at = ?, last_tick_at = ?, last_outcome = ?, last_run_id = coalesce(?, last_run_id),
                  last_error = ?, skipped_ticks = skipped_ticks + ?, updated_at = ?
                WHERE id = ? AND next_fire_at = ?`),
    logScheduled: p("INSERT INTO events (run_id, at, type, data) VALUES (?, ?, 'run_scheduled', ?)"),
  };
}

export class SqliteSchedules {
  readonly #sql: ReturnType<typeof prepareScheduleStatements>;
  readonly #put;
  readonly #setPaused;
  readonly #advance;
  readonly #delete;

  constructor(s: Session) {
    const sql = (this.#sql = prepareScheduleStatements(s.db));
    this.#put = s.writer((n: NewSchedule) =>
      toSchedule(sql.put.get(n.id, n.cron, n.timezone, n.package, n.input, n.overlap, n.catchUp, n.nextFireAt ?? null, n.now, n.now) as ScheduleRow),
    );
    this.#setPaused = s.writer((id: string, paused: boolean, nextFireAt: number | undefined, now: number) => {
      const row = sql.setPaused.get(paused ? 1 : 0, paused ? 0 : 1, nextFireAt ?? null, now, id) as ScheduleRow | undefined;
      return row && toSchedule(row);
    });
    this.#advance = s.writer((a: ScheduleAdvance) => {
      const moved = sql.advance.run(a.next ?? null, a.tick, a.outcome, a.runId ?? null, a.error ?? null, a.skipped, a.now, a.id, a.expected).changes > 0;
      if (moved && a.runId !== undefined) sql.logScheduled.run(a.runId, a.now, scheduledEventData(a));
      return moved;
    });
    this.#delete = s.writer((id: string) => sql.delete.run(id).changes > 0);
  }

  put(schedule: NewSchedule): ScheduleRecord {
    return this.#put(schedule);
  }

  get(id: string): ScheduleRecord | undefined {
    const row = this.#sql.get.get(id) as ScheduleRow | undefined;
    return row && toSchedule(row);
  }

  list(): ScheduleRecord[] {
    return (this.#sql.list.all() as ScheduleRow[]).map(toSchedule);
  }

  delete(id: string): boolean {
    return this.#delete(id);
  }

  setPaused(id: string, paused: boolean, nextFireAt: number | undefined, now: number): ScheduleRecord | undefined {
    return this.#setPaused(id, paused, nextFireAt, now);
  }

  due(now: number, limit: number): ScheduleRecord[] {
    return (this.#sql.due.all(now, limit) as ScheduleRow[]).map(toSchedule);
  }

  advance(advance: ScheduleAdvance): boolean {
    return this.#advance(advance);
  }
}
