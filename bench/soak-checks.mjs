// Part of `npm run soak` (bench/soak.mjs): the invariants checked once the store has
// drained. Every run in the store is one the soak started (or a child of one); each
// finished with the shape its package must have; each succeeded step was committed
// once, by the process and attempt that logged its start; and each package's data
// adds up (sums, counts, payloads, a sleep's length).
import fs from "node:fs";
import path from "node:path";
import { isDeepStrictEqual } from "node:util";
import { childRunId } from "../dist/index.js";

/** The steps a finished run of each package must have: id → expected status. */
function expectedShape(pkg, steps) {
  const ok = (...ids) => Object.fromEntries(ids.map((id) => [id, "succeeded"]));
  switch (pkg) {
    case "soak/chain":
      return ok("a", "b", "c");
    case "soak/fanout": {
      const n = steps.get("fan")?.result?.data?.n ?? 0;
      return ok("fan", "join", ...Array.from({ length: n }, (_, i) => `c${i}`));
    }
    case "soak/flaky":
      return ok("flaky", "after");
    case "soak/branch":
      return { boom: "failed", handler: "succeeded", never: "skipped" };
    case "soak/sleep":
      return ok("before", "nap", "after");
    case "soak/signal":
      return ok("wait", "after");
    case "soak/parent":
      return ok("prep", "child", "after");
    case "soak/leaf":
      return ok("one", "two");
    default:
      return {};
  }
}

/** Everything the store holds about one run. */
async function loadRun(rt, run) {
  const infos = await rt.steps(run.id);
  const steps = new Map();
  for (const info of infos) steps.set(info.id, { info, result: await rt.result(run.id, info.id) });
  return { run, infos, steps, events: await rt.events(run.id) };
}

/** The data checks of each package, beyond the shape: sums, counts, payloads, timing. */
function checkData(pkg, entry, loaded, child, bad) {
  const data = (id) => loaded.steps.get(id)?.result?.data;
  const want = (what, got, expected) => {
    if (!isDeepStrictEqual(got, expected)) bad(`${what}: got ${JSON.stringify(got)}, expected ${JSON.stringify(expected)}`);
  };
  const x = entry?.input?.x;
  switch (pkg) {
    case "soak/chain":
      return want("c.value", data("c")?.value, x + 6);
    case "soak/fanout": {
      const n = data("fan")?.n;
      if (!(n >= 5 && n <= 20)) bad(`fan emitted ${n} children`);
      const ids = [...Array.from({ length: n }, (_, i) => `c${i}`), "join"];
      want("fan.emittedIds", loaded.steps.get("fan")?.result?.emittedIds, ids);
      want("join.count", data("join")?.count, n);
      return want("join.sum", data("join")?.sum, (n * (n - 1)) / 2);
    }
    case "soak/flaky": {
      want("flaky.attempt", loaded.steps.get("flaky")?.info.attempt, 2);
      want("flaky retries", loaded.events.filter((e) => e.type === "step_retry_scheduled" && e.stepId === "flaky").length, 1);
      return want("after.value", data("after")?.value, x + 1);
    }
    case "soak/branch": {
      want("boom.error", loaded.steps.get("boom")?.result?.error?.code, "boom");
      return want("handler.handled", data("handler")?.handled, "boom");
    }
    case "soak/sleep": {
      want("after.value", data("after")?.value, x + 2);
      // The step after the sleep cannot start before the sleep's time is up.
      const before = loaded.steps.get("before")?.info.finishedAt?.getTime();
      const after = loaded.steps.get("after")?.info.startedAt?.getTime();
      if (!(after - before >= entry.input.ms)) bad(`"after" started ${after - before} ms after "before" finished; the sleep was ${entry.input.ms} ms`);
      return;
    }
    case "soak/signal":
      want("wait.result", data("wait"), entry.payload);
      return want("after.got", data("after")?.got, entry.payload);
    case "soak/parent": {
      if (!child) return bad(`child run ${childRunId(loaded.run.id, "child")} does not exist`);
      want("child run status", child.run.status, "succeeded");
      want("child run package", child.run.package, "soak/leaf");
      want("child.value", data("child")?.value, 2 * x + 1);
      want("child step result = child run output", data("child"), child.steps.get("two")?.result?.data);
      return want("after.value", data("after")?.value, 2 * x + 1);
    }
    case "soak/leaf":
      return want("two.value", data("two")?.value, 2 * entry.input.x + 1);
  }
}

/**
 * One run against its package's shape and the exactly-once rules: the run
 * succeeded; every expected step exists, once, in its expected status, and no
 * other step exists; each succeeded step has exactly one step_succeeded event
 * (by the worker its result names, at the attempt it names) and the run one
 * run_succeeded; an executor's committed effect was logged as started by that
 * very process.
 */
function checkRun(loaded, entry, child, starts, bad) {
  const { run, infos, steps, events } = loaded;
  if (run.status !== "succeeded") bad(`run status ${run.status}`);
  const seen = new Set();
  for (const info of infos) {
    if (seen.has(info.id)) bad(`step ${info.id} exists twice`);
    seen.add(info.id);
    if (["pending", "ready", "running", "waiting"].includes(info.status)) bad(`step ${info.id} still ${info.status}`);
  }
  const shape = expectedShape(run.package, steps);
  for (const [id, status] of Object.entries(shape)) {
    const got = steps.get(id)?.info.status;
    if (got !== status) bad(`step ${id}: ${got ?? "missing"}, expected ${status}`);
  }
  for (const id of steps.keys()) if (!(id in shape)) bad(`unexpected step ${id}`);

  const count = (type, stepId) => events.filter((e) => e.type === type && e.stepId === stepId).length;
  for (const type of ["run_succeeded", "run_started"]) {
    const n = events.filter((e) => e.type === type).length;
    if (n !== 1) bad(`${n} ${type} events`);
  }
  for (const type of ["run_failed", "run_canceled"]) if (events.some((e) => e.type === type)) bad(`has a ${type} event`);
  for (const { info, result } of steps.values()) {
    const succeeded = count("step_succeeded", info.id);
    if (succeeded !== (info.status === "succeeded" ? 1 : 0)) bad(`step ${info.id} (${info.status}) has ${succeeded} step_succeeded events`);
    const failed = count("step_failed", info.id);
    if (failed !== (info.status === "failed" ? 1 : 0)) bad(`step ${info.id} (${info.status}) has ${failed} step_failed events`);
    if (info.status !== "succeeded" || info.kind.startsWith("trellis/")) continue;
    // An executor's committed effect: its own step, its attempt, the lease it committed under.
    const effect = result?.data;
    if (effect?.run !== run.id || effect?.step !== info.id) bad(`step ${info.id}: result names ${effect?.run}/${effect?.step}`);
    if (effect?.attempt !== info.attempt) bad(`step ${info.id}: result attempt ${effect?.attempt}, step attempt ${info.attempt}`);
    const ev = events.find((e) => e.type === "step_succeeded" && e.stepId === info.id);
    if (ev && (ev.workerId !== effect?.worker || ev.attempt !== effect?.attempt)) {
      bad(`step ${info.id}: committed by ${effect?.worker}#${effect?.attempt}, event says ${ev.workerId}#${ev.attempt}`);
    }
    const key = `${run.id}\u0000${info.id}`;
    if (!(starts.get(key) ?? []).some((s) => s.pid === effect?.pid && s.attempt === effect?.attempt)) {
      bad(`step ${info.id}: no start logged by pid ${effect?.pid} attempt ${effect?.attempt}`);
    }
  }
  checkData(run.package, entry, loaded, child, bad);
}

/** Every start line of every worker (killed ones included), by run and step. */
function readStarts(logDir) {
  const starts = new Map();
  let total = 0;
  for (const file of fs.readdirSync(logDir).filter((f) => f.endsWith(".starts.jsonl"))) {
    for (const line of fs.readFileSync(path.join(logDir, file), "utf8").split("\n")) {
      if (!line) continue;
      let s;
      try {
        s = JSON.parse(line);
      } catch {
        continue; // a line cut short by a SIGKILL
      }
      total++;
      const key = `${s.run}\u0000${s.step}`;
      if (!starts.has(key)) starts.set(key, []);
      starts.get(key).push(s);
    }
  }
  return { starts, total };
}

const OUTCOME_EVENTS = ["step_succeeded", "step_failed", "step_retry_scheduled"];

async function allRuns(rt) {
  const runs = [];
  for (let after; ; ) {
    const page = await rt.listRuns({ limit: 10_000, ...(after ? { after } : {}) });
    runs.push(...page);
    if (page.length < 10_000) return runs;
    after = page.at(-1).id;
  }
}

/** Checks the whole store; returns the counts for the summary and the violations. */
export async function verify(rt, workload, logDir) {
  const violations = [];
  const { starts, total: executions } = readStarts(logDir);
  const runs = await allRuns(rt);
  const loaded = new Map();
  for (const run of runs) loaded.set(run.id, await loadRun(rt, run));

  // Every run in the store is one we started, or the child run of one we started.
  const children = new Map(); // child run id → the input the parent gave it
  for (const [id, entry] of workload.started) if (entry.pkg === "soak/parent") children.set(childRunId(id, "child"), { pkg: "soak/leaf", input: entry.input });
  for (const id of loaded.keys()) if (!workload.started.has(id) && !children.has(id)) violations.push(`run ${id}: not started by the soak`);
  for (const id of workload.started.keys()) if (!loaded.has(id)) violations.push(`run ${id}: started but not in the store`);

  let steps = 0;
  let committed = 0;
  let reclaims = 0;
  for (const [id, l] of loaded) {
    steps += l.infos.length;
    for (const info of l.infos) reclaims += info.reclaims;
    // Executions whose outcome was written: successes, failures and scheduled retries.
    const executorSteps = new Set(l.infos.filter((i) => !i.kind.startsWith("trellis/")).map((i) => i.id));
    committed += l.events.filter((e) => OUTCOME_EVENTS.includes(e.type) && executorSteps.has(e.stepId)).length;
    const entry = workload.started.get(id) ?? children.get(id);
    if (!entry) continue;
    const bad = (what) => violations.push(`run ${id} (${l.run.package}): ${what}`);
    if (l.run.package !== entry.pkg) bad(`package ${l.run.package}, started as ${entry.pkg}`);
    checkRun(l, entry, loaded.get(childRunId(id, "child")), starts, bad);
  }
  return { violations, runs: runs.length, steps, executions, committed, reclaims };
}
