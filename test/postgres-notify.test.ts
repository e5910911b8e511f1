/**
 * PostgreSQL: commits that make no work ready (a run finishing, a pause, a
 * signal nothing waits for) send one short `changed` notification naming the
 * runs, so another process's `waitForRun` and live views hear of them without
 * a poll; a commit that readies work sends only its `ready`. Workers ignore
 * `changed`. Asserted on the notifications themselves, never on timings.
 */
import { afterEach, describe, expect, it } from "vitest";
import { newExecutor, newPackage, newRuntime, type Runtime } from "../src/index.js";
import { Payload, parsePayload, commitPayloads, MAX_CHANGED_PAYLOAD } from "../src/store/postgres/listener.js";
import type { PostgresStore } from "../src/store/postgres/postgres-store.js";
import type { StoreEvent } from "../src/store/store.js";
import { Gate, waitUntil } from "../src/conformance/harness.js";
import { usePostgresSchemas } from "./support/postgres.js";

const schemas = usePostgresSchemas("notify");

describe("changed notifications: the payloads", () => {
  it("names the runs while the list is short, and none past it; a ready makes it unneeded", () => {
    expect(parsePayload(Payload.changed(["a", "b,\"c\""]))).toEqual({ type: "changed", runIds: ["a", 'b,"c"'] });
    const many = Array.from({ length: 200 }, (_, i) => `run-${i}`);
    expect(Payload.changed(many)).toBe("x");
    expect(parsePayload("x")).toEqual({ type: "changed" });
    expect(parsePayload("x:{not json")).toEqual({ type: "changed" });
    expect(Payload.changed(["r".repeat(MAX_CHANGED_PAYLOAD)])).toBe("x");
    expect([...commitPayloads(new Set(["r"]), new Set(["a"]))]).toEqual(["r"]);
    expect([...commitPayloads(new Set([Payload.canceled("a"), "r"]), new Set(["a"]))]).toEqual(["c:a", "r"]);
    expect([...commitPayloads(new Set(["d:5"]), new Set(["a"]))]).toEqual(["d:5", 'x:["a"]']);
    expect([...commitPayloads(new Set(), new Set())]).toEqual([]);
  });
});

describe("changed notifications between two processes on one schema", () => {
  const opened: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    for (const o of opened.splice(0).reverse()) await o.close();
  });

  /**
   * A store object that records every notification it hears, LISTENing before it
   * returns: the LISTEN's own `ready` (see the first test) is in `heard` by then.
   */
  async function subscribedStore(schema: string): Promise<{ heard: StoreEvent[]; store: PostgresStore }> {
    const store = (await schemas.store(schema).open()) as PostgresStore;
    opened.push(store);
    const heard: StoreEvent[] = [];
    store.subscribe((event) => heard.push(event ?? { type: "ready" }));
    await store.listening();
    return { heard, store };
  }

  /** The same, with `heard` emptied of that first `ready`: what follows is what the test's commits sent. */
  async function listeningStore(schema: string): Promise<{ heard: StoreEvent[]; store: PostgresStore }> {
    const subscribed = await subscribedStore(schema);
    expect(subscribed.heard).toEqual([{ type: "ready" }]);
    subscribed.heard.length = 0;
    return subscribed;
  }

  it("tells a subscriber to look once its LISTEN is in place: work readied before it is found", async () => {
    const schema = schemas.schema();
    const writer = await runtime(schema);
    // Committed before any LISTEN: its notification reached no one (as one between a
    // subscribe and the LISTEN it opens would).
    const { id } = await writer.startRun("one", null);
    const { heard, store } = await subscribedStore(schema);
    expect(heard).toEqual([{ type: "ready" }]);
    // Told to look, the subscriber finds the step.
    const { steps } = await store.claim({ workerId: "w", limit: 10, now: Date.now(), leaseDuration: 60_000, policyFor: () => ({ maxWorkers: Infinity }) });
    expect(steps.map((claimed) => claimed.run.id)).toEqual([id]);
  });

  async function runtime(schema: string, gate?: Gate): Promise<Runtime> {
    const rt = await newRuntime({ store: schemas.store(schema) });
    opened.push(rt);
    rt.registerExecutor(newExecutor("ok", async (step) => step.result(step.rawInput())));
    rt.registerExecutor(newExecutor("held", async (step) => {
      await gate?.pass();
      step.result(null);
    }));
    rt.registerPackage(newPackage("one").entrypoint((run) => void run.step("a", null, { kind: "ok" })).build());
    rt.registerPackage(newPackage("held").entrypoint((run) => void run.step("a", null, { kind: "held" })).build());
    rt.registerPackage(newPackage("two").entrypoint((run) => {
      const a = run.step("a", null, { kind: "ok" });
      run.step("b", null, { kind: "ok", dependsOn: [{ stepId: a.id, required: true }] });
    }).build());
    rt.registerPackage(newPackage("gated").entrypoint((run) => void run.waitForSignal("w", "go")).build());
    return rt;
  }

  const changedFor = (heard: StoreEvent[], runId: string) => heard.filter((e) => e.type === "changed" && e.runIds?.includes(runId));

  it("a run finished by another runtime reaches this one's subscribers, waitForRun and watchChanges as a changed event", async () => {
    const schema = schemas.schema();
    const gate = new Gate();
    const worker = await runtime(schema, gate);
    const watcher = await runtime(schema);
    const { heard } = await listeningStore(schema);

    const { id } = await worker.startRun("held", null);
    await waitUntil(() => heard.some((e) => e.type === "ready"), "the start's ready");
    const cycle = worker.runOnce();
    await gate.waitFor(1); // the step is claimed and running: no commit is pending
    const changes: number[] = [];
    const stopWatching = watcher.watchChanges(() => changes.push(heard.length));
    const waited = watcher.waitForRun(id, { timeout: 30_000 });
    const before = heard.length;
    gate.open();
    await cycle;
    // The success that finished the run made nothing ready: its commit said so, by name.
    await waitUntil(() => changedFor(heard, id).length === 1, "the changed notification");
    expect(heard.slice(before)).toEqual([{ type: "changed", runIds: [id] }]);
    expect((await waited).status).toBe("succeeded");
    await waitUntil(() => changes.length > 0, "watchChanges to hear it");
    stopWatching();
  });

  it("names each finished run once, and sends only its ready with a commit that readies work", async () => {
    const schema = schemas.schema();
    const worker = await runtime(schema);
    const { heard } = await listeningStore(schema);
    const runs = await worker.startRuns("one", [{ input: 1 }, { input: 2 }, { input: 3 }]);
    await waitUntil(() => heard.some((e) => e.type === "ready"), "the start's ready");
    const before = heard.length;
    await worker.runOnce();
    for (const r of runs) expect((await worker.workflow(r.id))?.status).toBe("succeeded");
    // However the outcomes were batched, one notification per commit, each finish named once.
    await waitUntil(() => runs.every((r) => changedFor(heard, r.id).length === 1), "each finish named once");
    expect(heard.slice(before).every((e) => e.type === "changed")).toBe(true);

    const two = await worker.startRun("two", null);
    await waitUntil(() => heard.at(-1)?.type === "ready", "the start's ready");
    const mark = heard.length;
    await worker.runOnce(); // a, whose success readies b; then b, whose success finishes the run
    await waitUntil(() => changedFor(heard, two.id).length === 1, "the finish");
    expect(heard.slice(mark)).toEqual([{ type: "ready" }, { type: "changed", runIds: [two.id] }]);
  });

  it("tells of operator actions that make nothing ready: a pause, a signal nothing waits for yet", async () => {
    const schema = schemas.schema();
    const rt = await runtime(schema);
    const { heard } = await listeningStore(schema);
    const { id } = await rt.startRun("gated", null);
    await rt.pauseRun(id, { actor: "ops" });
    await waitUntil(() => changedFor(heard, id).length === 1, "the pause");
    // Paused: the wait has not run, so nothing waits for the signal yet; it is kept.
    expect(await rt.signal(id, "go", 1)).toEqual({ delivered: true });
    await waitUntil(() => changedFor(heard, id).length === 2, "the signal");
    await rt.resumeRun(id);
    await waitUntil(() => heard.at(-1)?.type === "ready", "the resume's ready");
  });
});
