// A worker process of the soak run (bench/soak.mjs), and the workload's
// packages and executors, shared with the coordinator.
//
// As a process: started with child_process.fork(this file, [JSON config]) by the
// coordinator; it opens the store, registers the executors and the packages
// (child runs are started by the worker that runs the parent's child step, so it
// needs the packages too) and runs workers until SIGTERM (abort, drain, close,
// exit 0) or until the coordinator SIGKILLs it. It uses the BUILT package
// (dist/), like an application would.
//
// Config (argv[2], JSON):
//   store          { kind: "sqlite", path } | { kind: "postgres", url, schema }
//   workerId       written into the leases this process takes
//   logDir         where this process appends `${workerId}.starts.jsonl`
//   leaseDuration, maxReclaims, pollInterval, maxWorkers   runtime config
//
// Every executor start is appended synchronously to the starts log before the
// executor does anything else, so the coordinator can count executions also of
// processes it killed. Every executor's result carries its effect
// ({ run, step, attempt, worker, pid }), so the coordinator can tell which
// execution committed.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { newExecutor, newPackage, newRuntime, onFailure, permanent, requireSteps, retryable, sqliteStore } from "../dist/index.js";
import { postgresStore } from "../dist/postgres.js";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const randomInt = (lo, hi) => lo + Math.floor(Math.random() * (hi - lo + 1));

// ---------------------------------------------------------------------------
// Packages (registered by the coordinator, which starts runs, and by workers).

/** The retry policy of the step that fails once: small backoff, attempts to spare. */
export const FLAKY_RETRY = { maxAttempts: 3, backoff: "fixed", initialBackoff: 50 };

export function soakPackages() {
  const add = (base, addend, from = []) => ({ base, add: addend, from });
  return [
    // a → b → c; c's value is x + 1 + 2 + 3.
    newPackage("soak/chain")
      .entrypoint(z.object({ x: z.number() }), (run, { x }) => {
        const a = run.step("a", add(x, 1), { kind: "soak/add" });
        const b = run.step("b", add(0, 2, ["a"]), { kind: "soak/add", dependsOn: requireSteps(a) });
        const c = run.step("c", add(0, 3, ["b"]), { kind: "soak/add", dependsOn: requireSteps(b) });
        run.output(c);
      })
      .build(),
    // "fan" emits 5–20 children c0.. and a join over them (how many is decided
    // by the execution that commits, so a re-execution may emit a different count).
    newPackage("soak/fanout")
      .entrypoint(z.object({}), (run) => {
        run.step("fan", {}, { kind: "soak/fan" });
      })
      .build(),
    // A step that fails retryably on its first attempt, then succeeds.
    newPackage("soak/flaky")
      .entrypoint(z.object({ x: z.number() }), (run, { x }) => {
        const flaky = run.step("flaky", { x }, { kind: "soak/flaky", retry: FLAKY_RETRY });
        run.step("after", add(0, 1, ["flaky"]), { kind: "soak/add", dependsOn: requireSteps(flaky) });
      })
      .build(),
    // A permanent failure handled by an onFailure branch: the run succeeds; the
    // step that needed "boom" to succeed is skipped.
    newPackage("soak/branch")
      .entrypoint(z.object({}), (run) => {
        const boom = run.step("boom", {}, { kind: "soak/boom" });
        run.step("handler", {}, { kind: "soak/handle", dependsOn: onFailure(boom) });
        run.step("never", add(0, 1, ["boom"]), { kind: "soak/add", dependsOn: requireSteps(boom) });
      })
      .build(),
    // before → sleep(ms) → after.
    newPackage("soak/sleep")
      .entrypoint(z.object({ x: z.number(), ms: z.number() }), (run, { x, ms }) => {
        const before = run.step("before", add(x, 1), { kind: "soak/add" });
        const nap = run.sleep("nap", ms, { dependsOn: requireSteps(before) });
        run.step("after", add(0, 1, ["before"]), { kind: "soak/add", dependsOn: requireSteps(nap) });
      })
      .build(),
    // Waits for the signal "go" (sent by the coordinator), then echoes its payload.
    newPackage("soak/signal")
      .entrypoint(z.object({}), (run) => {
        const wait = run.waitForSignal("wait", "go");
        run.step("after", { from: "wait" }, { kind: "soak/echo", dependsOn: requireSteps(wait) });
      })
      .build(),
    // prep → child run of soak/leaf → after (reads the child run's output).
    newPackage("soak/parent")
      .entrypoint(z.object({ x: z.number() }), (run, { x }) => {
        const prep = run.step("prep", add(x, 1), { kind: "soak/add" });
        const child = run.childRun("child", "soak/leaf", { x }, { dependsOn: requireSteps(prep) });
        run.step("after", add(0, 0, ["child"]), { kind: "soak/add", dependsOn: requireSteps(child) });
      })
      .build(),
    // The child package: one (2x) → two (2x + 1), the output.
    newPackage("soak/leaf")
      .entrypoint(z.object({ x: z.number() }), (run, { x }) => {
        const one = run.step("one", add(x, x), { kind: "soak/add" });
        const two = run.step("two", add(0, 1, ["one"]), { kind: "soak/add", dependsOn: requireSteps(one) });
        run.output(two);
      })
      .build(),
  ];
}

// ---------------------------------------------------------------------------
// Executors.

/**
 * The executors, each wrapped so that it logs its start (synchronously, before
 * anything else), works a little (so that kills land on steps in flight) and
 * returns its effect with the data the coordinator checks.
 */
export function soakExecutors({ workerId, startsLog }) {
  const effect = (step) => ({ run: step.workflow.id, step: step.step.id, attempt: step.attempt, worker: workerId, pid: process.pid });
  const executor = (kind, body) =>
    newExecutor(kind, async (step) => {
      const line = { run: step.workflow.id, step: step.step.id, attempt: step.attempt, reclaims: step.step.reclaims, worker: workerId, pid: process.pid, at: Date.now() };
      fs.appendFileSync(startsLog, `${JSON.stringify(line)}\n`);
      // Mostly short work, sometimes longer, so that kills land on steps in flight.
      await sleep(Math.random() < 0.1 ? randomInt(100, 400) : randomInt(2, 40));
      const data = await body(step, step.input());
      step.result({ ...effect(step), ...data });
    });

  return [
    // value = base + add + the values of the steps in `from`.
    executor("soak/add", async (step, { base = 0, add, from = [] }) => {
      let value = base + add;
      for (const dep of from) value += (await step.dependencyData(dep)).value;
      return { value };
    }),
    executor("soak/fan", async (step) => {
      const n = randomInt(5, 20);
      const ids = [];
      for (let i = 0; i < n; i++) ids.push(step.emit(`c${i}`, { base: i, add: 0 }, { kind: "soak/add" }));
      step.emit("join", { from: ids }, { kind: "soak/join", dependsOn: requireSteps(...ids) });
      return { n };
    }),
    executor("soak/join", async (step, { from }) => {
      let sum = 0;
      for (const dep of from) sum += (await step.dependencyData(dep)).value;
      return { count: from.length, sum };
    }),
    executor("soak/flaky", async (step, { x }) => {
      if (step.attempt === 1) throw retryable("flaky_once", new Error("first attempt fails on purpose"));
      return { value: x };
    }),
    executor("soak/boom", async () => {
      throw permanent("boom", new Error("fails for good on purpose"));
    }),
    executor("soak/handle", async (step) => {
      const failed = await step.dependencyResult("boom");
      return { handled: failed.error?.code ?? null };
    }),
    executor("soak/echo", async (step, { from }) => ({ got: await step.dependencyData(from) })),
  ];
}

// ---------------------------------------------------------------------------
// The process.

function openStore(spec) {
  if (spec?.kind === "sqlite") return sqliteStore(spec.path);
  if (spec?.kind === "postgres") return postgresStore({ connectionString: spec.url, schema: spec.schema });
  throw new Error(`soak-worker: unknown store ${JSON.stringify(spec)}`);
}

/** The store, noting how many steps each started run leased to this process (start leases): runId → count. */
function countingStartLeases(config, leasedByRun) {
  return {
    name: config.name,
    open: async () => {
      const store = await config.open();
      const createRuns = store.createRuns.bind(store);
      store.createRuns = async (runs, lease) => {
        const created = await createRuns(runs, lease);
        for (const c of created) if (c.claimed) leasedByRun.set(c.run.id, c.claimed.length);
        return created;
      };
      return store;
    },
  };
}

async function main() {
  const config = JSON.parse(process.argv[2] ?? "{}");
  const { store, workerId, logDir } = config;
  const startsLog = path.join(logDir, `${workerId}.starts.jsonl`);
  const tell = (message) => process.connected && process.send(message);

  // If the coordinator goes away, do not linger.
  let stopping = false;
  process.on("disconnect", () => {
    if (!stopping) process.exit(70);
  });

  const leasedByRun = new Map();
  const rt = await newRuntime({
    store: countingStartLeases(openStore(store), leasedByRun),
    workerId,
    leaseDuration: config.leaseDuration,
    maxReclaims: config.maxReclaims,
    ...(config.pollInterval !== undefined ? { pollInterval: config.pollInterval } : {}),
    ...(config.maxWorkers !== undefined ? { maxWorkers: config.maxWorkers } : {}),
    // Store hiccups under load are not violations by themselves (the engine
    // retries or lets the lease expire); the coordinator counts them.
    onError: (err) => tell({ type: "error", message: String(err?.message ?? err) }),
  });
  for (const e of soakExecutors({ workerId, startsLog })) rt.registerExecutor(e);
  for (const p of soakPackages()) rt.registerPackage(p);

  const ac = new AbortController();
  const workers = rt.startWorkers({ signal: ac.signal, shutdownGrace: 5_000 });
  process.on("SIGTERM", () => ac.abort());
  // Runs the coordinator asks this process to start: an idle worker leases their first steps at start.
  process.on("message", async (m) => {
    if (m?.type !== "start") return;
    try {
      await rt.startRun(m.pkg, m.input, { runId: m.runId });
      tell({ type: "started", runId: m.runId, ok: true, leased: leasedByRun.get(m.runId) ?? 0 });
      leasedByRun.delete(m.runId);
    } catch (err) {
      tell({ type: "error", message: `start ${m.runId}: ${err?.message ?? err}` });
      tell({ type: "started", runId: m.runId, ok: false });
    }
  });
  tell({ type: "ready" });
  await workers;
  stopping = true;
  await rt.close();
  process.exit(0);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main();
}
