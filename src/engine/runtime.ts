/**
 * `Runtime`: the facade an application holds. Registries of executors and
 * packages, run start, reads for admin screens, operator actions, and the
 * worker loop (delegated to the scheduler).
 */
import { randomUUID } from "node:crypto";
import { type ResolvedConfig, type RuntimeConfig, resolveConfig } from "../config.js";
import { ErrorCodes, WorkflowError } from "../errors.js";
import { type Executor, Registry } from "../executor.js";
import type { PackageInput, WorkflowPackage } from "../package.js";
import type { Projection } from "../projections/projection-store.js";
import { checkPayload } from "../limits.js";
import { hasNul } from "../names.js";
import { tryEncode } from "../serialization.js";
import { FINISHED_RUN_STATUSES } from "../store/graph-rules.js";
import { WorkerTelemetry } from "../observability/worker-telemetry.js";
import { loadOpenTelemetry, OtelSignals } from "../observability/otel-signals.js";
import { StepMetrics } from "../observability/otel-metrics.js";
import { QueueCountsSampler } from "../observability/queue-counts.js";
import type { RuntimeStats } from "../observability/runtime-stats.js";
import type { CreatedRun, NewRun, Store } from "../store/store.js";
import type { ArtifactRef } from "../artifacts/artifact-store.js";
import type {
  CycleResult,
  FailedStepsFilter,
  ListRunsFilter,
  PurgeOptions,
  RunEvent,
  RunEventType,
  RunHandle,
  StepDetail,
  StepInfo,
  StepResult,
  WorkflowRun,
} from "../types.js";
import { RESERVED_KIND_PREFIX } from "../waits.js";
import { storeBuiltinServices } from "./builtins.js";
import { startChildRun } from "./child-runs.js";
import { toRunEvent, toStepInfo, toStepResult, toWorkflowRun } from "./records.js";
import {
  asInvalidInput,
  assertRunId,
  failedStepsSchema,
  isRunId,
  listRunsSchema,
  parseOrThrow,
  purgeSchema,
  signalSchema,
  waitForRunSchema,
} from "./runtime-arguments.js";
import { EventHooks, type RunEventListener } from "./event-hooks.js";
import type { RunGraph, RunGraphOptions } from "../graph/run-graph.js";
import { PackageRegistry } from "./package-registry.js";
import { RunWaiter, type WaitForRunOptions } from "./run-waiter.js";
import { prepareRun, type StartRunOptions } from "./run-preparation.js";
import { purgeFinished, startRetention } from "./purge.js";
import { canceledError, Scheduler, type WorkerOptions } from "./scheduler.js";
import { openGuardedStore } from "./open-store.js";
import { readArtifact, readGraph, readOutput, readStep } from "./run-reads.js";
import { ScheduleFirer } from "./schedule-firing.js";
import { type ScheduleInfo, type ScheduleOptions, Schedules } from "./schedules.js";

export type { StartRunOptions } from "./run-preparation.js";
export type { RunEventListener } from "./event-hooks.js";

/** Opens the store, applies its migrations, and returns a runtime. */
export async function newRuntime(config: RuntimeConfig): Promise<Runtime> {
  const resolved = resolveConfig(config);
  // Loaded before the store opens, and only if installed: nothing else here imports it.
  const otel = resolved.telemetry ? await loadOpenTelemetry() : undefined;
  const guarded = await openGuardedStore(resolved);
  const queueCounts = new QueueCountsSampler(guarded, resolved.statsInterval, resolved.clock);
  const signals = otel && new OtelSignals(otel, new StepMetrics(otel, () => queueCounts.read()));
  return new Runtime(guarded, resolved, new WorkerTelemetry(resolved.log, signals), queueCounts);
}

export class Runtime {
  readonly #store: Store;
  readonly #config: ResolvedConfig;
  readonly #executors = new Registry();
  readonly #packages = new PackageRegistry(this.#executors, (executor) => this.registerExecutor(executor));
  readonly #scheduler: Scheduler;
  readonly #waiter: RunWaiter;
  readonly #hooks: EventHooks;
  readonly #telemetry: WorkerTelemetry;
  readonly #queueCounts: QueueCountsSampler;
  readonly #schedules: Schedules;
  #closing: Promise<void> | undefined;

  /** @internal Use {@link newRuntime}. */
  constructor(store: Store, config: ResolvedConfig, telemetry: WorkerTelemetry, queueCounts: QueueCountsSampler) {
    this.#store = store;
    this.#config = config;
    this.#telemetry = telemetry;
    this.#queueCounts = queueCounts;
    const builtins = storeBuiltinServices(store, (parent, input, childId) =>
      startChildRun({ store: this.#store, config: this.#config, telemetry: this.#telemetry, packages: this.#packages, wake: () => this.#scheduler.wake() }, parent, input, childId));
    // The poll interval bounds how late a finish nobody announced is seen; past 1 s a waiter would feel stuck.
    this.#hooks = new EventHooks(store, (err) => config.onError(err, "an rt.on listener failed"));
    this.#waiter = new RunWaiter(store, Math.min(config.pollInterval, 1_000), () => this.#closing !== undefined);
    this.#scheduler = new Scheduler(store, this.#executors, config, {
      result: (runId, stepId) => this.result(runId, stepId),
      projection: (name) => this.projection(name),
      ...(config.artifactStore ? { artifactStore: config.artifactStore } : {}),
      builtins,
      log: config.log,
    }, telemetry);
    this.#schedules = new Schedules(store, config, this.#packages, () => this.#scheduler.wake());
    const firer = new ScheduleFirer({ store, config, hasPackage: (name) => this.#packages.has(name), start: (...a) => this.startRun(...a), cancel: (id) => this.cancelRun(id) });
    this.#scheduler.fireSchedules = (now) => firer.fireDue(now);
  }

  /** The id this runtime's workers write into the leases they take. */
  get workerId(): string {
    return this.#config.workerId;
  }

  registerExecutor(executor: Executor): void {
    if (hasNul(executor?.kind)) throw new WorkflowError(ErrorCodes.invalidInput, "an executor kind must not contain NUL characters");
    if (typeof executor?.kind === "string" && executor.kind.startsWith(RESERVED_KIND_PREFIX)) {
      throw new WorkflowError(ErrorCodes.invalidInput, `executor kinds starting with "${RESERVED_KIND_PREFIX}" are reserved for built-in steps ("${executor.kind}")`);
    }
    this.#executors.register(executor);
  }

  /**
   * Registers a package (and the executors it brings). A package with a `version`
   * may be registered again with another version; `startRun` takes the newest.
   */
  registerPackage<I>(pkg: WorkflowPackage<I>): void {
    this.#packages.register(pkg as WorkflowPackage);
  }

  /**
   * Validates the input, calls the package's entrypoint, and writes the run with
   * its first steps in one transaction. Nothing is written if anything fails.
   */
  async startRun<P extends WorkflowPackage<any>>(pkg: P, input: PackageInput<P>, opts?: StartRunOptions): Promise<RunHandle>;
  async startRun(packageName: string, input: unknown, opts?: StartRunOptions): Promise<RunHandle>;
  async startRun(pkg: string | WorkflowPackage<unknown>, input: unknown, opts: StartRunOptions = {}): Promise<RunHandle> {
    const [handle] = await this.startRuns(pkg as string, [{ ...opts, input }]);
    return handle as RunHandle;
  }

  /**
   * Starts many runs of one package in one transaction: all of them or, if any
   * input or entrypoint fails, none. Runs whose `runId` exists already are
   * returned as they are. Much faster than a `startRun` per run for bulk work.
   */
  async startRuns<P extends WorkflowPackage<any>>(pkg: P, items: readonly ({ input: PackageInput<P> } & StartRunOptions)[]): Promise<RunHandle[]>;
  async startRuns(packageName: string, items: readonly ({ input: unknown } & StartRunOptions)[]): Promise<RunHandle[]>;
  async startRuns(which: string | WorkflowPackage<unknown>, items: readonly ({ input: unknown } & StartRunOptions)[]): Promise<RunHandle[]> {
    this.#assertOpen();
    const newest = this.#packages.resolve(which);
    return this.#telemetry.traceStart(newest.name, items.length, async (stamp) => {
      const handles: (RunHandle | undefined)[] = [];
      const toCreate: { index: number; run: NewRun }[] = [];
      for (const [index, item] of items.entries()) {
        const pkg = item.version === undefined ? newest : this.#packages.get(newest.name, item.version);
        const prepared = await prepareRun(this.#store, this.#config, pkg, item, stamp).catch(asInvalidInput);
        if ("run" in prepared) toCreate.push({ index, run: prepared });
        handles[index] = "run" in prepared ? undefined : prepared;
      }
      if (toCreate.length) {
        // Idle workers here take the first steps in the same transaction (no claim needed).
        const lease = this.#scheduler.offerStartLease();
        let stored: CreatedRun[];
        try {
          stored = await this.#store.createRuns(
            toCreate.map((c) => c.run),
            lease?.request,
          );
        } catch (err) {
          lease?.cancel();
          throw err;
        }
        lease?.adopt(stored.flatMap((s) => s.claimed ?? []));
        stored.forEach(({ run }, i) => {
          handles[(toCreate[i] as { index: number }).index] = { id: run.id, package: run.package, name: run.name };
        });
        if (stored.some((s) => s.created)) this.#scheduler.wake();
      }
      return handles as RunHandle[];
    });
  }

  /** Creates or updates a durable cron schedule: one run of the package per tick (docs/schedules.md). */
  async schedule<I = unknown>(options: ScheduleOptions<I>): Promise<ScheduleInfo> {
    this.#assertOpen();
    return this.#schedules.put(options as ScheduleOptions<unknown>);
  }

  /** Deletes a schedule (the runs it started stay); false if there was none. */
  async unschedule(id: string): Promise<boolean> {
    this.#assertOpen();
    return this.#schedules.remove(id);
  }

  /** Stops firing a schedule until resumed. `not_found` for an unknown id. */
  async pauseSchedule(id: string): Promise<ScheduleInfo> {
    this.#assertOpen();
    return this.#schedules.setPaused(id, true);
  }

  /** Fires a paused schedule again from its next tick after now; the ticks it missed are not fired. */
  async resumeSchedule(id: string): Promise<ScheduleInfo> {
    this.#assertOpen();
    return this.#schedules.setPaused(id, false);
  }

  /** Every schedule, by id, with its next fire time and last tick and run. */
  async listSchedules(): Promise<ScheduleInfo[]> {
    this.#assertOpen();
    return this.#schedules.list();
  }

  /** One scheduler cycle; see the README for what a cycle covers. */
  async runOnce(): Promise<CycleResult> {
    this.#assertOpen();
    this.#packages.verify();
    return this.#scheduler.runOnce();
  }

  /**
   * Runs workers until `signal` aborts (or `maxCycles`); resolves once in-flight
   * steps have settled, or after `shutdownGrace` ms with their leases given back.
   */
  async startWorkers(opts: WorkerOptions = {}): Promise<void> {
    this.#assertOpen();
    this.#packages.verify();
    const workers = this.#scheduler.startWorkers(opts);
    if (!this.#config.retention) return workers;
    // Retention runs beside the workers, for as long as they run.
    const stopRetention = startRetention(this.#store, this.#config, this.#config.retention);
    return workers.finally(stopRetention);
  }

  async workflow(runId: string): Promise<WorkflowRun | undefined> {
    this.#assertOpen();
    if (!isRunId(runId)) return undefined;
    const run = await this.#store.getRun(runId);
    return run && toWorkflowRun(run);
  }

  async result(runId: string, stepId: string): Promise<StepResult | undefined> {
    this.#assertOpen();
    if (!isRunId(runId) || !isRunId(stepId)) return undefined;
    const result = await this.#store.getResult(runId, stepId);
    return result && toStepResult(runId, result);
  }

  /**
   * One step of a run with its input (which {@link steps} leaves out, so that a
   * long list decodes no inputs), or undefined.
   */
  async step(runId: string, stepId: string): Promise<StepDetail | undefined> {
    this.#assertOpen();
    return readStep(this.#store, runId, stepId);
  }

  async steps(runId: string): Promise<StepInfo[]> {
    this.#assertOpen();
    if (!isRunId(runId)) return [];
    return (await this.#store.getSteps(runId)).map(toStepInfo);
  }

  /**
   * The run's graph: its steps (fan-outs larger than `collapseAbove` folded into
   * one node each, unless named in `expand`) and the edges between them.
   * `runGraphToModel` turns it into a picture's model. `not_found` for an unknown run.
   */
  async graph(runId: string, opts: RunGraphOptions = {}): Promise<RunGraph> {
    this.#assertOpen();
    return readGraph(this.#store, runId, opts);
  }

  /** Newest first; `after` is the id of the last run of the previous page. */
  async listRuns(filter: ListRunsFilter = {}): Promise<WorkflowRun[]> {
    this.#assertOpen();
    const { limit = 100, ...rest } = parseOrThrow(listRunsSchema, filter, "listRuns filter");
    return (await this.#store.listRuns({ ...rest, limit })).map(toWorkflowRun);
  }

  /** The bytes of an inline artifact (`step.artifact(...)`), with its reference. */
  async readArtifact(runId: string, artifactId: string): Promise<{ ref: ArtifactRef; body: Uint8Array }> {
    this.#assertOpen();
    return readArtifact(this.#store, runId, artifactId);
  }

  /**
   * Moves a failed (or canceled) step back to ready with its attempts reset, and
   * brings back the dependents that were skipped or canceled because of it.
   */
  async retryStep(runId: string, stepId: string): Promise<void> {
    this.#assertOpen();
    assertRunId(runId);
    await this.#store.retryStep(runId, stepId, this.#config.clock());
    this.#scheduler.wake();
  }

  /**
   * Cancels every unfinished step of the run and of its unfinished child runs
   * (and theirs), and aborts the `step.signal` of the running ones.
   */
  async cancelRun(runId: string): Promise<void> {
    this.#assertOpen();
    assertRunId(runId);
    const canceled = await this.#store.cancelRun(runId, this.#config.clock());
    for (const id of canceled) this.#scheduler.abortRun(id, canceledError(id));
    this.#scheduler.wake(); // a parent step waiting for a canceled child can now run
    this.#waiter.progress();
  }

  /**
   * Resolves with the run once it has finished (succeeded, failed or canceled),
   * whichever process runs it. Rejects with `not_found` for an unknown run,
   * `timeout` past `opts.timeout` ms, `aborted` when `opts.signal` aborts, and
   * `runtime_closed` when this runtime closes; the run itself goes on.
   */
  async waitForRun(runId: string, opts: WaitForRunOptions = {}): Promise<WorkflowRun> {
    this.#assertOpen();
    const parsed = parseOrThrow(waitForRunSchema, opts ?? {}, "waitForRun options");
    assertRunId(runId);
    return toWorkflowRun(await this.#waiter.wait(runId, parsed));
  }

  /**
   * Delivers a durable signal to a run. Its `waitForSignal` steps of that name
   * that are waiting wake up, and the first of them to run takes it (each
   * signal goes to one wait; a wait takes the oldest signal left); if none
   * waits yet, the signal is kept for the first one that does. With `id`,
   * delivery is idempotent: a second signal with the same id is ignored
   * (`delivered: false`). `not_found` for an unknown run, `invalid_state` for a
   * finished one.
   */
  async signal(runId: string, name: string, payload?: unknown, opts: { id?: string } = {}): Promise<{ delivered: boolean }> {
    this.#assertOpen();
    const parsed = parseOrThrow(signalSchema, { runId, name, ...(opts ?? {}) }, "signal");
    const encoded = tryEncode(payload);
    if (!encoded.ok) throw new WorkflowError(ErrorCodes.invalidInput, `signal "${name}": payload cannot be stored: ${encoded.error.message}`);
    checkPayload(encoded.text, this.#config.limits.maxPayloadBytes, `the payload of signal "${name}"`);
    const result = await this.#store.signal({ runId, name, id: parsed.id ?? randomUUID(), payload: encoded.text, now: this.#config.clock() });
    if (result.delivered) this.#scheduler.wake();
    return result;
  }

  /** Stops claiming the run's steps (running ones finish); `invalid_state` unless it is running. */
  async pauseRun(runId: string): Promise<void> {
    this.#assertOpen();
    assertRunId(runId);
    await this.#store.pauseRun(runId, this.#config.clock());
  }

  /** Lets a paused run go on. */
  async resumeRun(runId: string): Promise<void> {
    this.#assertOpen();
    assertRunId(runId);
    await this.#store.resumeRun(runId, this.#config.clock());
    this.#scheduler.wake();
  }

  /**
   * The run's output: the result data of the step `run.output(...)` named
   * (undefined if none was named). `invalid_state` until the run succeeded.
   */
  async output(runId: string): Promise<unknown> {
    this.#assertOpen();
    return readOutput(this.#store, runId);
  }

  /** The run's event log, oldest first: every transition of the run and its steps. */
  async events(runId: string): Promise<RunEvent[]> {
    this.#assertOpen();
    if (!isRunId(runId)) return [];
    return (await this.#store.getEvents(runId)).map(toRunEvent);
  }

  /** Failed steps across runs, most recently failed first: the dead-letter view. */
  async listFailedSteps(filter: FailedStepsFilter = {}): Promise<StepInfo[]> {
    this.#assertOpen();
    const { limit = 100, ...rest } = parseOrThrow(failedStepsSchema, filter, "listFailedSteps filter");
    return (await this.#store.listFailedSteps({ ...rest, limit })).map(toStepInfo);
  }

  /**
   * Deletes runs that finished before `finishedBefore` (with `statuses`, default
   * every finished status), with their steps, results, artifacts, signals and
   * events. Returns how many runs it deleted.
   */
  async purge(opts: PurgeOptions): Promise<number> {
    this.#assertOpen();
    const parsed = parseOrThrow(purgeSchema, opts, "purge");
    return purgeFinished(this.#store, this.#config, parsed.finishedBefore.getTime(), parsed.statuses ?? FINISHED_RUN_STATUSES);
  }

  /**
   * Calls `listener` with each event the event log records for transitions
   * this runtime commits (its starts, its workers' steps, its operator calls),
   * right after the commit. `"*"` listens to every type. A listener that
   * throws is reported to `onError` and does not stop the others.
   */
  on(type: RunEventType | "*", listener: RunEventListener): void {
    this.#hooks.on(type, listener);
  }

  off(type: RunEventType | "*", listener: RunEventListener): void {
    this.#hooks.off(type, listener);
  }

  /**
   * Calls `listener` whenever the store may have changed: after this runtime's
   * commits, and on wake-ups from other processes. A hint for live views (see
   * `EventHooks.watchChanges`); returns the unsubscribe function.
   */
  watchChanges(listener: () => void): () => void {
    this.#assertOpen();
    return this.#hooks.watchChanges(listener);
  }

  /**
   * Steps ready, running and waiting per queue, across every process sharing
   * the store (read at most once per `statsInterval`, default 5 s: `at` says
   * when), and this process's own step counts since it opened: the numbers
   * behind the metrics, for health checks and admin screens.
   */
  async stats(): Promise<RuntimeStats> {
    this.#assertOpen();
    const [{ queues, at }, schedules] = await Promise.all([this.#queueCounts.read(), this.#schedules.stats()]);
    return { queues, at, process: { ...this.#telemetry.counts }, schedules };
  }

  async projection(name: string): Promise<Projection> {
    this.#assertOpen();
    const store = this.#config.projectionStore;
    if (!store) throw new WorkflowError(ErrorCodes.noProjectionStore, "this runtime has no projectionStore configured");
    return store.projection(name);
  }

  /**
   * Stops the workers, lets in-flight steps settle for up to `shutdownGrace` ms
   * (default 10 000; past it their signals abort and their leases are given
   * back), then closes the stores. Idempotent.
   */
  close(opts: { shutdownGrace?: number } = {}): Promise<void> {
    this.#closing ??= (async () => {
      this.#waiter.progress(); // waiters see the runtime closing
      await this.#scheduler.stop(opts.shutdownGrace);
      this.#hooks.stop();
      this.#telemetry.close();
      await this.#config.projectionStore?.close?.();
      await this.#store.close();
      this.#config.log.info({}, "runtime closed");
    })();
    return this.#closing;
  }

  #assertOpen(): void {
    if (this.#closing) throw new WorkflowError(ErrorCodes.closed, "the runtime is closed");
  }
}
