/**
 * The PostgreSQL store's LISTEN connection is lost (the server terminates its
 * backend) under an idle worker that polls once a minute. The listener
 * reconnects with backoff and then wakes the worker with a ready event (as it
 * does when it first listens), since notifications sent meanwhile are lost: the
 * worker still runs new work at once, both work started while it was not
 * listening and work started afterwards.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newPackage, requireSteps } from "../../src/index.js";
import { pgUrl } from "../support/postgres.js";
import { pollUntil, useCrashRuntime, type WorkerMessage, type WorkerProcess } from "./harness.js";

const wake = newPackage("wake")
  .entrypoint((run) => {
    const a = run.step("a", {}, { kind: "crash/noop" });
    run.step("b", {}, { kind: "crash/noop", dependsOn: requireSteps(a) });
  })
  .build();

const env = useCrashRuntime("postgres", wake);
let admin: pg.Client;
beforeAll(async () => {
  admin = new pg.Client({ connectionString: pgUrl() });
  await admin.connect();
});
afterAll(() => admin?.end());

/**
 * The backend pid of a worker's LISTEN connection, once it has exactly one other
 * than `not` and its LISTEN has completed (the backend is idle again).
 */
async function listenBackend(worker: WorkerProcess, not?: number): Promise<number> {
  const applicationName = env.box.applicationName(worker.config.workerId);
  return pollUntil(`${worker.describe()} to LISTEN${not ? " again" : ""}`, async () => {
    const { rows } = await admin.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND query ILIKE 'LISTEN%' AND state = 'idle'", [
      applicationName,
    ]);
    return rows.length === 1 && rows[0]?.pid !== not ? rows[0]?.pid : undefined;
  });
}

/** Terminates a backend and waits until it has exited. */
async function terminate(pid: number): Promise<void> {
  const { rows } = await admin.query<{ ok: boolean }>("SELECT pg_terminate_backend($1, 10000) AS ok", [pid]);
  expect(rows).toEqual([{ ok: true }]);
}

/** Starts a run and waits for it to succeed; the deadline is far below the worker's poll interval. */
async function runToSuccess(runId: string): Promise<void> {
  await env.rt.startRun("wake", {}, { runId });
  await pollUntil(`run ${runId} to succeed`, async () => ((await env.rt.workflow(runId))?.status === "succeeded" ? true : undefined), 20_000);
}

async function spawnIdleWorker(): Promise<WorkerProcess> {
  const worker = env.box.spawn({ workerId: "idle", pollInterval: 60_000 });
  await worker.waitFor("ready");
  return worker;
}

async function expectAllRanIn(worker: WorkerProcess, runIds: string[]): Promise<void> {
  expect(env.box.starts().map((l) => `${l.workerId} ${l.runId}/${l.stepId}`).sort()).toEqual(
    runIds.sort().flatMap((r) => [`${worker.config.workerId} ${r}/a`, `${worker.config.workerId} ${r}/b`]),
  );
  expect(await worker.stop()).toEqual({ code: 0, signal: null });
  // A lost LISTEN costs latency, not correctness: nothing is reported as an error.
  expect(worker.errors).toEqual([]);
}

describe("a worker whose LISTEN connection is terminated by the server", () => {
  it("listens again on a new connection, and new work wakes it", async () => {
    const worker = await spawnIdleWorker();
    const first = await listenBackend(worker);
    await runToSuccess("before");

    await terminate(first);
    await listenBackend(worker, first);
    await runToSuccess("after");

    await expectAllRanIn(worker, ["before", "after"]);
  });

  it("runs work whose notification it missed while not listening, once it has reconnected and emitted a ready event", async () => {
    const worker = env.box.spawn({ workerId: "idle", pollInterval: 60_000, reportStore: true });
    // Idle for sure: once its LISTEN is up the listener tells it to look (a ready
    // event), and the claim it starts after that returns nothing; since nothing
    // writes to the store, nothing wakes it before its poll a minute from now.
    const after = (earlier: WorkerMessage) => (m: WorkerMessage) => worker.messages.indexOf(m) > worker.messages.indexOf(earlier);
    const listening = await worker.waitFor("store-event");
    const look = await worker.waitFor("claim", after(listening));
    await worker.waitFor("claimed", (m) => after(look)(m) && (m.steps as string[]).length === 0);
    const first = await listenBackend(worker);
    const idleAt = worker.messages.length;

    // Frozen (SIGSTOP), the worker cannot reconnect: the run below is created,
    // and its NOTIFY sent, while it has no LISTEN at all.
    worker.child.kill("SIGSTOP");
    try {
      await terminate(first);
      await env.rt.startRun("wake", {}, { runId: "missed" });
    } finally {
      worker.child.kill("SIGCONT");
    }
    await pollUntil("run missed to succeed", async () => ((await env.rt.workflow("missed"))?.status === "succeeded" ? true : undefined), 20_000);
    await listenBackend(worker, first);

    // What woke it: the ready event the listener emits once it listens again;
    // then it claimed the missed run's first step.
    const since = worker.messages.slice(idleAt).filter((m) => ["store-event", "claim", "claimed"].includes(m.type));
    expect(since.slice(0, 3)).toEqual([
      { type: "store-event", event: { type: "ready" } },
      { type: "claim" },
      { type: "claimed", steps: ["missed/a"] },
    ]);

    await runToSuccess("after");
    await expectAllRanIn(worker, ["missed", "after"]);
  });
});
