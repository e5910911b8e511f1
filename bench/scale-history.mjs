// Part of `npm run bench:scale` (bench/scale.mjs): the stores' own databases, reached
// with SQL beside trellis. The history a scale drain runs against (N finished one-step
// runs, loaded in one transaction, shaped as trellis leaves them), its checks, and the
// store's size on disk. A store `spec` is { kind: "sqlite", path } or
// { kind: "postgres", url, schema }.
import fs from "node:fs";
import { performance } from "node:perf_hooks";
import Database from "better-sqlite3";
import { withPg } from "./pg-client.mjs";

/** One SQL query on the store's own database (SQLite: its own connection to the file). */
export async function storeQuery(spec, sql) {
  if (spec.kind === "sqlite") {
    const db = new Database(spec.path);
    try {
      return db.prepare(sql).all();
    } finally {
      db.close();
    }
  }
  return withPg(spec.url, async (c) => {
    await c.query(`SET search_path TO "${spec.schema}"`);
    return (await c.query(sql)).rows;
  });
}

// ---------------------------------------------------------------------------
// History: N finished one-step runs, as trellis itself would have left them.

// The constant columns, copied from a real run of the `job` package (one
// bench/noop step returning nothing).
const lit = (s) => `'${s.replaceAll("'", "''")}'`;
const RETRY = lit('{"maxAttempts":1,"backoff":"exponential","initialBackoff":1000,"multiplier":2,"jitter":false}');
const RESULT = lit('{"json":null,"meta":{"values":["undefined"],"v":1}}');
const WORKER = lit("history-worker");
const INPUT = `'{"json":{"i":' || h.i || '}}'`;

// Both stores run these same statements over a temp table hist(i, t, id): run i
// was created at t, claimed at t + 1 and finished at t + 5. Inserting the run
// fires the store's runs_started trigger (the run_started event); a step
// inserted as succeeded fires no trigger, so its four other events are written
// here, in each run's order.
const HISTORY_INSERTS = [
  `INSERT INTO runs (id, package, name, status, input, metadata, created_at, updated_at)
   SELECT h.id, 'job', 'job', 'succeeded', ${INPUT}, '{}', h.t, h.t + 5 FROM hist h ORDER BY h.i`,
  `INSERT INTO steps (run_id, id, kind, queue, status, input, deps_total, deps_waiting, retry, max_attempts, attempt,
                      reclaims, priority, metadata, ready_at, started_at, finished_at, created_at, updated_at,
                      result, has_artifacts, completed_at, delay_ms)
   SELECT h.id, 'job', 'bench/noop', 'default', 'succeeded', ${INPUT}, 0, 0, ${RETRY}, 1, 1,
          0, 0, '{}', h.t, h.t + 1, h.t + 5, h.t, h.t + 5,
          ${RESULT}, false, h.t + 5, 0
   FROM hist h ORDER BY h.i`,
  `WITH e (k, dt, type, step_id, attempt) AS (VALUES
     (1, 0, 'step_ready', 'job', NULL), (2, 1, 'step_claimed', 'job', 1),
     (3, 5, 'step_succeeded', 'job', 1), (4, 5, 'run_succeeded', NULL, NULL))
   INSERT INTO events (run_id, at, type, step_id, attempt, worker_id)
   SELECT h.id, h.t + e.dt, e.type, e.step_id, e.attempt, CASE WHEN e.attempt IS NULL THEN NULL ELSE ${WORKER} END
   FROM hist h CROSS JOIN e ORDER BY h.i, e.k`,
];

/**
 * Loads `n` finished runs into the store, in one transaction, then checkpoints
 * so the drains that follow do not pay for writing the load out. Run ids look
 * like trellis's own (`job-` + a UUIDv7 whose time is t), so they are older
 * than, and sort before, the runs the drains start. Returns seconds and size.
 */
export async function loadHistory(spec, n) {
  // Spread over the last day (at least 1 ms apart).
  const base = Date.now() - 86_400_000;
  const spacing = Math.max(1, Math.floor(86_400_000 / Math.max(1, n)));
  const before = await rowCounts(spec);
  const t0 = performance.now();
  if (spec.kind === "sqlite") {
    const db = new Database(spec.path);
    try {
      db.transaction(() => {
        db.exec(`CREATE TEMP TABLE hist AS
          WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < ${n})
          SELECT i, t, printf('job-%08x-%04x-7000-8000-%012x', t >> 16, t & 65535, i) AS id
          FROM (SELECT i, ${base} + i * ${spacing} AS t FROM g)`);
        for (const sql of HISTORY_INSERTS) db.exec(sql);
        db.exec("DROP TABLE hist");
      })();
      db.pragma("wal_checkpoint(TRUNCATE)");
    } finally {
      db.close();
    }
  } else {
    await withPg(spec.url, async (c) => {
      await c.query("BEGIN");
      await c.query(`SET LOCAL search_path TO "${spec.schema}"`);
      await c.query(`CREATE TEMP TABLE hist ON COMMIT DROP AS
        SELECT i, t, 'job-' || lpad(to_hex(t >> 16), 8, '0') || '-' || lpad(to_hex(t & 65535), 4, '0')
                     || '-7000-8000-' || lpad(to_hex(i), 12, '0') AS id
        FROM (SELECT i, ${base}::bigint + i * ${spacing}::bigint AS t FROM generate_series(1, ${n}::bigint) AS i) g`);
      for (const sql of HISTORY_INSERTS) await c.query(sql);
      await c.query("COMMIT");
      // Deliberately no ANALYZE (see the notes). CHECKPOINT needs a superuser or pg_checkpoint.
      await c.query("CHECKPOINT").catch((err) => console.log(`  (CHECKPOINT after the load failed: ${err.message})`));
    });
  }
  const seconds = (performance.now() - t0) / 1000;
  const after = await rowCounts(spec);
  const added = { runs: n, steps: n, events: 5 * n };
  for (const k of Object.keys(added)) {
    if (after[k] - before[k] !== added[k]) throw new Error(`history: ${after[k] - before[k]} ${k} added, expected ${added[k]}`);
  }
  return { seconds, sizeMB: await storeSizeMB(spec) };
}

async function rowCounts(spec) {
  const [row] = await storeQuery(
    spec,
    "SELECT (SELECT count(*) FROM runs) AS runs, (SELECT count(*) FROM steps) AS steps, (SELECT count(*) FROM events) AS events",
  );
  return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, Number(v)]));
}

/** The store's size on disk: the SQLite file (+ WAL), or every relation of the schema. */
export async function storeSizeMB(spec) {
  if (spec.kind === "sqlite") {
    const size = (f) => (fs.existsSync(f) ? fs.statSync(f).size : 0);
    return (size(spec.path) + size(`${spec.path}-wal`)) / 2 ** 20;
  }
  const [row] = await storeQuery(
    spec,
    `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) AS bytes FROM pg_class c
     JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = '${spec.schema}' AND c.relkind IN ('r', 'm')`,
  );
  return Number(row.bytes) / 2 ** 20;
}

/** Every run must have succeeded: the history's and the drains'. */
export async function checkRuns(spec, expected) {
  const rows = await storeQuery(spec, "SELECT status, count(*) AS n FROM runs GROUP BY status");
  const byStatus = Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
  if (byStatus.succeeded !== expected || rows.length !== 1) {
    throw new Error(`expected ${expected} succeeded runs, found ${JSON.stringify(byStatus)}`);
  }
}
