/**
 * The two runtime calls live views are built on: `rt.step` (one step with its
 * input) and `rt.watchChanges` (a hint on this runtime's commits and on other
 * store connections' wake-ups), on both stores.
 */
import { afterEach, describe, expect, it } from "vitest";
import { newExecutor, newPackage, newRuntime, permanent, type Runtime } from "../src/index.js";
import type { Store, StoreConfig } from "../src/store/store.js";
import { stores } from "./support/stores.js";

/** A store config that keeps the store it opens, for the test to wait on (Postgres's `listening`). */
function opening(inner: StoreConfig): { config: StoreConfig; opened?: Store & { listening?(): Promise<void> } } {
  const kept: ReturnType<typeof opening> = {
    config: { name: inner.name, open: async () => (kept.opened = await inner.open()) },
  };
  return kept;
}

describe.each(stores("live"))("live-view calls on $name", (target) => {
  const open: Runtime[] = [];
  afterEach(async () => {
    for (const rt of open.splice(0)) await rt.close();
  });

  async function runtime(store = target.fresh()) {
    const rt = await newRuntime({ store });
    open.push(rt);
    rt.registerExecutor(newExecutor("live/fail", async () => {
      throw permanent("nope", new Error("no"));
    }));
    rt.registerPackage(newPackage("live").entrypoint(async (run, input) => void run.step("only", input, { kind: "live/fail" })).build());
    return rt;
  }

  it("rt.step returns the step with its decoded input, undefined for an unknown one", async () => {
    const rt = await runtime();
    const { id } = await rt.startRun("live", { when: new Date(0), tags: new Set(["a"]) });
    const step = await rt.step(id, "only");
    expect(step?.kind).toBe("live/fail");
    expect(step?.input).toEqual({ when: new Date(0), tags: new Set(["a"]) });
    expect(await rt.step(id, "nope")).toBeUndefined();
    expect(await rt.step("no-such-run", "only")).toBeUndefined();
  });

  it("rt.watchChanges hears this runtime's commits", async () => {
    const rt = await runtime();
    let heard!: () => void;
    const first = new Promise<void>((resolve) => (heard = resolve));
    const stop = rt.watchChanges(() => heard());
    await rt.startRun("live", {});
    await first;
    stop();
  });

  it("rt.watchChanges hears commits of another connection to the store, until unsubscribed", async () => {
    const store = target.fresh();
    const writer = await runtime(store);
    // The watcher writes nothing itself: whatever it hears came from the writer's connection.
    const watcherStore = opening(store);
    const watcher = await runtime(watcherStore.config);
    let calls = 0;
    let heard = () => {};
    const stop = watcher.watchChanges(() => {
      calls++;
      heard();
    });
    // Postgres LISTENs on a connection of its own, opened by this first subscriber;
    // a commit before it is in place would reach no one. Its own `ready` is delivered by then.
    await watcherStore.opened?.listening?.();
    const first = new Promise<void>((resolve) => (heard = resolve));
    const { id } = await writer.startRun("live", {}); // a ready step: SQLite's WAL watch, Postgres NOTIFY
    await first;
    stop();
    const before = calls;
    await writer.runOnce();
    await writer.retryStep(id, "only");
    // Wake-ups arrive asynchronously; a round trip to the store lets a late one land first.
    await watcher.listRuns({ limit: 1 });
    await new Promise((resolve) => setImmediate(resolve));
    expect(calls).toBe(before);
  });
});
