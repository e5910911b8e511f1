// A worker process of `npm run bench:scale` (bench/scale.mjs), and the
// workloads' packages, shared with the coordinator (which starts the runs and,
// in the history part, drains in its own process).
//
// As a process: started with child_process.fork(this file, [JSON config]). It
// opens the store, registers the packages, waits until the store is ready to be
// woken (Postgres: LISTEN up), says {type: "ready"} and waits for "go". Then it
// starts its workers and reports {type: "progress", count, lastAt} every 25 ms
// while its count of finished runs moves (the coordinator sums the counts of all
// its workers, so no process needs to know the whole backlog). On "stop" it
// stops the workers (in-flight outcomes are written), closes and exits 0.
// It uses the BUILT package (dist/), like an application would.
//
// Config (argv[2], JSON): { store: { kind: "sqlite", path } | { kind: "postgres", url, schema }, maxWorkers }
import path from "node:path";
import { fileURLToPath } from "node:url";
import { newExecutor, newPackage, newRuntime, requireSteps, sqliteStore } from "../dist/index.js";
import { postgresStore } from "../dist/postgres.js";

/** Steps per run of the chain10 workload. */
export const CHAIN_LENGTH = 10;

/** The harness's contenders use a 100 ms poll; here too it is only a backstop (new work wakes workers). */
export const POLL_MS = 100;

/** A store spec (plain JSON, so it can cross to a child process) as a trellis StoreConfig. */
export function storeConfig(spec) {
  if (spec?.kind === "sqlite") return sqliteStore(spec.cacheSizeMiB ? { path: spec.path, cacheSizeMiB: spec.cacheSizeMiB } : spec.path);
  if (spec?.kind === "postgres") return postgresStore({ connectionString: spec.url, schema: spec.schema });
  throw new Error(`scale: unknown store ${JSON.stringify(spec)}`);
}

/**
 * A runtime on the store, keeping the opened store: the runtime does not expose
 * it, and the Postgres one tells when its LISTEN connection is up (work started
 * before that would only be found by the poll).
 */
export async function openRuntime(spec, maxWorkers) {
  const config = storeConfig(spec);
  let opened;
  const rt = await newRuntime({
    store: { name: config.name, open: async () => (opened = await config.open()) },
    maxWorkers,
    pollInterval: POLL_MS,
  });
  return { rt, listening: () => opened.listening?.() };
}

/**
 * The workloads. The first two as in the peer harness (bench/contenders/trellis-common.mjs):
 *   job      one step (kind bench/noop): the queue workload; history rows have this shape
 *   dag3     A -> B -> C, B and C read their dependency's result
 *   chain10  s1 -> s2 -> ... -> s10, empty steps: the ceiling part's workflow-like drain
 *            (each completion readies the next step, as in LIMITS.md's "chain")
 * `onRunDone` is called when a run's last handler returns (the harness's
 * completion point: the outcome is written a moment later).
 */
export function registerWorkloads(rt, onRunDone = () => {}) {
  rt.registerExecutor(newExecutor("bench/noop", async () => void onRunDone()));
  rt.registerExecutor(newExecutor("bench/a", async (step) => step.result({ a: step.input().run, from: "A" })));
  rt.registerExecutor(
    newExecutor("bench/b", async (step) => {
      const { a } = await step.dependencyData("A");
      step.result({ b: a + 1, from: "B" });
    }),
  );
  rt.registerExecutor(
    newExecutor("bench/c", async (step) => {
      const { b } = await step.dependencyData("B");
      if (b !== step.input().run + 1) throw new Error(`bad data in ${step.workflow.id}: b=${b}`);
      onRunDone();
    }),
  );
  rt.registerExecutor(newExecutor("bench/link", async () => undefined));
  rt.registerExecutor(newExecutor("bench/link-last", async () => void onRunDone()));
  rt.registerPackage(
    newPackage("chain10")
      .entrypoint((run, input) => {
        let previous;
        for (let i = 1; i <= CHAIN_LENGTH; i++) {
          const kind = i === CHAIN_LENGTH ? "bench/link-last" : "bench/link";
          previous = run.step(`s${i}`, input, previous ? { kind, dependsOn: requireSteps(previous) } : { kind });
        }
      })
      .build(),
  );
  rt.registerPackage(
    newPackage("job")
      .entrypoint((run, input) => {
        run.step("job", input, { kind: "bench/noop" });
      })
      .build(),
  );
  rt.registerPackage(
    newPackage("dag3")
      .entrypoint((run, input) => {
        const a = run.step("A", input, { kind: "bench/a" });
        const b = run.step("B", input, { kind: "bench/b", dependsOn: requireSteps(a) });
        run.step("C", input, { kind: "bench/c", dependsOn: requireSteps(b) });
      })
      .build(),
  );
}

/** The input of run i of a workload (dag3's C checks it). */
export const inputOf = (workload, i) => (workload === "dag3" ? { run: i } : { i });

/** Starts `runs` runs of `workload` with rt.startRuns, `batch` per call (one transaction each). */
export async function startInBatches(rt, workload, runs, batch) {
  for (let from = 0; from < runs; from += batch) {
    const items = [];
    for (let i = from; i < Math.min(runs, from + batch); i++) items.push({ input: inputOf(workload, i) });
    await rt.startRuns(workload, items);
  }
}

// ---------------------------------------------------------------------------
// The process.

async function main() {
  const config = JSON.parse(process.argv[2] ?? "{}");
  const tell = (message) => process.connected && process.send(message);
  // If the coordinator goes away, do not linger.
  process.on("disconnect", () => process.exit(70));

  let count = 0;
  let lastAt = 0;
  const { rt, listening } = await openRuntime(config.store, config.maxWorkers);
  registerWorkloads(rt, () => {
    count++;
    lastAt = Date.now(); // wall clock: the coordinator compares it with its own
  });
  await listening();

  const ac = new AbortController();
  let workers;
  let reported = 0;
  const report = () => {
    if (count === reported) return;
    reported = count;
    tell({ type: "progress", count, lastAt });
  };
  process.on("message", async (m) => {
    if (m?.type === "go") {
      workers = rt.startWorkers({ signal: ac.signal });
      setInterval(report, 25).unref();
    } else if (m?.type === "stop") {
      report();
      ac.abort();
      await workers;
      await rt.close();
      // Exit once the message is out (process.exit would drop a pending send).
      process.send({ type: "stopped", count }, () => process.exit(0));
    }
  });
  tell({ type: "ready" });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main();
}
