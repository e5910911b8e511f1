import { describe, expect, it } from "vitest";
import { queuePolicy, resolveConfig } from "../../src/config.js";
import { newRuntime, sqliteStore, WorkflowError } from "../../src/index.js";

const store = sqliteStore(":memory:");

function configError(config: unknown): WorkflowError {
  try {
    resolveConfig(config as never);
  } catch (err) {
    return err as WorkflowError;
  }
  throw new Error("expected invalid_config");
}

describe("runtime config", () => {
  it("fills in the documented defaults", () => {
    const c = resolveConfig({ store });
    expect(c).toMatchObject({ maxReclaims: 5, maxWorkers: 4, pollInterval: 250, leaseDuration: 30_000, queues: {} });
    expect(c.workerId).toMatch(/^.+:\d+:[0-9a-f]{8}$/);
  });

  it.each([
    [{}, "store"],
    [{ store: "./app.db" }, "store"],
    [{ store, maxWorkers: 0 }, "maxWorkers"],
    [{ store, maxWorkers: 1.5 }, "maxWorkers"],
    [{ store, pollInterval: -1 }, "pollInterval"],
    [{ store, leaseDuration: 10 }, "leaseDuration"],
    [{ store, maxReclaims: -1 }, "maxReclaims"],
    [{ store, queues: { q: { maxWorkers: 0 } } }, "queues.q.maxWorkers"],
    [{ store, queues: { q: { rateLimit: { ratePerSecond: 0, burst: 1 } } } }, "queues.q.rateLimit.ratePerSecond"],
    [{ store, retention: { maxAge: 0 } }, "retention.maxAge"],
    [{ store, artifactStore: {} }, "artifactStore"],
    [{ store, maxWorker: 3 }, "config"],
    [{ store, clock: { now: () => 0 } }, "clock"],
    [{ store, clock: 5 }, "clock"],
  ])("rejects %j naming %s", (config, field) => {
    const err = configError(config);
    expect(err).toBeInstanceOf(WorkflowError);
    expect(err.code).toBe("invalid_config");
    expect(err.message).toContain(field === "config" ? "maxWorker" : `${field}:`);
  });

  it("reads time from a clock function or a Clock object, whose timers it sets", () => {
    expect(resolveConfig({ store, clock: () => 42 }).clock()).toBe(42);
    const set: number[] = [];
    const canceled: number[] = [];
    const c = resolveConfig({ store, clock: { now: () => 7, setTimeout: (_fn, ms) => (set.push(ms), () => void canceled.push(ms)) } });
    expect(c.clock()).toBe(7);
    c.setTimer(() => undefined, 1_000)();
    expect([set, canceled]).toEqual([[1_000], [1_000]]);
  });

  it("newRuntime rejects a bad config before opening the store", async () => {
    let opened = false;
    const spy = { name: "spy", open: async () => ((opened = true), store.open()) };
    await expect(newRuntime({ store: spy, maxWorkers: -1 })).rejects.toMatchObject({ code: "invalid_config" });
    expect(opened).toBe(false);
  });

  it("resolves queue limits: default unlimited, unconfigured one at a time, configured as given", () => {
    const queues = { mail: { rateLimit: { ratePerSecond: 5, burst: 2 } }, pdf: { maxWorkers: 3 } };
    expect(queuePolicy(queues, "default")).toEqual({ maxWorkers: Infinity });
    expect(queuePolicy(queues, "other")).toEqual({ maxWorkers: 1 });
    expect(queuePolicy(queues, "mail")).toEqual({ maxWorkers: Infinity, rateLimit: { ratePerSecond: 5, burst: 2 } });
    expect(queuePolicy(queues, "pdf")).toEqual({ maxWorkers: 3 });
  });

  it("rejects bad sqliteStore options", () => {
    expect(() => sqliteStore("")).toThrow(expect.objectContaining({ code: "invalid_config" }));
    expect(() => sqliteStore({ path: "x.db", busyTimeout: -5 })).toThrow(expect.objectContaining({ code: "invalid_config" }));
    for (const cacheSizeMiB of [0, -4, Number.NaN, "4"]) {
      expect(() => sqliteStore({ path: "x.db", cacheSizeMiB: cacheSizeMiB as number })).toThrow(expect.objectContaining({ code: "invalid_config" }));
    }
  });
});
