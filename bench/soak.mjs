// npm run soak -- --seconds N --store sqlite|postgres [--workers W] [--kill-every MS]
//
// A long run (not part of `npm test`): a mixed workload flows through one store
// while worker processes (bench/soak-worker.mjs) are SIGKILLed and replaced
// every few seconds; then every run and step is checked against what its
// package must produce. The coordinator (this process) starts runs, sends
// signals and reads state: it runs no workers. Half of the runs it asks a
// worker process to start instead: an idle worker leases their first steps in
// the start's own transaction (start leases), and a kill may land mid-start.
// The checks are in bench/soak-checks.mjs.
//
// The last line of output is always the summary:
//   soak: store=S seconds=N runs=R steps=T kills=K restarts=X violations=V
// Violations are printed above it; the exit code is 0 when V = 0, else 1.
import { fork } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { newRuntime, sqliteStore } from "../dist/index.js";
import { postgresStore } from "../dist/postgres.js";
import { withPg } from "./pg-client.mjs";
import { verify } from "./soak-checks.mjs";
import { soakPackages } from "./soak-worker.mjs";

const WORKER_SCRIPT = fileURLToPath(new URL("./soak-worker.mjs", import.meta.url));
/** Short leases, so that a killed worker's steps are reclaimed during the run. */
const LEASE_MS = 1_500;
/** High enough that a storm of reclaims never fails a step with lease_expired. */
const MAX_RECLAIMS = 20;
/** How long the workers (no longer killed) get to finish what was started. */
const DRAIN_MS = 60_000;
/** Top-level runs in flight at once: keeps the backlog (and the drain) bounded. */
const MAX_IN_FLIGHT = 40;
/** How long a worker gets to answer a start it was asked for; then the coordinator starts the run itself. */
const DELEGATED_START_MS = 3_000;

/** Which packages are started, and how often relative to each other. */
const MIX = [
  ["soak/chain", 3],
  ["soak/fanout", 2],
  ["soak/flaky", 2],
  ["soak/branch", 1],
  ["soak/sleep", 2],
  ["soak/signal", 2],
  ["soak/parent", 2],
];

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const randomInt = (lo, hi) => lo + Math.floor(Math.random() * (hi - lo + 1));
const log = (...args) => console.log(...args);

// ---------------------------------------------------------------------------
// Options and the store.

function parseOptions() {
  const { values } = parseArgs({
    options: {
      seconds: { type: "string", default: "60" },
      store: { type: "string", default: "sqlite" },
      workers: { type: "string", default: "3" },
      "kill-every": { type: "string", default: "2000" },
    },
  });
  const opts = { seconds: Number(values.seconds), store: values.store, workers: Number(values.workers), killEvery: Number(values["kill-every"]) };
  if (!(opts.seconds > 0) || !(opts.workers >= 1) || !(opts.killEvery > 0) || !["sqlite", "postgres"].includes(opts.store)) {
    console.error("usage: npm run soak -- --seconds N --store sqlite|postgres [--workers W] [--kill-every MS]");
    process.exit(2);
  }
  return opts;
}

/** A fresh store: a new SQLite file in the temp dir, or a new Postgres schema. */
function freshStore(kind, dir) {
  if (kind === "sqlite") return { kind, path: path.join(dir, "soak.db") };
  const url = process.env.TRELLIS_SOAK_PG_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
  return { kind, url, schema: `soak_${process.pid}_${Date.now().toString(36)}` };
}

function storeConfig(spec) {
  return spec.kind === "sqlite" ? sqliteStore(spec.path) : postgresStore({ connectionString: spec.url, schema: spec.schema });
}

/** Drops the Postgres schema, first ending backends that killed workers left behind. */
async function dropStore(spec) {
  if (spec.kind !== "postgres") return;
  await withPg(spec.url, async (c) => {
    await c.query("SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE application_name LIKE $1", [`${spec.schema}:%`]);
    await c.query(`DROP SCHEMA IF EXISTS "${spec.schema}" CASCADE`);
  });
}

// ---------------------------------------------------------------------------
// Worker processes and the killer.

class Fleet {
  constructor({ store, logDir, size }) {
    this.store = store;
    this.logDir = logDir;
    this.size = size;
    this.live = new Set();
    this.kills = 0;
    this.restarts = 0;
    this.spawned = 0;
    this.storeErrors = [];
    /** Workers that died on their own: each one is a violation. */
    this.unexpectedExits = [];
    /** runId → settles a start asked of a worker. */
    this.pendingStarts = new Map();
  }

  /**
   * Asks worker `w` to start a run. Resolves to the worker's answer
   * ({ ok, leased }), or to { ok: false } if it died or did not answer in time:
   * the run may or may not exist then, and starting it again with its id is safe.
   */
  startVia(w, pkg, input, runId) {
    return new Promise((resolve) => {
      const settle = (answer) => {
        clearTimeout(timer);
        this.pendingStarts.delete(runId);
        resolve(answer);
      };
      const timer = setTimeout(() => settle({ ok: false }), DELEGATED_START_MS);
      this.pendingStarts.set(runId, { settle, w });
      w.child.send({ type: "start", pkg, input, runId }, (err) => err && settle({ ok: false }));
    });
  }

  spawn() {
    const workerId = `w${++this.spawned}`;
    let store = this.store;
    if (store.kind === "postgres") {
      // Tags its connections, so that cleanup can end those a SIGKILL left open.
      const url = new URL(store.url);
      url.searchParams.set("application_name", `${store.schema}:${workerId}`);
      store = { ...store, url: url.toString() };
    }
    const config = { store, workerId, logDir: this.logDir, leaseDuration: LEASE_MS, maxReclaims: MAX_RECLAIMS, pollInterval: 100 };
    const child = fork(WORKER_SCRIPT, [JSON.stringify(config)], { execArgv: [], stdio: ["ignore", "ignore", "pipe", "ipc"] });
    const w = { workerId, child, stderr: "", killed: false, terminated: false };
    child.stderr.on("data", (b) => (w.stderr = (w.stderr + b.toString()).slice(-4_000)));
    child.on("message", (m) => {
      if (m?.type === "error") this.storeErrors.push(`${workerId}: ${m.message}`);
      if (m?.type === "started") this.pendingStarts.get(m.runId)?.settle(m);
    });
    w.exited = new Promise((resolve) =>
      child.on("exit", (code, signal) => {
        this.live.delete(w);
        for (const pending of [...this.pendingStarts.values()]) if (pending.w === w) pending.settle({ ok: false });
        const expected = (w.killed && signal === "SIGKILL") || (w.terminated && code === 0);
        if (!expected) this.unexpectedExits.push(`worker ${workerId} (pid ${child.pid}) exited code=${code} signal=${signal}\n${w.stderr.trim()}`);
        resolve();
      }),
    );
    this.live.add(w);
    return w;
  }

  async killOne() {
    const victims = [...this.live];
    if (victims.length === 0) return;
    const w = victims[randomInt(0, victims.length - 1)];
    w.killed = true;
    w.child.kill("SIGKILL");
    this.kills++;
    await w.exited;
  }

  /** SIGTERM: the workers stop claiming, finish what they hold and close. */
  async terminateAll() {
    const all = [...this.live];
    for (const w of all) {
      w.terminated = true;
      w.child.kill("SIGTERM");
    }
    await Promise.all(all.map((w) => w.exited));
  }
}

/**
 * Every kill-every ms (jittered ±50%) SIGKILLs a random worker. Usually a
 * replacement starts at once; sometimes only after a while, so that the fleet
 * runs short-handed and the survivors must reclaim everything.
 */
async function killer(fleet, killEvery, until) {
  const pause = (ms) => sleep(Math.max(0, Math.min(ms, until() - Date.now())));
  while (Date.now() < until()) {
    await pause(killEvery * (0.5 + Math.random()));
    if (Date.now() >= until()) break;
    await fleet.killOne();
    if (Math.random() < 0.25) await pause(randomInt(300, 1_500));
    while (fleet.live.size < fleet.size) {
      fleet.spawn();
      fleet.restarts++;
    }
  }
}

// ---------------------------------------------------------------------------
// The workload.

class Workload {
  constructor(rt, fleet) {
    this.rt = rt;
    this.fleet = fleet;
    this.delegated = 0; // runs started by a worker process
    this.leasedAtStart = 0; // steps those starts leased to their worker
    /** runId → { pkg, input, ... }: what was started and what to expect. */
    this.started = new Map();
    this.inFlight = new Map(); // runId → when it was started (ms)
    this.signals = []; // pending signal deliveries
    this.problems = [];
    this.seq = 0;
  }

  pickPackage() {
    const total = MIX.reduce((s, [, w]) => s + w, 0);
    let r = Math.random() * total;
    for (const [pkg, w] of MIX) if ((r -= w) < 0) return pkg;
    return MIX[0][0];
  }

  inputFor(pkg) {
    if (pkg === "soak/fanout" || pkg === "soak/branch" || pkg === "soak/signal") return {};
    if (pkg === "soak/sleep") return { x: randomInt(0, 1_000), ms: randomInt(50, 300) };
    return { x: randomInt(0, 1_000) };
  }

  async startOne() {
    const pkg = this.pickPackage();
    const input = this.inputFor(pkg);
    const runId = `soak-${pkg.slice(5)}-${String(++this.seq).padStart(6, "0")}`;
    const live = [...this.fleet.live].filter((w) => !w.killed);
    let started = false;
    if (live.length > 0 && Math.random() < 0.5) {
      const answer = await this.fleet.startVia(live[randomInt(0, live.length - 1)], pkg, input, runId);
      if (answer.ok) {
        started = true;
        this.delegated++;
        this.leasedAtStart += answer.leased;
      }
    }
    // A fixed runId makes a retried start idempotent if the first one did commit.
    for (let tryNo = 1; !started; tryNo++) {
      try {
        await this.rt.startRun(pkg, input, { runId });
        break;
      } catch (err) {
        if (tryNo >= 3) {
          this.problems.push(`start ${runId}: ${err.code ?? ""} ${err.message}`);
          return;
        }
        await sleep(100);
      }
    }
    const entry = { pkg, input };
    this.started.set(runId, entry);
    this.inFlight.set(runId, Date.now());
    if (pkg === "soak/signal") this.signals.push(this.sendSignal(runId, entry));
  }

  /**
   * Sends "go" a little later with an idempotency id; sometimes twice, the
   * second time with a different payload that must be ignored.
   */
  async sendSignal(runId, entry) {
    await sleep(randomInt(0, 400));
    entry.payload = { token: `t-${runId}-${randomInt(0, 1e9)}` };
    const first = await this.deliver(runId, entry.payload);
    if (first !== true) this.problems.push(`signal ${runId}: first delivery returned ${first}`);
    if (Math.random() < 0.3) {
      await sleep(randomInt(0, 100));
      const again = await this.deliver(runId, { ...entry.payload, duplicate: true });
      // The run may have finished meanwhile (invalid_state): fine. Delivered twice: not.
      if (again === true) this.problems.push(`signal ${runId}: a duplicate signal id was delivered again`);
    }
  }

  async deliver(runId, payload) {
    for (let tryNo = 1; ; tryNo++) {
      try {
        return (await this.rt.signal(runId, "go", payload, { id: `go-${runId}` })).delivered;
      } catch (err) {
        if (err.code === "invalid_state") return "invalid_state";
        if (tryNo >= 3) return `error ${err.code}: ${err.message}`;
        await sleep(100);
      }
    }
  }

  /** Forgets the runs that finished (one query for all the running ones). */
  async refreshInFlight() {
    const asOf = Date.now();
    const running = new Set((await this.rt.listRuns({ status: "running", limit: 10_000 })).map((r) => r.id));
    for (const [id, at] of this.inFlight) if (at < asOf && !running.has(id)) this.inFlight.delete(id);
  }

  /** Starts runs until `until`, keeping at most MAX_IN_FLIGHT top-level runs unfinished. */
  async feed(until) {
    let lastRefresh = 0;
    while (Date.now() < until) {
      if (Date.now() - lastRefresh > 250) {
        await this.refreshInFlight();
        lastRefresh = Date.now();
      }
      if (this.inFlight.size < MAX_IN_FLIGHT) await this.startOne();
      else await sleep(20);
      await sleep(randomInt(5, 25));
    }
  }

  /** Waits until no run (child runs included) is running, or the deadline. */
  async drain(deadline) {
    await Promise.all(this.signals);
    while (Date.now() < deadline) {
      if ((await this.rt.listRuns({ status: "running", limit: 1 })).length === 0) return true;
      await sleep(200);
    }
    return false;
  }
}

// ---------------------------------------------------------------------------
// Main.

async function main() {
  const opts = parseOptions();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "trellis-soak-"));
  const logDir = path.join(dir, "logs");
  fs.mkdirSync(logDir);
  const store = freshStore(opts.store, dir);
  const violations = [];
  let counts = { runs: 0, steps: 0 };

  // The coordinator's runtime creates the schema before any worker opens it.
  const rt = await newRuntime({ store: storeConfig(store) });
  for (const p of soakPackages()) rt.registerPackage(p);
  const fleet = new Fleet({ store, logDir, size: opts.workers });
  const workload = new Workload(rt, fleet);
  const t0 = Date.now();
  try {
    for (let i = 0; i < opts.workers; i++) fleet.spawn();
    const loadEnds = t0 + opts.seconds * 1_000;
    await Promise.all([workload.feed(loadEnds), killer(fleet, opts.killEvery, () => loadEnds)]);
    log(`soak: load done after ${((Date.now() - t0) / 1000).toFixed(1)} s: ${workload.started.size} runs started; draining`);

    // The killer has stopped: make sure the fleet is whole, then let it finish the work.
    while (fleet.live.size < fleet.size) {
      fleet.spawn();
      fleet.restarts++;
    }
    const drainStart = Date.now();
    const drained = await workload.drain(drainStart + DRAIN_MS);
    log(`soak: ${drained ? "drained" : "NOT drained"} in ${((Date.now() - drainStart) / 1000).toFixed(1)} s`);
    if (!drained) violations.push(`runs still running after the ${DRAIN_MS / 1000} s drain`);
    await fleet.terminateAll();

    const result = await verify(rt, workload, logDir);
    counts = result;
    violations.push(...workload.problems, ...fleet.unexpectedExits, ...result.violations);
    if (fleet.kills === 0) violations.push("no worker was killed (kills = 0)");
    log(
      `soak: executor starts=${result.executions} outcomes written=${result.committed} ` +
        `lost to kills or fencing=${result.executions - result.committed} ` +
        `reclaims=${result.reclaims} worker-errors=${fleet.storeErrors.length}`,
    );
    log(`soak: runs started by workers=${workload.delegated}, their steps leased at start=${workload.leasedAtStart}`);
    if (workload.delegated > 0 && workload.leasedAtStart === 0) violations.push("no worker ever leased a step at start (start leases not exercised)");
    for (const e of fleet.storeErrors.slice(0, 5)) log(`soak: worker error: ${e}`);
  } catch (err) {
    violations.push(`soak aborted: ${err?.stack ?? err}`);
  } finally {
    await Promise.all([...fleet.live].map((w) => ((w.killed = true), w.child.kill("SIGKILL"), w.exited)));
    await rt.close().catch(() => {});
    await dropStore(store).catch((err) => log(`soak: could not drop schema ${store.schema}: ${err.message}`));
  }

  for (const v of violations.slice(0, 200)) log(`violation: ${v}`);
  if (violations.length > 200) log(`violation: ... and ${violations.length - 200} more`);
  if (violations.length > 0) log(`soak: kept ${dir} (starts logs${store.kind === "sqlite" ? ", database" : ""})`);
  else fs.rmSync(dir, { recursive: true, force: true });
  log(
    `soak: store=${opts.store} seconds=${opts.seconds} runs=${counts.runs} steps=${counts.steps} ` +
      `kills=${fleet.kills} restarts=${fleet.restarts} violations=${violations.length}`,
  );
  process.exitCode = violations.length === 0 ? 0 : 1;
}

await main();
