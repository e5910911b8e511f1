/**
 * Real time, real processes: three worker child processes (the built package)
 * on one store each declare the same `* * * * * *` schedule and run workers
 * whose poll interval is a minute, so every tick they fire was woken by the
 * store's due time (the claim's `nextDueAt`). One of them is SIGKILLed after
 * a few ticks and another takes its place. For a few seconds of ticks: every
 * second between the first tick and the last started exactly one run, and the
 * step of each run that finished executed once.
 */
import { type ChildProcess, fork } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { newRuntime, type Runtime } from "../../src/index.js";
import { assertBuilt, pollUntil, Sandbox, STORE_KINDS } from "../crash/harness.js";
import { runsOf } from "./support.js";

const WORKER = fileURLToPath(new URL("../fixtures/schedule-worker.mjs", import.meta.url));

interface Child {
  process: ChildProcess;
  messages: { type: string; message?: string }[];
  exited: Promise<number | null>;
}

function spawn(box: Sandbox, workerId: string): Child {
  const child = fork(WORKER, [JSON.stringify({ store: box.store, workerId, logDir: box.logDir })], { execArgv: [], stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const messages: Child["messages"] = [];
  child.on("message", (m: { type: string }) => messages.push(m));
  return { process: child, messages, exited: new Promise((resolve) => child.on("exit", (code) => resolve(code))) };
}

describe.each(STORE_KINDS)("a seconds schedule in three processes on %s", (kind) => {
  beforeAll(assertBuilt);
  let box: Sandbox;
  let rt: Runtime | undefined;
  const children: Child[] = [];
  afterEach(async () => {
    for (const c of children.splice(0)) {
      c.process.kill("SIGKILL");
      await c.exited;
    }
    await rt?.close();
    await box.cleanup();
  });

  it("starts exactly one run per tick", async () => {
    box = new Sandbox(kind);
    rt = await newRuntime({ store: box.storeConfig() });
    for (const id of ["w1", "w2", "w3"]) children.push(spawn(box, id));
    await pollUntil("every worker ready", async () => (children.every((c) => c.messages.some((m) => m.type === "ready")) ? true : undefined));
    const reader = rt;
    const ticksAtLeast = (n: number) =>
      pollUntil(`${n} ticks`, async () => {
        const runs = await runsOf(reader, "every-second");
        return runs.length >= n ? runs.length : undefined;
      });
    // A few seconds of ticks, all three running; then one dies mid-work and another starts.
    const before = await ticksAtLeast(3);
    const killed = children[0] as Child;
    killed.process.kill("SIGKILL");
    expect(await killed.exited).toBe(null);
    children.push(spawn(box, "w4"));
    await ticksAtLeast(before + 3);
    const alive = children.filter((c) => c !== killed);
    for (const c of alive) c.process.send({ type: "stop" });
    for (const c of alive) expect(await c.exited).toBe(0);
    expect(alive.flatMap((c) => c.messages.filter((m) => m.type === "error"))).toEqual([]);

    const runs = await runsOf(rt, "every-second");
    const ticks = runs.map((r) => Date.parse(r.metadata["trellis.scheduleTick"] as string));
    const first = ticks[0] as number;
    const last = ticks.at(-1) as number;
    // Every second from the first tick to the last, once each.
    expect(ticks).toEqual(Array.from({ length: (last - first) / 1000 + 1 }, (_, i) => first + i * 1000));
    // Each run's step ran once, whichever process ran it.
    const executed = fs
      .readdirSync(box.logDir)
      .filter((f) => f.endsWith(".jsonl"))
      .flatMap((f) => fs.readFileSync(path.join(box.logDir, f), "utf8").trim().split("\n").filter(Boolean))
      .map((line) => (JSON.parse(line) as { runId: string }).runId)
      .sort();
    const finished = runs.filter((r) => r.status === "succeeded").map((r) => r.id);
    expect(executed.filter((id) => finished.includes(id))).toEqual([...finished].sort());
  });
});
