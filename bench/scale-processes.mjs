// Part of `npm run bench:scale` (bench/scale.mjs): drains by worker processes
// (scale-worker.mjs, forked), for the memory part and the capacity ladder. The
// coordinator starts the backlog, tells every worker "go" at once, and reads their
// progress and, for one of them, its RSS from /proc.
import { fork } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { openRuntime, registerWorkloads, startInBatches } from "./scale-worker.mjs";

const WORKER_SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), "scale-worker.mjs");
/** A drain that makes no progress for this long has failed (a step failed, a worker died). */
export const STALL_MS = 60_000;

/** Forks a worker on the store and resolves once it is ready to be told "go". */
function spawnWorker(spec, maxWorkers) {
  const child = fork(WORKER_SCRIPT, [JSON.stringify({ store: { kind: spec.kind, path: spec.path, url: spec.url, schema: spec.schema }, maxWorkers })], {
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
 * Starts `runs` runs of `workload` from this process (batches of `batch`), then
 * forks `procs` workers (`maxWorkers` each), tells them "go" at once and waits until their finished
 * runs add up to `runs`. Times "go" to the last handler returned in any worker
 * (both wall-clock ms on this machine). With `sampleRss`, samples worker 1's
 * RSS every 100 ms.
 */
export async function drainInProcesses(spec, { workload, runs, procs, batch, maxWorkers, sampleRss = false }) {
  const { rt } = await openRuntime(spec, 1);
  registerWorkloads(rt);
  await startInBatches(rt, workload, runs, batch);
  await rt.close();

  const workers = Array.from({ length: procs }, () => spawnWorker(spec, maxWorkers));
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
