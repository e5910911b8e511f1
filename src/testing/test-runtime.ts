/**
 * `createTestRuntime`: a real runtime on a real store, driven by the test: a
 * fake clock that moves only when advanced, `runUntilIdle` instead of workers,
 * crashes of a chosen attempt, and short reads of a run's story. Nothing here
 * depends on a test runner, so vitest, Jest and `node:test` all use it.
 */
import type { RuntimeConfig } from "../config.js";
import { newRuntime } from "../engine/new-runtime.js";
import type { Runtime, StartRunOptions } from "../engine/runtime.js";
import { ErrorCodes, WorkflowError } from "../errors.js";
import type { RunGraph, RunGraphOptions } from "../graph/run-graph.js";
import type { Logger } from "../observability/logger.js";
import type { PackageInput, WorkflowPackage } from "../package.js";
import type { StoreConfig } from "../store/store.js";
import type { CycleResult, OperatorOptions, RunEvent, StepStatus, WorkflowRun } from "../types.js";
import { CrashingStores, type Crash, type CrashOptions, type CrashTarget } from "./crash-store.js";
import { FakeClock } from "./fake-clock.js";
import { nextDueAt } from "./next-due.js";
import { describeUnfinished } from "./unfinished.js";
import { freshPostgresSchema, temporarySqlite, type TestStore } from "./test-store.js";

/**
 * What `createTestRuntime` takes: the runtime configuration without `store`
 * and `clock` (the test kit provides them), plus where the store lives and
 * when the fake clock starts.
 */
export interface TestRuntimeOptions extends Omit<RuntimeConfig, "store" | "clock"> {
  /**
   * A fresh schema on this PostgreSQL server (dropped at `close`) instead of
   * the default, a SQLite file in a temporary directory (removed at `close`).
   */
  postgres?: string;
  /** Your own store instead (not removed at `close`). */
  store?: StoreConfig;
  /** Where the fake clock starts (default 2026-01-01T00:00:00Z). */
  start?: Date | number;
}

/** What `runUntilIdle` takes. */
export interface RunUntilIdleOptions {
  /**
   * Steps it may run before it gives up with `not_idle` (default 1000): a
   * workflow that keeps making work ready would otherwise never let it return.
   */
  maxSteps?: number;
}

/** What `runUntilSettled` takes. */
export interface RunUntilSettledOptions extends RunUntilIdleOptions {
  /** Do not move the clock past this time (default: no bound). */
  until?: Date | number;
}

/** One line the runtime logged at `warn` or `error` (the test kit's default logger keeps them here and prints nothing). */
export interface LoggedLine {
  /** The level it was logged at. */
  level: "warn" | "error";
  /** The message (empty when the line had only fields). */
  message: string;
  /** The structured fields logged with it (empty when there were none). */
  fields: Record<string, unknown>;
}

const DEFAULT_MAX_STEPS = 1000;

/** Opens a test runtime. Close it in your `afterEach` (it removes its store). */
export async function createTestRuntime(options: TestRuntimeOptions = {}): Promise<TestRuntime> {
  const { postgres, store, start, ...config } = options;
  if (postgres !== undefined && store !== undefined) {
    throw new WorkflowError(ErrorCodes.invalidConfig, "createTestRuntime: give either postgres or store, not both");
  }
  const owned: TestStore | undefined = store ? undefined : postgres !== undefined ? await freshPostgresSchema(postgres) : temporarySqlite();
  const clock = new FakeClock(start);
  const crashes = new CrashingStores();
  const logs: LoggedLine[] = [];
  try {
    const rt = await newRuntime({
      telemetry: false,
      logger: config.logger ?? collectingLogger(logs),
      ...config,
      store: crashes.wrap(store ?? (owned as TestStore).config),
      clock,
    });
    return new TestRuntime(rt, clock, crashes, logs, owned, config.leaseDuration ?? 30_000);
  } catch (err) {
    await owned?.remove();
    throw err;
  }
}

/**
 * A runtime under test (from `createTestRuntime`): `rt` on its own store and
 * fake clock, with the helpers that drive it.
 */
export class TestRuntime {
  /** The runtime: register executors and packages on it, start runs, read what you need. */
  readonly rt: Runtime;
  /** The clock every time in this runtime comes from. */
  readonly clock: FakeClock;
  /** What the runtime logged at `warn` and `error` (unless you gave a `logger`). */
  readonly logs: LoggedLine[];
  /** ms a claimed step stays leased without a heartbeat: advance past it to expire a dead worker's lease. */
  readonly leaseDuration: number;
  readonly #crashes: CrashingStores;
  readonly #store: TestStore | undefined;
  #closed: Promise<void> | undefined;

  /** @internal Use {@link createTestRuntime}. */
  constructor(rt: Runtime, clock: FakeClock, crashes: CrashingStores, logs: LoggedLine[], store: TestStore | undefined, leaseDuration: number) {
    this.rt = rt;
    this.clock = clock;
    this.logs = logs;
    this.leaseDuration = leaseDuration;
    this.#crashes = crashes;
    this.#store = store;
  }

  /** Where the store lives (a SQLite file path or a Postgres schema), for debugging a failed test. */
  get storeLocation(): string | undefined {
    return this.#store?.location;
  }

  /** The fake time, epoch ms. */
  now(): number {
    return this.clock.now();
  }

  /** Moves the clock forward (see {@link FakeClock.advance}); run `runUntilIdle` to run what came due. */
  advance(ms: number): Promise<void> {
    return this.clock.advance(ms);
  }

  /** Moves the clock forward to a date (see {@link FakeClock.advanceTo}). */
  advanceTo(to: Date | number): Promise<void> {
    return this.clock.advanceTo(to);
  }

  /**
   * Runs every step that is due now, the ones made ready on the way included
   * (dependents, retries without backoff, expired leases, woken waits), cycle
   * after cycle of `rt.runOnce()`, until a cycle finds nothing to do. Resolves
   * with the totals. Waits for executors that are still running. Time does not
   * move: advance the clock for what is due later. Rejects with `not_idle`,
   * naming the runs still busy, when more than `maxSteps` steps ran.
   */
  async runUntilIdle(options: RunUntilIdleOptions = {}): Promise<CycleResult> {
    const maxSteps = stepBudget("runUntilIdle", options.maxSteps);
    const total = emptyTotals();
    await this.#drain(total, maxSteps, "runUntilIdle");
    return total;
  }

  /**
   * Skips time: runs until idle, then moves the clock to the next moment
   * something is due (a delay or `runAt`, a retry's backoff, a sleep, a
   * signal's timeout, a crashed attempt's lease) and runs again, until nothing
   * is due at any time: every run finished, or waiting for a signal, an
   * operator or a child. Stops before a due time past `until`. An attempt's
   * `timeout` is not skipped to: it fires while its executor runs, on `advance`.
   * `maxSteps` (default 1000) counts every step it runs, as in `runUntilIdle`.
   */
  async runUntilSettled(options: RunUntilSettledOptions = {}): Promise<CycleResult> {
    const maxSteps = stepBudget("runUntilSettled", options.maxSteps);
    const until = options.until === undefined ? Infinity : options.until instanceof Date ? options.until.getTime() : options.until;
    const total = emptyTotals();
    for (;;) {
      await this.#drain(total, maxSteps, "runUntilSettled");
      const next = await nextDueAt(this.rt, this.clock.now());
      if (next === undefined || next > until) return total;
      await this.clock.advanceTo(next);
    }
  }

  /** Cycles until one finds nothing to do, adding to `total`; `not_idle` past `maxSteps` steps in all. */
  async #drain(total: CycleResult, maxSteps: number, caller: string): Promise<void> {
    for (;;) {
      // One step more than allowed: running it is how we know the work did not stop.
      const cycle = await this.rt.runOnce({ maxSteps: maxSteps + 1 - total.claimed });
      for (const key of Object.keys(total) as (keyof CycleResult)[]) total[key] += cycle[key];
      if (total.claimed > maxSteps) {
        throw new WorkflowError(
          ErrorCodes.notIdle,
          `${caller} ran ${maxSteps} steps (maxSteps) and work was still due; ${await describeUnfinished(this.rt)}`,
          { details: total },
        );
      }
      if (cycle.claimed === 0 && cycle.reclaimed === 0) return;
    }
  }

  /** Starts a run, runs until idle, and returns the run as it stands then. */
  async execute<P extends WorkflowPackage<any>>(pkg: P, input: PackageInput<P>, opts?: StartRunOptions): Promise<WorkflowRun>;
  async execute(packageName: string, input: unknown, opts?: StartRunOptions): Promise<WorkflowRun>;
  async execute(pkg: string | WorkflowPackage<unknown>, input: unknown, opts?: StartRunOptions): Promise<WorkflowRun> {
    const handle = await this.rt.startRun(pkg as string, input, opts);
    await this.runUntilIdle();
    return (await this.rt.workflow(handle.id)) as WorkflowRun;
  }

  /**
   * Delivers a signal to a run (`rt.signal`, with its `id` and operator
   * options), then runs until idle so that the waits it ends go on.
   */
  async signal(runId: string, name: string, payload?: unknown, opts: { id?: string } & OperatorOptions = {}): Promise<{
    /** False when a signal with the same `id` had been delivered already (nothing was stored). */
    delivered: boolean;
  }> {
    const result = await this.rt.signal(runId, name, payload, opts);
    await this.runUntilIdle();
    return result;
  }

  /**
   * Arms a crash: the worker running the next attempt of the matching step dies
   * (by default after its executor ran and before its commit). The step then
   * stays `running` under a lease nobody renews: advance the clock past
   * `leaseDuration` and run until idle, and it is reclaimed and runs again.
   */
  crashNextAttempt(target: CrashTarget, options: CrashOptions = {}): Crash {
    return this.#crashes.arm(target, options);
  }

  /** The run's graph (`rt.graph`). */
  graph(runId: string, opts?: RunGraphOptions): Promise<RunGraph> {
    return this.rt.graph(runId, opts);
  }

  /** The run's event log (`rt.events`). */
  events(runId: string): Promise<RunEvent[]> {
    return this.rt.events(runId);
  }

  /** The run's event log as lines `"<type> <stepId>"` (or `"<type>"`), to compare with the story you expect. */
  async story(runId: string): Promise<string[]> {
    return (await this.rt.events(runId)).map((e) => (e.stepId ? `${e.type} ${e.stepId}` : e.type));
  }

  /** Each step's status, by step id. */
  async statuses(runId: string): Promise<Record<string, StepStatus>> {
    return Object.fromEntries((await this.rt.steps(runId)).map((s) => [s.id, s.status]));
  }

  /** Closes the runtime, then removes the store it created. Idempotent. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      try {
        await this.rt.close();
      } finally {
        await this.#store?.remove();
      }
    })();
    return this.#closed;
  }

  /** `await using env = await createTestRuntime()` closes it at the end of the block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

const emptyTotals = (): CycleResult => ({ claimed: 0, processed: 0, succeeded: 0, failed: 0, reclaimed: 0 });

function stepBudget(caller: string, maxSteps = DEFAULT_MAX_STEPS): number {
  if (!Number.isInteger(maxSteps) || maxSteps < 1) {
    throw new WorkflowError(ErrorCodes.invalidInput, `${caller}: maxSteps must be a positive integer (got ${String(maxSteps)})`);
  }
  return maxSteps;
}

/** Keeps `warn` and `error` lines for the test to read; prints nothing. */
function collectingLogger(logs: LoggedLine[]): Logger {
  const keep = (level: "warn" | "error") => (fieldsOrMessage: unknown, message?: string) => {
    const fields = typeof fieldsOrMessage === "object" && fieldsOrMessage !== null ? (fieldsOrMessage as Record<string, unknown>) : {};
    logs.push({ level, message: message ?? (typeof fieldsOrMessage === "string" ? fieldsOrMessage : ""), fields });
  };
  return { debug: () => undefined, info: () => undefined, warn: keep("warn"), error: keep("error") };
}
