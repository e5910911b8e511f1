/**
 * `Runtime`: the facade an application holds. Registries of executors and
 * packages, run start, reads for admin screens, operator actions, and the
 * worker loop (delegated to the scheduler).
 */
import type { ResolvedConfig } from "../config.js";
import { ErrorCodes, WorkflowError } from "../errors.js";
import { type Executor, Registry } from "../executor.js";
import type { PackageInput, PackageOutput, WorkflowPackage } from "../package.js";
import type { StepHandle } from "../step-options.js";
import type { Projection } from "../projections/projection-store.js";
import { WorkerTelemetry } from "../observability/worker-telemetry.js";
import { QueueCountsSampler } from "../observability/queue-counts.js";
import { MissingKinds } from "../observability/missing-kinds.js";
import { ClaimableKinds } from "./claimable-kinds.js";
import type { RuntimeStats } from "../observability/runtime-stats.js";
import type { Store } from "../store/store.js";
import type { ArtifactRef } from "../artifacts/artifact-store.js";
import type {
  CycleResult,
  FailedStepsFilter,
  ListRunsFilter,
  OperatorOptions,
  PurgeOptions,
  RunEvent,
  RunEventType,
  RunHandle,
  StepDetail,
  StepInfo,
  StepResult,
  WorkflowRun,
} from "../types.js";
import { assertApplicationKinds } from "../waits.js";
import { builtinServices } from "./child-runs.js";
import { toRunEvent, toStepInfo, toStepResult, toWorkflowRun } from "./records.js";
import {
  assertRunId,
  failedStepsSchema,
  isRunId,
  parseOrThrow,
  runOnceSchema,
  waitForRunSchema,
} from "./runtime-arguments.js";
import { EventHooks, type RunEventListener } from "./event-hooks.js";
import type { RunGraph, RunGraphOptions } from "../graph/run-graph.js";
import { PackageRegistry } from "./package-registry.js";
import { RunWaiter, type WaitForRunOptions } from "./run-waiter.js";
import { startRuns, type StartRunOptions } from "./run-starts.js";
import { startRetention } from "./purge.js";
import { OperatorActions } from "./operator-actions.js";
import { Scheduler, type RunOnceOptions, type WorkerOptions } from "./scheduler.js";
import { listRuns, readArtifact, readGraph, readOutput, readStep } from "./run-reads.js";
import { ScheduleFirer } from "./schedule-firing.js";
import { type ScheduleInfo, type ScheduleOptions, Schedules } from "./schedules.js";

export type { StartRunOptions } from "./run-starts.js";
export type { RunEventListener } from "./event-hooks.js";

/**
 * The engine, as an application holds it (one per process, from {@link newRuntime}):
 * registers executors and packages, starts runs, runs workers, and answers the
 * reads and operator actions of admin screens.
 */
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
  readonly #missingKinds: MissingKinds;
  readonly #operator: OperatorActions;
  readonly #schedules: Schedules;
  #closing: Promise<void> | undefined;

  /** @internal Use {@link newRuntime}. */
  constructor(store: Store, config: ResolvedConfig, telemetry: WorkerTelemetry, queueCounts: QueueCountsSampler) {
    this.#store = store;
    this.#config = config;
    this.#telemetry = telemetry;
    this.#queueCounts = queueCounts;
    this.#missingKinds = new MissingKinds(store, new ClaimableKinds(this.#executors), config.statsInterval);
    const builtins = builtinServices({ store, config, telemetry, packages: this.#packages, wake: () => this.#scheduler.wake() });
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
    this.#operator = new OperatorActions(store, config, this.#scheduler, this.#waiter);
    this.#schedules = new Schedules(store, config, this.#packages, () => this.#scheduler.wake());
    const firer = new ScheduleFirer({ store, config, hasPackage: (name) => this.#packages.has(name), start: (...a) => this.startRun(...a), cancel: (id) => this.cancelRun(id) });
    this.#scheduler.fireSchedules = (now) => firer.fireDue(now);
  }

  /** The id this runtime's workers write into the leases they take. */
  get workerId(): string {
    return this.#config.workerId;
  }

  /**
   * Registers the executor that runs the steps of its `kind` and of each of its
   * `aliases`; workers here claim only steps of kinds registered (see
   * docs/deploying.md). Throws `duplicate_executor` for a kind already
   * registered, `invalid_input` for a reserved (`trellis/`) or malformed kind.
   */
  registerExecutor(executor: Executor): void {
    assertApplicationKinds(executor);
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
   * Runs the newest registered version of the package unless `opts.version`
   * names one (or the package object given is a registered version); the run
   * records it (`WorkflowRun.packageVersion`).
   */
  async startRun<P extends WorkflowPackage<any, any>>(pkg: P, input: PackageInput<P>, opts?: StartRunOptions): Promise<RunHandle<PackageOutput<P>>>;
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
  async startRuns<P extends WorkflowPackage<any, any>>(pkg: P, items: readonly ({ input: PackageInput<P> } & StartRunOptions)[]): Promise<RunHandle<PackageOutput<P>>[]>;
  async startRuns(packageName: string, items: readonly ({ input: unknown } & StartRunOptions)[]): Promise<RunHandle[]>;
  async startRuns(which: string | WorkflowPackage<unknown>, items: readonly ({ input: unknown } & StartRunOptions)[]): Promise<RunHandle[]> {
    this.#assertOpen();
    const deps = { store: this.#store, config: this.#config, telemetry: this.#telemetry, packages: this.#packages, scheduler: this.#scheduler };
    return startRuns(deps, which, items);
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

  /** One scheduler cycle; see the README for what a cycle covers. `maxSteps` bounds the steps it claims. */
  async runOnce(opts: RunOnceOptions = {}): Promise<CycleResult> {
    this.#assertOpen();
    const parsed = parseOrThrow(runOnceSchema, opts ?? {}, "runOnce options");
    this.#packages.verify();
    return this.#scheduler.runOnce(parsed);
  }

  /**
   * Runs workers until `signal` aborts (or `maxCycles`); resolves once in-flight
   * steps have settled, or after `shutdownGrace` ms with their leases given back.
   */
  async startWorkers(opts: WorkerOptions = {}): Promise<void> {
    this.#assertOpen();
    this.#packages.verify();
    const workers = this.#scheduler.startWorkers(opts);
    // Retention and the warning about steps of kinds nobody here runs go on beside the workers, while they run.
    const stopWatch = this.#missingKinds.watch(this.#config.log, this.#config.onError);
    const stopRetention = this.#config.retention ? startRetention(this.#store, this.#config, this.#config.retention) : undefined;
    return workers.finally(() => {
      stopWatch();
      stopRetention?.();
    });
  }

  /** The run, or undefined when there is none with this id. */
  async workflow(runId: string): Promise<WorkflowRun | undefined> {
    this.#assertOpen();
    if (!isRunId(runId)) return undefined;
    const run = await this.#store.getRun(runId);
    return run && toWorkflowRun(run);
  }

  /** A step's last result, by step id or by the handle `run.step(...)` returned (which types its data). */
  async result<T = unknown>(runId: string, step: string | StepHandle<T>): Promise<StepResult<T> | undefined> {
    this.#assertOpen();
    const stepId = typeof step === "object" && step !== null ? step.id : step;
    if (!isRunId(runId) || !isRunId(stepId)) return undefined;
    const result = await this.#store.getResult(runId, stepId);
    return result && (toStepResult(runId, result) as StepResult<T>);
  }

  /**
   * One step of a run with its input (which {@link steps} leaves out, so that a
   * long list decodes no inputs), or undefined.
   */
  async step(runId: string, stepId: string): Promise<StepDetail | undefined> {
    this.#assertOpen();
    return readStep(this.#store, runId, stepId);
  }

  /** The run's steps in creation order, without their inputs (none for an unknown run). */
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

  /**
   * Runs newest first, filtered by the store (status, package, created-at
   * range, metadata pairs, id prefix); `after` is the id of the last run of
   * the previous page of the same filter.
   */
  async listRuns(filter: ListRunsFilter = {}): Promise<WorkflowRun[]> {
    this.#assertOpen();
    return listRuns(this.#store, filter);
  }

  /** The bytes of an inline artifact (`step.artifact(...)`), with its reference. */
  async readArtifact(runId: string, artifactId: string): Promise<{
    /** What the artifact is and where it lives. */
    ref: ArtifactRef;
    /** Its bytes. */
    body: Uint8Array;
  }> {
    this.#assertOpen();
    return readArtifact(this.#store, runId, artifactId);
  }

  /**
   * Moves a failed (or canceled) step back to ready with its attempts reset, and
   * brings back the dependents that were skipped or canceled because of it.
   * `opts.actor` and `opts.reason` go into the `operator_retry` event (as for
   * every operator action below: into the event it logs).
   */
  async retryStep(runId: string, stepId: string, opts?: OperatorOptions): Promise<void> {
    this.#assertOpen();
    return this.#operator.retryStep(runId, stepId, opts);
  }

  /**
   * Retries every failed step of the run, one `retryStep` each; returns their
   * ids. `not_found` for an unknown run, `invalid_state` when none failed.
   */
  async retryRun(runId: string, opts?: OperatorOptions): Promise<string[]> {
    this.#assertOpen();
    return this.#operator.retryRun(runId, opts);
  }

  /**
   * Cancels every unfinished step of the run and of its unfinished child runs
   * (and theirs), and aborts the `step.signal` of the running ones.
   */
  async cancelRun(runId: string, opts?: OperatorOptions): Promise<void> {
    this.#assertOpen();
    return this.#operator.cancelRun(runId, opts);
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
  async signal(runId: string, name: string, payload?: unknown, opts: { id?: string } & OperatorOptions = {}): Promise<{
    /** False when a signal with the same `id` had been delivered already (nothing was stored). */
    delivered: boolean;
  }> {
    this.#assertOpen();
    return this.#operator.signal(runId, name, payload, opts);
  }

  /** Stops claiming the run's steps (running ones finish); `invalid_state` unless it is running. */
  async pauseRun(runId: string, opts?: OperatorOptions): Promise<void> {
    this.#assertOpen();
    return this.#operator.pauseRun(runId, opts);
  }

  /** Lets a paused run go on. */
  async resumeRun(runId: string, opts?: OperatorOptions): Promise<void> {
    this.#assertOpen();
    return this.#operator.resumeRun(runId, opts);
  }

  /**
   * The run's output: the result data of the step `run.output(...)` named
   * (undefined if none was named). `invalid_state` until the run succeeded.
   */
  async output<O>(run: RunHandle<O>): Promise<O>;
  async output(runId: string): Promise<unknown>;
  async output(which: string | RunHandle<unknown>): Promise<unknown> {
    this.#assertOpen();
    const runId = typeof which === "object" && which !== null ? which.id : which;
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
   * events. Returns how many runs it deleted; logs it (at info, with
   * `opts.actor` and `opts.reason`), since no run is left to hold the note.
   */
  async purge(opts: PurgeOptions): Promise<number> {
    this.#assertOpen();
    return this.#operator.purge(opts);
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

  /** Removes a listener added with {@link on} for the same `type`. */
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
   * when), the ready steps of kinds no executor of this process runs
   * (`missingKinds`, read at the same rate), and this process's own step
   * counts since it opened: the numbers behind the metrics, for health checks
   * and admin screens.
   */
  async stats(): Promise<RuntimeStats> {
    this.#assertOpen();
    const [{ queues, at }, missingKinds, schedules] = await Promise.all([this.#queueCounts.read(), this.#missingKinds.read(), this.#schedules.stats()]);
    return { queues, at, missingKinds, process: { ...this.#telemetry.counts }, schedules };
  }

  /** The projection called `name` from the configured `projectionStore`; `no_projection_store` without one. */
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
