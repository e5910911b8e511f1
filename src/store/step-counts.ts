/**
 * Counting a store's steps per queue and status (`Store.countSteps`): the one
 * query both built-in adapters run, and the folding of its rows. Behind the
 * queue gauges and `rt.stats()`.
 */
import type { KindCount, StepCount } from "./read-records.js";

/** The statuses `countSteps` counts: what an operator watches a queue for. */
export const COUNTED_STEP_STATUSES = ["ready", "running", "waiting"] as const;

/**
 * The counting query over `steps` (a table name, schema-qualified if need
 * be): one row per queue and counted status, `n` an integer. Each status has
 * a partial index, so the scan reads only the steps counted.
 */
export function stepCountsSql(steps: string): string {
  return `SELECT queue, status, CAST(COUNT(*) AS INTEGER) AS n FROM ${steps}
    WHERE status IN (${COUNTED_STEP_STATUSES.map((s) => `'${s}'`).join(", ")}) GROUP BY queue, status`;
}

/** Folds the query's rows into one `StepCount` per queue, queues in name order. */
export function foldStepCounts(rows: readonly { queue: string; status: string; n: number | string }[]): StepCount[] {
  const byQueue = new Map<string, StepCount>();
  for (const row of rows) {
    const status = row.status as (typeof COUNTED_STEP_STATUSES)[number];
    if (!COUNTED_STEP_STATUSES.includes(status)) continue;
    let count = byQueue.get(row.queue);
    if (!count) byQueue.set(row.queue, (count = { queue: row.queue, ready: 0, running: 0, waiting: 0 }));
    count[status] += Number(row.n);
  }
  return [...byQueue.values()].sort((a, b) => (a.queue < b.queue ? -1 : a.queue > b.queue ? 1 : 0));
}

/**
 * The per-kind count of ready steps (`Store.countReadyKinds`) over `steps`:
 * one row per kind, `ready` an integer. It reads the ready
 * steps only (the partial index of ready steps).
 */
export function readyKindsSql(steps: string): string {
  return `SELECT kind, CAST(COUNT(*) AS INTEGER) AS ready FROM ${steps} WHERE status = 'ready' GROUP BY kind`;
}

/** The query's rows as `KindCount`s, in code-point order whatever the database's collation (a driver may return counts as text). */
export function toKindCounts(rows: readonly { kind: string; ready: number | string }[]): KindCount[] {
  return rows.map((row) => ({ kind: row.kind, ready: Number(row.ready) })).sort((a, b) => (a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : 0));
}
