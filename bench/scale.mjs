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
// Beside it: scale-history.mjs (the history's SQL load and the stores' own
// queries), scale-processes.mjs (drains by forked workers, RSS sampling) and
// scale-worker.mjs (the workloads, and the forked worker itself).
//
//   npm run bench:scale -- [--store sqlite|postgres|both] [--history N] [--memory] [--ladder] [--ceiling] ...
//   npm run bench:scale -- --help
//
// A part runs when its flag or one of its options is given; with none, all
// four. Every measurement gets a fresh store (a temp SQLite file, or a fresh
// Postgres schema dropped afterwards). Postgres: TRELLIS_BENCH_PG_URL or --pg-url
// (default postgres://postgres@127.0.0.1:5432/postgres). Writes
// bench/results/scale-<UTC timestamp>.md and bench/results/scale-latest.md.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { ceilingPart } from "./scale-ceiling.mjs";
import { dropSchema, withPg } from "./pg-client.mjs";
import { checkRuns, loadHistory } from "./scale-history.mjs";
import { drainInProcesses, STALL_MS } from "./scale-processes.mjs";
import { openRuntime, registerWorkloads, startInBatches } from "./scale-worker.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..");

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
    else await dropSchema(opts.pgUrl, spec.schema);
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
// Part 2: memory.

async function memoryPart() {
  const runs = opts.memorySteps;
  const rows = [];
  for (const kind of opts.stores) {
    log(`memory: ${kind}, one worker process drains ${runs.toLocaleString("en-US")} one-step runs`);
    const r = await withFreshStore(kind, async (spec) => {
      const result = await drainInProcesses(spec, { workload: "job", runs, procs: 1, batch: opts.batch, maxWorkers: opts.maxWorkers, sampleRss: true });
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
        const result = await drainInProcesses(spec, { workload, runs, procs, batch: opts.batch, maxWorkers: opts.maxWorkers });
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
    return await withPg(opts.pgUrl, async (c) => {
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
