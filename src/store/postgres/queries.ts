/**
 * The PostgreSQL store's statements whose text is built per call: the ones
 * that carry literals in a multi-statement round trip (a transaction's `BEGIN`
 * with its locks, its `COMMIT` with its notifications) and the reads whose
 * filters vary. The fixed statements are in `statements.ts`.
 */
import type { FailedStepsQuery, ListRunsQuery } from "../store.js";
import { type Db, literalArray } from "./connection.js";
import { quoteIdent } from "./connection.js";
import { settingsSql } from "./pool.js";

/** Keys of the store's advisory locks: `hashtext` of names unique per schema. */
export const lockKeysQuery = (schema: string) => ({
  text: "SELECT hashtext($1) AS runs, hashtext($2) AS queues",
  values: [`trellis:run:${schema}`, `trellis:queue:${schema}`],
});

/** Locks the runs (each a hash; sorted, so every transaction takes them in one order). */
export function lockRunsSql(db: Db, runsKey: number, runIds: readonly string[]): string {
  return `SELECT pg_advisory_xact_lock(${runsKey}, h)
    FROM (SELECT DISTINCT hashtext(id) AS h FROM unnest(${literalArray(db, [...runIds])}::text[]) AS id ORDER BY h) AS l`;
}

const SET_LOCAL_SETTINGS = settingsSql("SET LOCAL");

/**
 * A transaction's first round trip: `BEGIN`, the run locks, a queue's lock, and,
 * while events are observed, the switch that makes the triggers copy them aside.
 */
export function beginSql(
  db: Db,
  schema: string,
  keys: { runs: number; queues: number },
  locks: { runs: readonly string[]; queue?: string | undefined },
  capture: boolean,
  localSettings: boolean,
): string {
  // On an application's pool, whose connections trellis does not set up, the store's
  // settings still hold in its transactions (see STORE_SESSION_SETTINGS).
  let begin = localSettings ? `BEGIN; ${SET_LOCAL_SETTINGS}` : "BEGIN";
  if (locks.runs.length > 0) begin += `; ${lockRunsSql(db, keys.runs, locks.runs)}`;
  if (locks.queue !== undefined) begin += `; SELECT pg_advisory_xact_lock(${keys.queues}, hashtext(${db.escapeLiteral(locks.queue)}))`;
  if (capture) begin += `; SET LOCAL trellis.capture = 'on'; CREATE TEMP TABLE IF NOT EXISTS trellis_captured_events (LIKE ${quoteIdent(schema)}.events)`;
  return begin;
}

/** A transaction's last round trip: its NOTIFYs ride with the COMMIT, sent only if it commits. */
export function commitSql(db: Db, channel: string, payloads: Iterable<string>): string {
  let sql = "";
  for (const p of payloads) sql += `SELECT pg_notify(${db.escapeLiteral(channel)}, ${db.escapeLiteral(p)}); `;
  return `${sql}COMMIT`;
}

/** Notifications outside a transaction. */
export const notifySql = "SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p";

/**
 * A run's columns with how many of its steps are failed: a probe of
 * steps_unsuccessful_by_run, whose predicate the IN list matches exactly. With
 * "status = 'failed'" the planner may, on a table without statistics, walk
 * steps_failed (every failed step, by age) for each run instead.
 */
export const runWithCounts = (q: string) =>
  `r.*, (SELECT count(*) FILTER (WHERE f.status = 'failed')::int FROM ${q}.steps f
         WHERE f.run_id = r.id AND f.status IN ('failed', 'canceled')) AS failed_steps`;

/**
 * `listRuns`: newest first (runs' seq), every filter in the WHERE clause, so a
 * page is one statement that stops at the limit. Metadata pairs are one jsonb
 * containment test; an id prefix is `starts_with` (no LIKE pattern to escape,
 * no collation).
 */
export function listRunsQuery(schema: string, query: ListRunsQuery, afterSeq: number | undefined): { text: string; values: unknown[] } {
  const q = quoteIdent(schema);
  const where: string[] = [];
  const values: unknown[] = [];
  const arg = (value: unknown) => `$${values.push(value)}`;
  if (query.status !== undefined) where.push(`r.status = ${arg(query.status)}`);
  if (query.package !== undefined) where.push(`r.package = ${arg(query.package)}`);
  if (query.packageVersion !== undefined) where.push(`r.package_version = ${arg(query.packageVersion)}`);
  if (query.createdFrom !== undefined) where.push(`r.created_at >= ${arg(query.createdFrom)}`);
  if (query.createdTo !== undefined) where.push(`r.created_at <= ${arg(query.createdTo)}`);
  if (query.metadata !== undefined && Object.keys(query.metadata).length) where.push(`r.metadata::jsonb @> ${arg(JSON.stringify(query.metadata))}::jsonb`);
  if (query.idPrefix !== undefined) where.push(`starts_with(r.id, ${arg(query.idPrefix)})`);
  if (afterSeq !== undefined) where.push(`r.seq < ${arg(afterSeq)}`);
  const text = `SELECT ${runWithCounts(q)} FROM ${q}.runs r ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY r.seq DESC LIMIT ${arg(query.limit)}`;
  return { text, values };
}

/** `listFailedSteps`: the most recently failed first, filtered, after a cursor step. */
export function failedStepsQuery(
  schema: string,
  query: FailedStepsQuery,
  after: { finished_at: number | null; seq: number } | undefined,
): { text: string; values: unknown[] } {
  const where = ["s.status = 'failed'"];
  const values: unknown[] = [];
  const arg = (value: unknown) => `$${values.push(value)}`;
  // The package: one probe of the run per failed step read (the steps come in age order, up to the limit).
  if (query.package !== undefined) where.push(`(SELECT r.package FROM ${quoteIdent(schema)}.runs r WHERE r.id = s.run_id LIMIT 1) = ${arg(query.package)}`);
  if (query.kind !== undefined) where.push(`s.kind = ${arg(query.kind)}`);
  if (query.queue !== undefined) where.push(`s.queue = ${arg(query.queue)}`);
  if (query.code !== undefined) where.push(`s.error_code = ${arg(query.code)}`);
  if (after) where.push(`(s.finished_at, s.seq) < (${arg(after.finished_at ?? 0)}, ${arg(after.seq)})`);
  const text = `SELECT s.* FROM ${quoteIdent(schema)}.steps s WHERE ${where.join(" AND ")}
                ORDER BY s.finished_at DESC, s.seq DESC LIMIT ${arg(query.limit)}`;
  return { text, values };
}
