#!/usr/bin/env node
// What each part of the storage model costs the queue workload: the ceiling a
// redesign of that part could reach, measured before it is written.
//
//   npm run bench:storage-costs -- [--backend sqlite|postgres|both] [--n 10000] [--rounds 5] [--parts base,events,...]
//
// Each cell drains `--n` one-step runs (one rt.startRuns, 16 workers in this
// process, as the harness's queue workload) on a fresh store from which, after the
// migrations, one part was DROPPED: its triggers or indexes. That breaks what the
// part is for (no history without the event triggers; slower listings without the
// indexes), so these figures are ceilings for a cheaper design of the part, never a
// configuration. The parts, by store:
//   base         nothing dropped
//   events       every trigger that writes the event log: no history at all
//   step-events  SQLite: the triggers of a step's creation, claim and success
//   run-events   SQLite: the triggers of a run's start and finish
//   events-index SQLite: events_by_run (the history read per run)
//   run-indexes  runs_by_status, runs_by_package, runs_finished (listings, purge)
// Cells alternate in order round by round; the figure to read is each part's
// median ratio to base in the same invocation (these machines are noisy).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import Database from "better-sqlite3";
import { newExecutor, newPackage, newRuntime, sqliteStore } from "../dist/index.js";
import { postgresStore } from "../dist/postgres.js";
import { withPg } from "./pg-client.mjs";

const { values: opts } = parseArgs({
  options: {
    backend: { type: "string", default: "both" },
    n: { type: "string", default: "10000" },
    rounds: { type: "string", default: "5" },
    parts: { type: "string" },
    "pg-url": { type: "string", default: process.env.TRELLIS_BENCH_PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres" },
    help: { type: "boolean", short: "h" },
  },
});
if (opts.help) {
  console.log("usage: node bench/storage-costs.mjs [--backend sqlite|postgres|both] [--n 10000] [--rounds 5] [--parts base,events,...]");
  process.exit(0);
}

const triggers = (names) => names.map((t) => `DROP TRIGGER ${t}`);
const indexes = (names) => names.map((i) => `DROP INDEX ${i}`);
const DROPS = {
  sqlite: {
    base: [],
    events: triggers(["runs_started", "runs_finished", "runs_paused", "runs_resumed", "steps_created", "steps_claimed", "steps_succeeded", "steps_failed", "steps_ended", "steps_waiting", "steps_ready"]),
    "step-events": triggers(["steps_created", "steps_claimed", "steps_succeeded"]),
    "run-events": triggers(["runs_started", "runs_finished"]),
    "events-index": indexes(["events_by_run"]),
    "run-indexes": indexes(["runs_by_status", "runs_by_package", "runs_finished"]),
  },
  postgres: {
    base: [],
    events: ["runs_inserted ON runs", "runs_updated ON runs", "steps_inserted ON steps", "steps_updated ON steps"].map((t) => `DROP TRIGGER ${t}`),
    "run-indexes": indexes(["runs_by_status", "runs_by_package", "runs_finished"]),
  },
};

const n = Number(opts.n);
const rounds = Number(opts.rounds);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "trellis-storage-costs-"));
let cell = 0;

/** A fresh store, migrated, with `drops` applied by a connection of its own; returns its config. */
async function preparedStore(backend, drops) {
  cell++;
  if (backend === "sqlite") {
    const file = path.join(dir, `cell-${cell}.db`);
    await (await newRuntime({ store: sqliteStore(file) })).close();
    const db = new Database(file);
    for (const statement of drops) db.exec(statement);
    db.close();
    return sqliteStore(file);
  }
  const schema = `bench_storage_costs_${process.pid}_${cell}`;
  const config = postgresStore({ connectionString: opts["pg-url"], schema });
  await (await newRuntime({ store: config })).close();
  await withPg(opts["pg-url"], async (c) => {
    await c.query(`SET search_path TO ${schema}`);
    for (const statement of drops) await c.query(statement);
  });
  return config;
}

async function dropSchemas() {
  await withPg(opts["pg-url"], async (c) => {
    const { rows } = await c.query("SELECT nspname FROM pg_namespace WHERE nspname LIKE $1", [`bench_storage_costs_${process.pid}_%`]);
    for (const { nspname } of rows) await c.query(`DROP SCHEMA ${nspname} CASCADE`);
  });
}

/** jobs/s: from the bulk start to the last executor call, as the harness's queue workload times it. */
async function drain(backend, part) {
  const config = await preparedStore(backend, DROPS[backend][part]);
  let opened;
  const rt = await newRuntime({ store: { name: config.name, open: async () => (opened = await config.open()) }, maxWorkers: 16 });
  let handled = 0;
  let finish;
  const finished = new Promise((resolve) => (finish = resolve));
  rt.registerExecutor(newExecutor("bench/noop", async () => {
    if (++handled === n) finish(performance.now());
  }));
  rt.registerPackage(newPackage("job").entrypoint((run, input) => void run.step("only", input, { kind: "bench/noop" })).build());
  const ac = new AbortController();
  const workers = rt.startWorkers({ signal: ac.signal });
  try {
    await opened.listening?.();
    const began = performance.now();
    await rt.startRuns("job", Array.from({ length: n }, (_, i) => ({ input: { i } })));
    return n / (((await finished) - began) / 1000);
  } finally {
    ac.abort();
    await workers;
    await rt.close();
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const backends = opts.backend === "both" ? ["sqlite", "postgres"] : [opts.backend];
try {
  for (const backend of backends) {
    const parts = opts.parts ? opts.parts.split(",").filter((p) => p in DROPS[backend]) : Object.keys(DROPS[backend]);
    if (!parts.includes("base")) parts.unshift("base");
    const rates = Object.fromEntries(parts.map((p) => [p, []]));
    await drain(backend, "base"); // warm-up: the JIT, the file system, the server's caches
    for (let r = 0; r < rounds; r++) {
      for (const part of r % 2 ? [...parts].reverse() : parts) rates[part].push(await drain(backend, part));
    }
    const base = median(rates.base);
    console.log(`\n${backend}: queue of ${n.toLocaleString("en-US")} one-step runs, ${rounds} rounds\n`);
    console.log("| dropped | jobs/s (each round) | median | ratio to base |");
    console.log("|---|---|---:|---:|");
    for (const part of parts) {
      const rounded = rates[part].map((x) => Math.round(x).toLocaleString("en-US"));
      console.log(`| ${part} | ${rounded.join(", ")} | ${Math.round(median(rates[part])).toLocaleString("en-US")} | ${(median(rates[part]) / base).toFixed(2)} |`);
    }
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
  if (backends.includes("postgres")) await dropSchemas();
}
