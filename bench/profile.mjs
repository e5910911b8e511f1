#!/usr/bin/env node
// `npm run bench:profile`: where the queue workload's time goes, per store: a CPU
// profile of the process (what trellis, the driver and V8 do) and, on Postgres,
// the server's own time per statement (pg_stat_statements). Issue 22 asks for
// both, before and after each change to the hot path.
//
//   npm run bench:profile -- [--store sqlite|postgres|both] [--n 10000] [--top 15] [--save DIR]
//
// --save DIR keeps each store's raw profile as DIR/<store>.cpuprofile (Chrome
// DevTools and speedscope open it).
//
// Each store runs bench/profile-worker.mjs in a child process on a fresh store (a
// temp SQLite file; a fresh database `trellis_profile` on the server of --pg-url).
// The child profiles exactly its timed window. This script groups the samples
// by where they were taken (see `areaOf`), lists the functions with the most
// self time, and writes bench/results/profile-<UTC timestamp>.md.
//
// Statement times need pg_stat_statements loaded by the server
// (shared_preload_libraries = 'pg_stat_statements', then a restart); without it
// that table is skipped, with the reason. On SQLite the statements run inside
// the process: their time is the self time of the store functions that call
// better-sqlite3 (native frames are not sampled apart from their caller).
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { withPg } from "./pg-client.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..");
const { values: args } = parseArgs({
  options: {
    store: { type: "string", default: "both" },
    n: { type: "string", default: "10000" },
    top: { type: "string", default: "15" },
    save: { type: "string" },
    "pg-url": { type: "string", default: process.env.TRELLIS_BENCH_PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres" },
    help: { type: "boolean", short: "h" },
  },
});
if (args.help) {
  console.log("npm run bench:profile -- [--store sqlite|postgres|both] [--n 10000] [--top 15] [--save DIR] [--pg-url URL]");
  process.exit(0);
}
const n = Number(args.n);
const top = Number(args.top);
const stores = args.store === "both" ? ["sqlite", "postgres"] : [args.store];
if (!Number.isInteger(n) || n < 1 || !Number.isInteger(top) || !stores.every((s) => s === "sqlite" || s === "postgres")) {
  console.error("profile: --store sqlite|postgres|both, --n and --top positive integers");
  process.exit(2);
}


async function profileSqlite() {
  const run = runWorker({ store: "sqlite", path: path.join(dir, "profile.db") });
  return section("SQLite", run, null);
}

async function profilePostgres() {
  const adminUrl = args["pg-url"];
  await withPg(adminUrl, async (c) => {
    await c.query(`DROP DATABASE IF EXISTS ${PROFILE_DB} WITH (FORCE)`);
    await c.query(`CREATE DATABASE ${PROFILE_DB}`);
  });
  const url = new URL(adminUrl);
  url.pathname = `/${PROFILE_DB}`;
  try {
    const statements = await withPg(url.href, async (c) => {
      const loaded = (await c.query("SHOW shared_preload_libraries")).rows[0].shared_preload_libraries.includes("pg_stat_statements");
      if (!loaded) return { skipped: "pg_stat_statements is not in shared_preload_libraries on this server" };
      await c.query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
      return { skipped: undefined };
    });
    const run = runWorker({ store: "postgres", url: url.href, resetStatements: !statements.skipped });
    if (!statements.skipped) statements.rows = await withPg(url.href, readStatements);
    return section("PostgreSQL", run, statements);
  } finally {
    await withPg(adminUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${PROFILE_DB} WITH (FORCE)`));
  }
}

function runWorker(store) {
  const profilePath = path.join(dir, `${store.store}.cpuprofile`);
  console.error(`profile: ${store.store}, ${n} one-step runs`);
  const child = spawnSync(process.execPath, [path.join(here, "profile-worker.mjs"), JSON.stringify({ ...store, n, profilePath })], {
    cwd: root,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  if (child.status !== 0) throw new Error(`profile: the ${store.store} worker exited with ${child.status ?? child.signal}`);
  const figures = JSON.parse(child.stdout.trim().split("\n").at(-1));
  if (args.save) {
    fs.mkdirSync(args.save, { recursive: true });
    fs.copyFileSync(profilePath, path.join(args.save, `${store.store}.cpuprofile`));
  }
  return { figures, profile: JSON.parse(fs.readFileSync(profilePath, "utf8")) };
}

/** Per statement kind, the server's time and buffer reads over the workload (top-level statements; triggers included). */
async function readStatements(c) {
  const { rows } = await c.query(`
    SELECT query, calls, rows, total_exec_time AS ms, shared_blks_hit + shared_blks_read AS blocks
    FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND toplevel
    ORDER BY total_exec_time DESC`);
  return rows.filter((r) => !/pg_stat_statements_reset/.test(r.query));
}

const PROFILER = "the profiler itself";

/** Where a sampled frame's self time belongs. */
function areaOf(url, functionName) {
  if (functionName === "(garbage collector)") return "V8 garbage collection";
  if (functionName === "(idle)") return "idle (waiting for the server or a timer)";
  if (functionName === "(program)" || functionName === "(root)") return "V8 and native, unattributed";
  if (/\/dist\/sqlite-store[^/]*\.js$/.test(url)) return "SQLite store (its JavaScript)";
  if (/\/dist\/postgres\.js$/.test(url)) return "Postgres store";
  if (/node_modules\/(pg|pg-protocol|pg-types|postgres-array|pg-pool)\//.test(url) || /\/dist\/(parser|serializer|buffer-writer|buffer-reader)\.js$/.test(url)) return "pg driver";
  if (/node_modules\/better-sqlite3\//.test(url)) return "better-sqlite3 (its JavaScript)";
  if (url === "node:inspector") return PROFILER;
  if (/node_modules\/(zod|superjson|p-limit)\//.test(url)) return "zod, superjson, p-limit";
  if (/\/dist\//.test(url)) return "engine (runtime, scheduler, executors)";
  if (url.startsWith("node:") || url === "") return "Node internals (streams, timers, promises)";
  return "other";
}

/**
 * A native function (better-sqlite3's `run`, `get`, `all`: where SQLite itself
 * runs) has no script of its own: it belongs to the area of the first caller
 * that has one, SQLite's own if that caller is a store or better-sqlite3.
 */
function nativeAreaOf(id, nodes, parents) {
  const { functionName, url } = nodes.get(id).callFrame;
  if (url || functionName.startsWith("(")) return undefined;
  for (let up = parents.get(id); up !== undefined; up = parents.get(up)) {
    const caller = nodes.get(up).callFrame;
    if (!caller.url) continue;
    const area = areaOf(caller.url, caller.functionName);
    return /^(SQLite store|better-sqlite3)/.test(area) ? "SQLite itself (statements, triggers, commits)" : area;
  }
  return undefined;
}

/** Self time per area and per function, as fractions of the window's samples. */
function summarise(profile) {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  let total = 0;
  const areas = new Map();
  const functions = new Map();
  const parents = new Map();
  for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);
  for (const [id, us] of selfUs) {
    const { functionName, url, lineNumber } = nodes.get(id).callFrame;
    const area = nativeAreaOf(id, nodes, parents) ?? areaOf(url, functionName);
    if (area === PROFILER) continue; // its own start and stop, not the workload's
    total += us;
    areas.set(area, (areas.get(area) ?? 0) + us);
    const name = `${functionName || "(anonymous)"} ${url ? `${url.replace(/^.*\/(dist|node_modules)\//, "$1/")}:${lineNumber + 1}` : ""}`.trim();
    functions.set(name, (functions.get(name) ?? 0) + us);
  }
  const sorted = (map) => [...map].sort((a, b) => b[1] - a[1]).map(([k, us]) => [k, us / total]);
  return { areas: sorted(areas), functions: sorted(functions).slice(0, top) };
}

function section(label, { figures, profile }, statements) {
  const { areas, functions } = summarise(profile);
  const pct = (x) => `${(100 * x).toFixed(1)}%`;
  const lines = [
    `## ${label}: queue, ${n.toLocaleString("en-US")} one-step runs`,
    "",
    `${Math.round(figures.jobsPerSecond).toLocaleString("en-US")} jobs/s; starting took ${figures.startMs.toFixed(0)} ms of ${figures.totalMs.toFixed(0)} ms; ` +
      `the process used ${figures.cpuMs.toFixed(0)} ms of CPU (${(figures.cpuMs / figures.totalMs).toFixed(2)} cores; ` +
      `${((figures.cpuMs * 1000) / n).toFixed(0)} µs per job).`,
    "",
    "| where (self time) | share |",
    "|---|---:|",
    ...areas.map(([area, share]) => `| ${area} | ${pct(share)} |`),
    "",
    "| function (self time) | share |",
    "|---|---:|",
    ...functions.map(([name, share]) => `| \`${name}\` | ${pct(share)} |`),
  ];
  if (statements?.skipped) lines.push("", `Statement times skipped: ${statements.skipped}.`);
  else if (statements) {
    const total = statements.rows.reduce((sum, r) => sum + r.ms, 0);
    lines.push(
      "",
      `Server time of the top-level statements: ${total.toFixed(0)} ms (${((total * 1000) / n).toFixed(0)} µs per job; triggers count in their statement).`,
      "",
      "| statement | calls | rows | ms | µs per job | buffers |",
      "|---|---:|---:|---:|---:|---:|",
      ...statements.rows
        .filter((r) => r.ms >= total / 200)
        .map((r) => `| \`${r.query.replace(/\s+/g, " ").slice(0, 90)}\` | ${r.calls} | ${r.rows} | ${r.ms.toFixed(0)} | ${((r.ms * 1000) / n).toFixed(1)} | ${r.blocks} |`),
    );
  }
  const text = lines.join("\n");
  console.log(`\n${text}\n`);
  return text;
}

function writeResults() {
  const rev = spawnSync("git", ["describe", "--always", "--dirty"], { cwd: root, encoding: "utf8" }).stdout?.trim() || "unknown";
  const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d+/, "");
  const header = [
    `# bench:profile ${stamp} (trellis ${rev})`,
    "",
    `\`node bench/profile.mjs ${process.argv.slice(2).join(" ")}\``.replace(/ `$/, "`"),
    "",
    `- ${os.cpus().length} vCPUs, Node ${process.version}, load average ${os.loadavg()[0].toFixed(2)} at the end`,
    "- the queue workload of the peer harness, in one process (maxWorkers 16, rt.startRuns in batches of 1 000)",
  ];
  const file = path.join(here, "results", `profile-${stamp}.md`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, [...header, "", sections.join("\n\n"), ""].join("\n"));
  console.error(`written: ${path.relative(root, file)}`);
}

// ---------------------------------------------------------------------------
// Main (last, so every constant above is initialised before it runs).

const PROFILE_DB = "trellis_profile";
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "trellis-profile-"));
const sections = [];
try {
  for (const store of stores) sections.push(store === "sqlite" ? await profileSqlite() : await profilePostgres());
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
writeResults();
