// Several worker processes and one producer sharing a PostgreSQL database.
//
//   npm run example:postgres                          (builds, then runs this file)
//   node examples/postgres-workers/main.mjs 4 20      (4 worker processes, 20 runs)
//   DATABASE_URL=postgres://user@host/db npm run example:postgres
//
// This process starts the workers (worker.mjs), waits until they run, then acts
// as the producer: it starts runs, waits until they have all finished, prints
// which process ran what, and stops the workers with SIGTERM, as a process
// manager would. Each run downloads an image, resizes it to three sizes, and
// publishes the result through a queue that allows one step at a time across
// all processes.
//
// Everything lives in the schema "trellis_example". Runs from earlier
// invocations stay there; drop the schema to start over.
import { fork } from "node:child_process";
import { once } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { newPackage, newRuntime, requireSteps } from "../../dist/index.js";
import { displayUrl, QUEUES, SCHEMA, store } from "./config.mjs";

const workerCount = Number(process.argv[2] ?? 3);
const runCount = Number(process.argv[3] ?? 12);
if (!Number.isInteger(workerCount) || workerCount < 1) throw new Error(`not a number of workers: ${process.argv[2]}`);
if (!Number.isInteger(runCount) || runCount < 1) throw new Error(`not a number of runs: ${process.argv[3]}`);

console.log(`database: ${displayUrl()}, schema "${SCHEMA}"`);

// 1. The workers. They start at the same moment; on a new schema they all try to
//    migrate it at once, and the migration lock makes that safe.
const workerScript = fileURLToPath(new URL("./worker.mjs", import.meta.url));
const workers = Array.from({ length: workerCount }, (_, i) => {
  const name = `worker-${i + 1}`;
  const child = fork(workerScript, [], { env: { ...process.env, WORKER_NAME: name }, stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const exited = once(child, "exit");
  const started = new Promise((resolve, reject) => {
    child.once("message", resolve);
    exited.then(([code, signal]) => reject(new Error(`${name} exited before it started (code ${code}, signal ${signal})`)));
  });
  return { name, child, exited, started };
});
// Ctrl-C reaches the workers too (same process group): they stop on their own,
// and this process stops waiting for the runs.
const interrupted = new AbortController();
process.once("SIGINT", () => interrupted.abort(new Error("interrupted (SIGINT)")));

let ok = false;
try {
  await Promise.all(workers.map((w) => w.started));
  console.log(`started ${workerCount} worker processes: ${workers.map((w) => `${w.name} (pid ${w.child.pid})`).join(", ")}`);
  ok = await produce();
} catch (err) {
  console.error(err?.message ?? err);
} finally {
  // 2. Stop the workers as a process manager does: SIGTERM, then wait. Each one
  //    lets its in-flight steps finish, closes its runtime and exits with code 0.
  for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill("SIGTERM");
  const exits = await Promise.all(
    workers.map(async (w) => {
      const timer = setTimeout(() => w.child.kill("SIGKILL"), 20_000);
      const [code, signal] = await w.exited;
      clearTimeout(timer);
      return { name: w.name, code, signal };
    }),
  );
  const clean = exits.every((e) => e.code === 0);
  if (clean) console.log("sent SIGTERM; every worker exited with code 0");
  else console.log(`worker exits: ${exits.map((e) => `${e.name} code ${e.code} signal ${e.signal}`).join(", ")}`);
  process.exitCode = ok && clean ? 0 : 1;
}

/** Starts the runs, waits for them, prints the summary; returns whether all went as expected. */
async function produce() {
  // A producer: it registers the package (it calls the entrypoint) but no
  // executors, and runs no workers, so it never opens a LISTEN connection.
  const rt = await newRuntime({ store: store({ poolSize: 2 }), queues: QUEUES });
  try {
    rt.registerPackage(
      newPackage("images")
        .displayName("Image thumbnails")
        .entrypoint((run, input) => {
          run.name(`thumbnails of ${input.imageId}`);
          const download = run.step("download", input, { kind: "images/download", retry: { maxAttempts: 3, initialBackoff: 100 } });
          const sizes = [64, 256, 1024].map((size) => run.step(`resize-${size}`, { size }, { kind: "images/resize", dependsOn: requireSteps(download) }));
          run.step("publish", { imageId: input.imageId }, { kind: "images/publish", queue: "cdn", dependsOn: requireSteps(...sizes) });
        })
        .build(),
    );

    // Business keys as run ids make a start idempotent; the batch stamp keeps
    // this invocation's runs apart from earlier ones.
    const batch = `b${Date.now().toString(36)}`;
    const items = Array.from({ length: runCount }, (_, i) => {
      const imageId = `${batch}-img-${String(i + 1).padStart(3, "0")}`;
      return { runId: `images-${imageId}`, input: { imageId, flaky: i % 4 === 3 } };
    });
    const began = performance.now();
    const handles = await rt.startRuns("images", items); // one transaction; its NOTIFY wakes the workers
    console.log(`started ${handles.length} runs of 5 steps each in one transaction`);

    const runs = await waitForAll(rt, handles.map((h) => h.id), 60_000);
    const elapsed = performance.now() - began;
    const byStatus = count(runs.map((r) => r.status));
    console.log(`all ${runs.length} runs finished in ${elapsed.toFixed(0)} ms: ${[...byStatus].map(([s, n]) => `${n} ${s}`).join(", ")}`);

    // Who ran what: every executor puts its process's name in its result.
    const perWorker = new Map(workers.map((w) => [w.name, 0]));
    let spread = 0;
    let retried = 0;
    const publishes = [];
    for (const run of runs) {
      const names = new Set();
      for (const step of await rt.steps(run.id)) {
        const result = await rt.result(run.id, step.id);
        const worker = result?.data?.worker;
        if (worker) {
          perWorker.set(worker, (perWorker.get(worker) ?? 0) + 1);
          names.add(worker);
        }
        if (step.attempt > 1) retried++;
        if (step.id === "publish" && result?.data) publishes.push(result.data);
      }
      if (names.size > 1) spread++;
    }
    console.log("steps per worker process:");
    for (const w of workers) console.log(`  ${w.name} (pid ${w.child.pid}): ${perWorker.get(w.name)} steps`);
    console.log(`runs whose steps ran in more than one process: ${spread} of ${runs.length}`);
    console.log(`download steps that failed once and succeeded on a retry: ${retried}`);
    const overlap = maxOverlap(publishes);
    console.log(`publish steps (queue "cdn", maxWorkers ${QUEUES.cdn.maxWorkers} across all processes): ${publishes.length}, at most ${overlap} at a time`);

    return runs.every((r) => r.status === "succeeded") && overlap <= QUEUES.cdn.maxWorkers;
  } finally {
    await rt.close();
  }
}

/** Waits until every run has finished (the worker processes run them), or `timeout` ms pass, or SIGINT. */
function waitForAll(rt, ids, timeout) {
  return Promise.all(ids.map((id) => rt.waitForRun(id, { timeout, signal: interrupted.signal })));
}

function count(values) {
  const counts = new Map();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return counts;
}

/** The largest number of [startedAt, finishedAt] intervals that overlap at one instant. */
function maxOverlap(intervals) {
  const edges = intervals.flatMap((i) => [[i.startedAt, 1], [i.finishedAt, -1]]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let current = 0;
  let max = 0;
  for (const [, delta] of edges) max = Math.max(max, (current += delta));
  return max;
}
