/**
 * Test helpers of the conformance suite: runtimes on a fresh store with a clock
 * the test drives, gates that hold an executor until the test lets it go, and
 * poll-until for state that another process or timer changes.
 */
import { afterEach, beforeEach } from "./runner.js";
import { newRuntime } from "../engine/new-runtime.js";
import type { Runtime } from "../engine/runtime.js";
import type { RuntimeConfig } from "../config.js";
import { isWorkflowError, permanent } from "../errors.js";
import { newExecutor } from "../executor.js";
import type { RunEvent } from "../types.js";
import type { Store, StoreConfig } from "../store/store.js";

/** The store adapter a conformance suite runs against, and how to get a fresh database for it. */
export interface ConformanceTarget {
  /** Shown in the suite's name. */
  name: string;
  /**
   * A store config for a fresh, empty database. Opening it twice must give two
   * connections to the same database (that is how the suite simulates two processes).
   */
  makeStore(): StoreConfig | Promise<StoreConfig>;
  /** The adapter takes `StartLease`s (optional for an adapter): the suite then checks that it does. */
  startLeases?: boolean;
  /** Called after each test, e.g. to drop the database. */
  cleanup?(): void | Promise<void>;
}

/**
 * One test's world: runtimes (and raw stores) over one fresh store, all reading
 * the clock `now`, which only the test moves. `useHarness` makes one per test.
 */
export class Harness {
  /** The clock every runtime of this test reads (epoch ms). */
  now = Date.UTC(2026, 0, 1, 12, 0, 0);
  /** Every error the runtimes reported to `onError`, in order; tests assert it stays empty. */
  readonly errors: unknown[] = [];
  readonly #runtimes: Runtime[] = [];
  readonly #store: StoreConfig;
  readonly #stores: Store[] = [];

  constructor(store: StoreConfig) {
    this.#store = store;
  }

  /** A runtime on this test's store. Call twice for two "processes" sharing it. */
  async runtime(extra: Partial<RuntimeConfig> = {}): Promise<Runtime> {
    const rt = await newRuntime({
      store: this.#store,
      clock: () => this.now,
      onError: (e) => this.errors.push(e),
      ...extra,
    });
    this.#runtimes.push(rt);
    return rt;
  }

  /** The store itself, opened once more (another connection to the same database), for tests of the seam. */
  async store(): Promise<Store> {
    const store = await this.#store.open();
    this.#stores.push(store);
    return store;
  }

  /** Moves the clock `ms` milliseconds forward. */
  advance(ms: number): void {
    this.now += ms;
  }

  /** Closes every runtime and store this harness opened (`useHarness` calls it after each test). */
  async closeAll(): Promise<void> {
    for (const rt of this.#runtimes.splice(0)) await rt.close();
    for (const store of this.#stores.splice(0)) await store.close();
  }
}

/** A fresh harness per test, closed afterwards. */
export function useHarness(target: ConformanceTarget): () => Harness {
  let current: Harness | undefined;
  beforeEach(async () => {
    current = new Harness(await target.makeStore());
  });
  afterEach(async () => {
    await current?.closeAll();
    current = undefined;
    await target.cleanup?.();
  });
  return () => {
    if (!current) throw new Error("useHarness: no test is running");
    return current;
  };
}

/** Holds executors until `open()`; `entered` counts who is waiting, `waitFor(n)` waits for n of them. */
export class Gate {
  /** How many callers have reached `pass()` so far. */
  entered = 0;
  /** The most callers that were inside `pass()` at once (a concurrency limit check). */
  maxInside = 0;
  #inside = 0;
  #open = false;
  #release: (() => void)[] = [];
  #arrivals: (() => void)[] = [];

  /** Called by an executor: resolves once the gate is open (at once if it is already). */
  async pass(): Promise<void> {
    this.entered++;
    this.#inside++;
    this.maxInside = Math.max(this.maxInside, this.#inside);
    for (const a of this.#arrivals.splice(0)) a();
    try {
      if (!this.#open) await new Promise<void>((resolve) => this.#release.push(resolve));
    } finally {
      this.#inside--;
    }
  }

  /** Resolves once `n` callers have reached `pass()`. */
  async waitFor(n: number): Promise<void> {
    while (this.entered < n) await new Promise<void>((resolve) => this.#arrivals.push(resolve));
  }

  /** Lets every waiting caller through, and every later one at once. */
  open(): void {
    this.#open = true;
    for (const r of this.#release.splice(0)) r();
  }
}

/** Polls `check` until it returns a truthy value; fails after `timeout` ms (a guard, not a timing assertion). */
export async function waitUntil<T>(check: () => T | Promise<T>, what: string, timeout = 15_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** The code of the WorkflowError a promise rejects with (fails if it resolves). */
export async function rejectionCode(promise: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof promise === "function" ? promise() : promise);
  } catch (err) {
    return (err as { code?: string }).code ?? `not a WorkflowError: ${String(err)}`;
  }
  throw new Error("expected a rejection");
}

/** "type stepId" per event: a run's story, to compare with an expected one. */
export const story = (events: RunEvent[]) => events.map((e) => (e.stepId ? `${e.type} ${e.stepId}` : e.type));

/** Registers "ok" (succeeds with its input, noting the step in `ran`) and "fail" (fails for good). */
export function registerOk(rt: Runtime, ran: string[] = []): string[] {
  rt.registerExecutor(newExecutor("ok", async (step) => {
    ran.push(step.step.id);
    step.result(step.rawInput());
  }));
  rt.registerExecutor(newExecutor("fail", async () => {
    throw permanent("boom", new Error("no"));
  }));
  return ran;
}

/** The outcome of a call: "ok", or the code of the WorkflowError it rejected with. */
export async function outcomeCode(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return isWorkflowError(err) ? err.code : `not a WorkflowError: ${String(err)}`;
  }
  return "ok";
}

/** For the side-store suites: runs `body` with `n` stores of the target over one fresh storage, then closes them and cleans up. */
export async function withFreshStores<S extends object>(
  target: { makeStore(): S | Promise<S>; cleanup?(): void | Promise<void> },
  n: number,
  body: (...stores: S[]) => Promise<void>,
): Promise<void> {
  const stores: S[] = [];
  try {
    for (let i = 0; i < n; i++) stores.push(await target.makeStore());
    await body(...stores);
  } finally {
    for (const s of stores) await (s as { close?(): Promise<void> }).close?.();
    await target.cleanup?.();
  }
}
