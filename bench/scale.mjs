#!/usr/bin/env node
// `npm run bench:scale`: trellis alone on this machine, in three parts (issue 6).
//
//   1. scale with history: queue throughput (jobs/s) on an empty store, then on
//      one holding N finished one-step runs (loaded with SQL, shaped like real
//      finished work), and the ratio. In-process runtime, startWorkers with
//      maxWorkers 16; each drain starts n one-step runs with rt.startRuns in
//      batches and times first start -> last handler returned, like the peer
//      harness's queue workload. 3 drains per state, median.
//   2. memory: one worker process (fork) drains a backlog of one-step runs the
//      coordinator started first; the coordinator samples the child's RSS
//      (/proc/<pid>/status) and reports idle, peak (VmHWM), final RSS and steps/s.
//   3. capacity ladder (Postgres): 1, 2, 4 worker processes drain the same
//      backlog (one-step runs, and dag3 runs of A -> B -> C); steps/s and the
//      speedup over one process.
//   4. ceiling: a workflow-like drain (runs of ten chained steps) as a fraction
//      of the machine's ceiling in ../shared/LIMITS.md (scale-ceiling.mjs).
//
//   npm run bench:scale -- [--store sqlite|postgres|both] [--history N] [--memory] [--ladder] [--ceiling] ...
//   npm run bench:scale -- --help
//
// A part runs when its flag or one of its options is given; with none, all
// four. Every measurement gets a fresh store (a temp SQLite file, or a fresh
// Postgres schema dropped afterwards). Postgres: TRELLIS_BENCH_PG_URL or --pg-url
// (default postgres://postgres@127.0.0.1:5432/postgres). Writes
// bench/results/scale-<UTC timestamp>.md and bench/results/scale-latest.md.
import { fork, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import Database from "better-sqlite3";
import pg from "pg";
import { ceilingPart } from "./scale-ceiling.mjs";
import { openRuntime, registerWorkloads, startInBatches } from "./scale-worker.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..");
const WORKER_SCRIPT = path.join(here, "scale-worker.mjs");
/** A drain that makes no progress for this long has failed (a step failed, a worker died). */
const STALL_MS = 60_000;

const log = (...args) => console.log(...args);

// ---------------------------------------------------------------------------
// Options.

// Sizes are strings (parseArgs has no numbers); parseOptions checks them. No
// defaults here for the options that select a part: "given or not" matters.
const OPTIONS = {
  store: { type: "string", default: "both" },
  scale: { type: "boolean" },
  history: { type: "string" },
  n: { type: "string" },
  batch: { type: "string", default: "1000" },
  repeat: { type: "string" },
  "max-workers": { type: "string", default: "16" },
  memory: { type: "boolean" },
  "memory-steps": { type: "string" },
  ladder: { type: "boolean" },
  "ladder-runs": { type: "string" },
  "ladder-dag3-runs": { type: "string" },
  "ladder-procs": { type: "string" },
  ceiling: { type: "boolean" },
  "ceiling-runs": { type: "string" },
  "ceiling-repeat": { type: "string" },
  "pg-url": { type: "string", default: process.env.TRELLIS_BENCH_PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres" },
  help: { type: "boolean", short: "h" },
};

function parseOptions() {
  let v;
  try {
    ({ values: v } = parseArgs({ options: OPTIONS }));
  } catch (err) {
    console.error(`scale: ${err.message}`);
    usage(2);
  }
  if (v.help) usage(0);
  // A part runs if its flag or any of its options is given; with no part chosen, all of them.
  const parts = {
    scale: Boolean(v.scale || v.history !== undefined || v.n !== undefined || v.repeat !== undefined),
    memory: Boolean(v.memory || v["memory-steps"] !== undefined),
    ladder: Boolean(v.ladder || v["ladder-runs"] !== undefined || v["ladder-dag3-runs"] !== undefined || v["ladder-procs"] !== undefined),
    ceiling: Boolean(v.ceiling || v["ceiling-runs"] !== undefined || v["ceiling-repeat"] !== undefined),
  };
  if (!Object.values(parts).some(Boolean)) parts.scale = parts.memory = parts.ladder = parts.ceiling = true;
  const ladderRuns = Number(v["ladder-runs"] ?? 20_000);
  const o = {
    parts,
    stores: v.store === "both" ? ["sqlite", "postgres"] : [v.store],
    history: Number(v.history ?? 1_000_000),
    n: Number(v.n ?? 5_000),
    batch: Number(v.batch),
    repeat: Number(v.repeat ?? 3),
    maxWorkers: Number(v["max-workers"]),
    memorySteps: Number(v["memory-steps"] ?? 100_000),
    ladderRuns,
    // dag3 has 3 steps per run: a quarter of the runs is about 3/4 of the steps.
    ladderDag3Runs: Number(v["ladder-dag3-runs"] ?? Math.max(1, Math.round(ladderRuns / 4))),
    ladderProcs: (v["ladder-procs"] ?? "1,2,4").split(",").map(Number),
    ceilingRuns: Number(v["ceiling-runs"] ?? 5_000),
    ceilingRepeat: Number(v["ceiling-repeat"] ?? 3),
    pgUrl: v["pg-url"],
  };
  const counts = [o.history, o.n, o.batch, o.repeat, o.maxWorkers, o.memorySteps, o.ladderRuns, o.ladderDag3Runs, o.ceilingRuns, o.ceilingRepeat, ...o.ladderProcs];
  const valid =
    ["both", "sqlite", "postgres"].includes(v.store) &&
    counts.every(Number.isInteger) &&
    o.history >= 0 &&
    [o.n, o.batch, o.repeat, o.maxWorkers, o.memorySteps, o.ladderRuns, o.ladderDag3Runs, o.ceilingRuns, o.ceilingRepeat, ...o.ladderProcs].every((x) => x >= 1);
  if (!valid) usage(2);
  return o;
}

function usage(code) {
  (code ? console.error : console.log)(`npm run bench:scale -- [options]   (node bench/scale.mjs [options], after a build)

parts (a part runs when its flag or one of its options is given; none given: all four)
  --scale                  1. queue throughput on an empty store and with history
    --history N            finished one-step runs loaded as history (default 1000000)
    --n N                  runs per drain (default 5000)
    --repeat R             drains per state (default 3; the median is reported)
  --memory                 2. one worker process drains a backlog; RSS and steps/s
    --memory-steps N       one-step runs in the backlog (default 100000)
  --ladder                 3. Postgres: 1, 2, 4 worker processes drain the same backlog
    --ladder-runs N        one-step runs (default 20000)
    --ladder-dag3-runs N   dag3 runs, 3 steps each (default ladder-runs / 4)
    --ladder-procs LIST    process counts (default 1,2,4)
  --ceiling                4. runs of 10 chained steps: steps/s as a fraction of the machine's ceiling (LIMITS.md)
    --ceiling-runs N       runs per drain (default 5000, so 50000 steps)
    --ceiling-repeat R     drains per store, each on a fresh store (default 3; the median is reported)

common
  --batch B                runs per rt.startRuns call, in every part (default 1000)
  --store S                sqlite | postgres | both (default both): parts 1, 2 and 4 (3 is Postgres only)
  --max-workers N          maxWorkers of every runtime (default 16)
  --pg-url URL             default $TRELLIS_BENCH_PG_URL or postgres://postgres@127.0.0.1:5432/postgres

Writes bench/results/scale-<UTC timestamp>.md and bench/results/scale-latest.md.`);
  process.exit(code);
}

// ---------------------------------------------------------------------------
// Fresh stores.

let schemaSeq = 0;

/**
 * Runs `fn(spec)` on a fresh, migrated store and removes it afterwards: a temp
 * SQLite file, or a new Postgres schema (dropped with everything in it).
 */
async function withFreshStore(kind, fn) {
  const spec =
    kind === "sqlite"
      ? { kind, dir: fs.mkdtempSync(path.join(os.tmpdir(), "trellis-scale-")) }
      : { kind, url: opts.pgUrl, schema: `trellis_scale_${process.pid}_${++schemaSeq}` };
  if (kind === "sqlite") spec.path = path.join(spec.dir, "scale.db");
  try {
    const { rt } = await openRuntime(spec, 1); // opening migrates
    await rt.close();
    return await fn(spec);
  } finally {
    if (kind === "sqlite") fs.rmSync(spec.dir, { recursive: true, force: true });
    else await withPg((c) => c.query(`DROP SCHEMA IF EXISTS "${spec.schema}" CASCADE`));
  }
}

async function withPg(fn) {
  const client = new pg.Client({ connectionString: opts.pgUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** One SQL query on the store's own database (SQLite: its own connection to the file). */
async function storeQuery(spec, sql) {
  if (spec.kind === "sqlite") {
    const db = new Database(spec.path);
    try {
      return db.prepare(sql).all();
    } finally {
      db.close();
    }
  }
  return withPg(async (c) => {
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
async function loadHistory(spec, n) {
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
    await withPg(async (c) => {
      await c.query("BEGIN");
      await c.query(`SET LOCAL search_path TO "${spec.schema}"`);
      await c.query(`CREATE TEMP TABLE hist ON COMMIT DROP AS
        SELECT i, t, 'job-' || lpad(to_hex(t >> 16), 8, '0') || '-' || lpad(to_hex(t & 65535), 4, '0')
                     || '-7000-8000-' || lpad(to_hex(i), 12, '0') AS id
        FROM (SELECT i, ${base}::bigint + i * ${spacing}::bigint AS t FROM generate_series(1, ${n}::bigint) AS i) g`);
      for (const sql of HISTORY_INSERTS) await c.query(sql);
      await c.query("COMMIT");
      // Deliberately no ANALYZE (see the notes). CHECKPOINT needs a superuser or pg_checkpoint.
      await c.query("CHECKPOINT").catch((err) => log(`  (CHECKPOINT after the load failed: ${err.message})`));
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
async function storeSizeMB(spec) {
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
async function checkRuns(spec, expected) {
  const rows = await storeQuery(spec, "SELECT status, count(*) AS n FROM runs GROUP BY status");
  const byStatus = Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
  if (byStatus.succeeded !== expected || rows.length !== 1) {
    throw new Error(`expected ${expected} succeeded runs, found ${JSON.stringify(byStatus)}`);
  }
}

// ---------------------------------------------------------------------------
// Part 1: scale with history.

async function scalePart(kind) {
  const { n, batch, repeat, history } = opts;
  const states = [];
  for (const rows of history > 0 ? [0, history] : [0]) {
    states.push(
      await withFreshStore(kind, async (spec) => {
        log(`scale: ${kind}, ${rows.toLocaleString("en-US")} finished runs of history`);
        const load = rows > 0 ? await loadHistory(spec, rows) : null;
        if (load) log(`  loaded in ${load.seconds.toFixed(1)} s; store ${load.sizeMB.toFixed(0)} MB`);
        const rates = [];
        for (let r = 0; r < repeat; r++) {
          rates.push(await drainInProcess(spec, n, batch));
          log(`  drain ${r + 1}: ${fmt(rates.at(-1))} jobs/s`);
        }
        await checkRuns(spec, rows + repeat * n);
        return { rows, load, rates, median: median(rates) };
      }),
    );
  }
  const [empty] = states;
  const table = [
    "| history (finished runs) | load s | store MB | " + states[0].rates.map((_, i) => `drain ${i + 1}`).join(" | ") + " | median jobs/s | vs empty |",
    "|---:|---:|---:|" + "---:|".repeat(repeat) + "---:|---:|",
    ...states.map(
      (s) =>
        `| ${s.rows.toLocaleString("en-US")} | ${s.load ? s.load.seconds.toFixed(1) : "-"} | ${s.load ? s.load.sizeMB.toFixed(0) : "-"} | ` +
        `${s.rates.map(fmt).join(" | ")} | ${fmt(s.median)} | ${s === empty ? "1.00x" : `${(s.median / empty.median).toFixed(2)}x`} |`,
    ),
  ];
  const notes = [
    `Queue workload: ${n} one-step runs per drain, started with rt.startRuns in batches of ${batch} by the process that`,
    `runs the workers (startWorkers, maxWorkers ${opts.maxWorkers}); timed from the first start to the last handler returned.`,
    `${repeat} drain${repeat === 1 ? "" : "s"} per state on one fresh store, so drain k also sees the ${n} x (k - 1) runs of the drains before it.`,
    "History rows are written with SQL in one transaction (runs, steps, and the five events per run), then checkpointed.",
  ];
  if (kind === "postgres") {
    notes.push(
      "No ANALYZE after the load: the store's claim and completion SQL is written to plan the same whatever the",
      `statistics say (LIMITS.md, "Pitfalls"), so it is measured without them${pgInfo?.autovacuum === "off" ? " (autovacuum is off on this server, so nothing analyzed the tables either)" : " (autovacuum may analyze the tables during the drains)"}.`,
    );
  }
  const section = [`## Scale with history: ${kind}`, "", ...table, "", ...notes].join("\n");
  log("\n" + section + "\n");
  return section;
}

/**
 * One drain in this process of n runs of `workload` (default the queue's one-step
 * runs): runs/s from the first startRuns call to the last run's last handler.
 */
async function drainInProcess(spec, n, batch, workload = "job") {
  const done = finishLine(n);
  const { rt, listening } = await openRuntime(spec, opts.maxWorkers);
  registerWorkloads(rt, done.hit);
  const ac = new AbortController();
  const workers = rt.startWorkers({ signal: ac.signal });
  try {
    await listening(); // Postgres: LISTEN up before the first start, as in the harness
    const t0 = performance.now();
    await startInBatches(rt, workload, n, batch);
    const t1 = await done.promise;
    return n / ((t1 - t0) / 1000);
  } finally {
    ac.abort(); // in-flight outcomes are written before `workers` settles
    await workers;
    await rt.close();
  }
}

/** Resolves with performance.now() at the `total`-th hit; rejects if hits stop coming for STALL_MS. */
function finishLine(total) {
  let count = 0;
  let lastHit = performance.now();
  let resolve;
  let reject;
  const promise = new Promise((res, rej) => ((resolve = res), (reject = rej)));
  const watchdog = setInterval(() => {
    if (performance.now() - lastHit > STALL_MS) reject(new Error(`drain stalled at ${count} of ${total}`));
  }, 1_000);
  promise.finally(() => clearInterval(watchdog)).catch(() => {});
  const hit = () => {
    lastHit = performance.now();
    if (++count === total) resolve(lastHit);
  };
  return { hit, promise };
}

// ---------------------------------------------------------------------------
// Worker processes (parts 2 and 3).

/** Forks a worker on the store and resolves once it is ready to be told "go". */
function spawnWorker(spec) {
  const child = fork(WORKER_SCRIPT, [JSON.stringify({ store: { kind: spec.kind, path: spec.path, url: spec.url, schema: spec.schema }, maxWorkers: opts.maxWorkers })], {
    execArgv: [],
    stdio: ["ignore", "inherit", "pipe", "ipc"],
  });
  const w = { child, count: 0, lastAt: 0, stderr: "", stopped: false };
  child.stderr.on("data", (b) => (w.stderr = (w.stderr + b.toString()).slice(-4_000)));
  w.exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  w.ready = new Promise((resolve, reject) => {
    child.on("message", (m) => {
      if (m?.type === "ready") resolve(w);
      else if (m?.type === "progress") Object.assign(w, { count: m.count, lastAt: m.lastAt });
      else if (m?.type === "stopped") w.stopped = true;
    });
    w.exited.then(({ code, signal }) => reject(new Error(`worker ${child.pid} exited (code ${code}, signal ${signal}) before it was ready\n${w.stderr}`)));
  });
  return w;
}

/**
 * Starts `runs` runs of `workload` from this process (batches of --batch), then
 * forks `procs` workers, tells them "go" at once and waits until their finished
 * runs add up to `runs`. Times "go" to the last handler returned in any worker
 * (both wall-clock ms on this machine). With `sampleRss`, samples worker 1's
 * RSS every 100 ms.
 */
async function drainInProcesses(spec, { workload, runs, procs, sampleRss = false }) {
  const { rt } = await openRuntime(spec, 1);
  registerWorkloads(rt);
  await startInBatches(rt, workload, runs, opts.batch);
  await rt.close();

  const workers = Array.from({ length: procs }, () => spawnWorker(spec));
  try {
    await Promise.all(workers.map((w) => w.ready));
    const rss = sampleRss ? rssSampler(workers[0].child.pid) : null;
    const idleMB = rss?.current();
    const t0 = Date.now();
    for (const w of workers) w.child.send({ type: "go" });
    const lastAt = await allFinished(workers, runs);
    const finalMB = rss?.current();
    const peak = rss?.stop();
    await stopAll(workers);
    const seconds = (lastAt - t0) / 1000;
    const steps = runs * (workload === "dag3" ? 3 : 1);
    return { runs, steps, seconds, stepsPerSecond: steps / seconds, idleMB, finalMB, ...peak };
  } finally {
    for (const w of workers) if (!w.stopped) w.child.kill("SIGKILL");
    await Promise.all(workers.map((w) => w.exited));
  }
}

/** Resolves with the latest lastAt once the workers' counts add up to `total`. */
function allFinished(workers, total) {
  return new Promise((resolve, reject) => {
    let seen = -1;
    let movedAt = Date.now();
    const timer = setInterval(() => {
      const sum = workers.reduce((s, w) => s + w.count, 0);
      if (sum !== seen) [seen, movedAt] = [sum, Date.now()];
      const dead = workers.find((w) => w.child.exitCode !== null || w.child.signalCode !== null);
      let error;
      if (dead) error = new Error(`worker ${dead.child.pid} died during the drain\n${dead.stderr}`);
      else if (Date.now() - movedAt > STALL_MS) error = new Error(`drain stalled at ${sum} of ${total}`);
      if (sum >= total || error) clearInterval(timer);
      if (error) reject(error);
      else if (sum >= total) resolve(Math.max(...workers.map((w) => w.lastAt)));
    }, 10);
  });
}

async function stopAll(workers) {
  for (const w of workers) w.child.send({ type: "stop" });
  const exits = await Promise.all(workers.map((w) => w.exited));
  const bad = exits.findIndex((e) => e.code !== 0);
  if (bad !== -1) throw new Error(`worker ${workers[bad].child.pid} stopped with code ${exits[bad].code}\n${workers[bad].stderr}`);
}

/** VmRSS of a process every 100 ms; stop() also reads VmHWM, the kernel's own peak RSS. */
function rssSampler(pid) {
  const read = (field) => {
    try {
      const m = fs.readFileSync(`/proc/${pid}/status`, "utf8").match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"));
      return m ? Number(m[1]) / 1024 : undefined;
    } catch {
      return undefined; // no /proc (not Linux), or the process is gone
    }
  };
  let sampledMax = 0;
  const sample = () => {
    const mb = read("VmRSS");
    if (mb !== undefined) sampledMax = Math.max(sampledMax, mb);
    return mb;
  };
  const timer = setInterval(sample, 100);
  return {
    current: sample,
    stop() {
      clearInterval(timer);
      sample();
      return { sampledMaxMB: sampledMax || undefined, peakMB: read("VmHWM") };
    },
  };
}

// ---------------------------------------------------------------------------
// Part 2: memory.

async function memoryPart() {
  const runs = opts.memorySteps;
  const rows = [];
  for (const kind of opts.stores) {
    log(`memory: ${kind}, one worker process drains ${runs.toLocaleString("en-US")} one-step runs`);
    const r = await withFreshStore(kind, async (spec) => {
      const result = await drainInProcesses(spec, { workload: "job", runs, procs: 1, sampleRss: true });
      await checkRuns(spec, runs);
      return result;
    });
    log(`  ${fmt(r.stepsPerSecond)} steps/s; RSS idle ${mb(r.idleMB)}, peak ${mb(r.peakMB)}, final ${mb(r.finalMB)} MB`);
    rows.push({ kind, ...r });
  }
  const section = [
    "## Memory: one worker process",
    "",
    "| store | steps | drain s | steps/s | RSS idle MB | RSS max sampled MB | RSS peak MB (VmHWM) | RSS final MB |",
    "|---|---:|---:|---:|---:|---:|---:|---:|",
    ...rows.map(
      (r) => `| ${r.kind} | ${r.steps.toLocaleString("en-US")} | ${r.seconds.toFixed(1)} | ${fmt(r.stepsPerSecond)} | ${mb(r.idleMB)} | ${mb(r.sampledMaxMB)} | ${mb(r.peakMB)} | ${mb(r.finalMB)} |`,
    ),
    "",
    `The coordinator starts the runs first (rt.startRuns, batches of ${opts.batch}), then forks the worker (maxWorkers ${opts.maxWorkers}),`,
    "which opens the store and reports ready; timing runs from \"go\" to its last handler returned. RSS from",
    "/proc/<pid>/status: idle = before \"go\", max sampled = highest VmRSS of the 100 ms samples, peak = VmHWM",
    "(the kernel's high-water mark over the process's life, startup included), final = right after the last handler.",
  ].join("\n");
  log("\n" + section + "\n");
  return section;
}

// ---------------------------------------------------------------------------
// Part 3: capacity ladder (Postgres).

async function ladderPart() {
  if (!opts.stores.includes("postgres")) {
    const section = "## Capacity ladder (Postgres)\n\nSkipped: --store sqlite (the ladder runs on Postgres only).";
    log(section);
    return section;
  }
  const workloads = [
    { workload: "job", label: "one-step", runs: opts.ladderRuns },
    { workload: "dag3", label: "dag3 (3 steps)", runs: opts.ladderDag3Runs },
  ];
  const lines = [];
  for (const { workload, label, runs } of workloads) {
    let base;
    for (const procs of opts.ladderProcs) {
      log(`ladder: ${label}, ${runs.toLocaleString("en-US")} runs, ${procs} worker process(es)`);
      const r = await withFreshStore("postgres", async (spec) => {
        const result = await drainInProcesses(spec, { workload, runs, procs });
        await checkRuns(spec, runs);
        return result;
      });
      base ??= r.stepsPerSecond; // the first rung (1 process with the default --ladder-procs)
      log(`  ${fmt(r.stepsPerSecond)} steps/s`);
      lines.push(
        `| ${label} | ${runs.toLocaleString("en-US")} | ${r.steps.toLocaleString("en-US")} | ${procs} | ${r.seconds.toFixed(2)} | ${fmt(r.stepsPerSecond)} | ${(r.stepsPerSecond / base).toFixed(2)}x |`,
      );
    }
  }
  const section = [
    "## Capacity ladder: worker processes on Postgres",
    "",
    `| workload | runs | steps | processes | drain s | steps/s | vs ${opts.ladderProcs[0]} process${opts.ladderProcs[0] === 1 ? "" : "es"} |`,
    "|---|---:|---:|---:|---:|---:|---:|",
    ...lines,
    "",
    `Per rung a fresh schema: the coordinator starts the backlog (rt.startRuns, batches of ${opts.batch}), then forks the`,
    `worker processes (maxWorkers ${opts.maxWorkers} each, trellis's default pool of 5 connections each) and tells them "go" together;`,
    "timed from \"go\" to the last handler returned in any of them. The server runs on the same 2 cores as the workers.",
  ].join("\n");
  log("\n" + section + "\n");
  return section;
}

// ---------------------------------------------------------------------------
// Output.

function writeResults() {
  const rev = spawnSync("git", ["describe", "--always", "--dirty"], { cwd: root, encoding: "utf8" }).stdout?.trim() || "unknown";
  const stamp = started.toISOString().replace(/[-:]/g, "").replace(/\.\d+/, ""); // 20261122T041200Z
  const machine = [
    `- started ${started.toISOString()}, ${((Date.now() - started.getTime()) / 60_000).toFixed(1)} min; load average at start ${loadAtStart.toFixed(2)}`,
    `- ${os.cpus().length} vCPUs, Node ${process.version}`,
    "- SQLite store: WAL, synchronous=NORMAL (set by trellis)",
    ...(pgInfo ? [`- ${pgInfo.version}; fsync ${pgInfo.fsync}, synchronous_commit ${pgInfo.synchronous_commit}, autovacuum ${pgInfo.autovacuum}`] : []),
  ];
  const cmd = `node bench/scale.mjs ${process.argv.slice(2).join(" ")}`.trim();
  const md = [`# bench:scale ${stamp} (trellis ${rev})`, "", `\`${cmd}\``, "", ...machine, "", sections.join("\n\n"), ""].join("\n");
  const dir = path.join(here, "results");
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, `scale-${stamp}.md`), md);
  fs.writeFileSync(path.join(dir, "scale-latest.md"), md);
  log(`written: bench/results/scale-${stamp}.md (and scale-latest.md)`);
}

async function postgresInfo() {
  try {
    return await withPg(async (c) => {
      const get = async (sql) => (await c.query(sql)).rows[0];
      return {
        version: (await get("SELECT version()")).version.split(" on ")[0],
        fsync: (await get("SHOW fsync")).fsync,
        synchronous_commit: (await get("SHOW synchronous_commit")).synchronous_commit,
        autovacuum: (await get("SHOW autovacuum")).autovacuum,
      };
    });
  } catch (err) {
    console.error(`scale: Postgres at ${opts.pgUrl} is not reachable (${err.message}); use --store sqlite`);
    process.exit(1);
  }
}

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Rates with thousands separators, no decimals. */
const fmt = (x) => Math.round(x).toLocaleString("en-US");
const mb = (x) => (x === undefined ? "n/a" : x.toFixed(0));

// ---------------------------------------------------------------------------
// Main (last, so every constant above is initialised before it runs).

const opts = parseOptions();
const started = new Date();
const loadAtStart = os.loadavg()[0];
const pgInfo = opts.stores.includes("postgres") ? await postgresInfo() : null;

const sections = [];
if (opts.parts.scale) for (const kind of opts.stores) sections.push(await scalePart(kind));
if (opts.parts.memory) sections.push(await memoryPart());
if (opts.parts.ladder) sections.push(await ladderPart());
if (opts.parts.ceiling) {
  const { stores, ceilingRuns: runs, ceilingRepeat: repeat, batch, maxWorkers } = opts;
  sections.push(await ceilingPart({ stores, runs, batch, repeat, maxWorkers, withFreshStore, drainInProcess, checkRuns, log }));
}
writeResults();
