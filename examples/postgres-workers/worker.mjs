// One worker process. main.mjs starts several of these; in production each
// would be one instance of your application, on any machine that reaches the
// database.
//
// A worker process registers every executor (its workers claim only steps of
// kinds it has: a step of another kind waits for a process that has it). It
// needs no packages: only processes that start runs call entrypoints.
//
// It runs workers until SIGTERM (or SIGINT), then lets in-flight steps finish,
// closes the runtime and exits on its own.
import { setTimeout as sleep } from "node:timers/promises";
import { newExecutor, newRuntime } from "../../dist/index.js";
import { QUEUES, store } from "./config.mjs";

const name = process.env.WORKER_NAME ?? `worker-${process.pid}`;

const rt = await newRuntime({
  store: store(),
  queues: QUEUES, // the same queue limits in every process
  maxWorkers: 4, // steps this process runs at once
  // Store failures the worker loop survives (a database restart, a failover):
  // it reports them here and tries again after a poll interval.
  onError: (err) => console.error(`[${name}] ${err?.code ?? "error"}: ${err?.message ?? err}`),
}).catch((err) => {
  // store_error: the server cannot be reached, or the migrations failed.
  console.error(`[${name}] cannot start: ${err?.code ?? "error"}: ${err?.message ?? err}`);
  process.exit(1);
});

let ran = 0;
/** Simulated work that stops early when the step's signal aborts (cancel, lost lease, shutdown). */
const work = (step, ms) => sleep(ms, undefined, { signal: step.signal });

rt.registerExecutor(
  newExecutor("images/download", async (step) => {
    const { imageId, flaky } = step.input();
    await work(step, 20);
    // A flaky source: the first attempt fails with a plain Error, which is
    // retryable. The retry may run in another process.
    if (flaky && step.attempt === 1) throw new Error(`connection reset while downloading ${imageId} (simulated)`);
    ran++;
    step.result({ bytes: 40_000 + imageId.length, worker: name });
  }),
);
rt.registerExecutor(
  newExecutor("images/resize", async (step) => {
    const { size } = step.input();
    const { bytes } = await step.dependencyData("download");
    await work(step, 15);
    ran++;
    step.result({ size, bytes: Math.round((bytes * size) / 1024), worker: name });
  }),
);
rt.registerExecutor(
  newExecutor("images/publish", async (step) => {
    const startedAt = Date.now();
    await work(step, 10);
    ran++;
    step.result({ startedAt, finishedAt: Date.now(), worker: name });
  }),
);

// The application owns the lifecycle: abort the signal to stop the workers.
const ac = new AbortController();
for (const signal of ["SIGTERM", "SIGINT"]) process.once(signal, () => ac.abort());

const workers = rt.startWorkers({ signal: ac.signal });
process.send?.({ type: "started", name, pid: process.pid });

await workers; // resolves once in-flight steps have settled (or the grace period is over)
await rt.close(); // closes the LISTEN connection and the pool
console.log(`[${name}] stopped cleanly after ${ran} steps`);
process.disconnect?.();
