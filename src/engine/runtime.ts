/**
 * `Runtime`: the facade an application holds. Registries of executors and
 * packages, run start, reads for admin screens, operator actions, and the
 * worker loop (delegated to the scheduler).
 */
import { randomUUID } from "node:crypto";
import { type ResolvedConfig, type RuntimeConfig, resolveConfig } from "../config.js";
import { ErrorCodes, WorkflowError, isWorkflowError } from "../errors.js";
import { type Executor, Registry } from "../executor.js";
import { timeOrderedId } from "../ids.js";
import type { WorkflowPackage } from "../package.js";
import type { Projection } from "../projections/projection-store.js";
import { CollectingRunBuilder, checkGraph } from "../run-builder.js";
import { checkPayload } from "../limits.js";
import { hasNul } from "../names.js";
import { decode, tryEncode } from "../serialization.js";
import { FINISHED_RUN_STATUSES } from "../store/graph-rules.js";
import { guardStore } from "../store/guarded-store.js";
import type { ClaimedStep, CreatedRun, NewRun, RunRecord, Store } from "../store/store.js";
import type { ArtifactRef } from "../artifacts/artifact-store.js";
import type {
  CycleResult,
  FailedStepsFilter,
  ListRunsFilter,
  PurgeOptions,
  RunEvent,
  RunEventType,
  RunHandle,
  StepInfo,
  StepResult,
  WorkflowRun,
} from "../types.js";
import { RESERVED_KIND_PREFIX, type ChildRunInput } from "../waits.js";
import { type BuiltinServices, childStartError } from "./builtins.js";
import { toArtifactRef, toRunEvent, toStepInfo, toStepResult, toWorkflowRun } from "./records.js";
import {
  asInvalidInput,
  assertRunId,
  failedStepsSchema,
  isRunId,
  listRunsSchema,
  NO_OPTIONS,
  parseOrThrow,
  purgeSchema,
  signalSchema,
  startOptionsSchema,
  waitForRunSchema,
} from "./runtime-arguments.js";
import { EventHooks, type RunEventListener } from "./event-hooks.js";
import { PackageRegistry } from "./package-registry.js";
import { RunWaiter, type WaitForRunOptions } from "./run-waiter.js";
import { canceledError, Scheduler, type WorkerOptions } from "./scheduler.js";

export interface StartRunOptions {
  /** Makes the start idempotent: a second start with the same id returns the first run. */
  runId?: string;
  name?: string;
  /** Applied first; the entrypoint's `run.metadata()` calls override it. */
  metadata?: Record<string, string>;
  /** Which registered version of the package to run (default: the newest). */
  version?: string;
}

export type { RunEventListener } from "./event-hooks.js";

/** Runs a purge deletes per transaction: short transactions, so workers are not held up. */
const PURGE_BATCH = 500;

/** Opens the store, applies its migrations, and returns a runtime. */
export async function newRuntime(config: RuntimeConfig): Promise<Runtime> {
  const resolved = resolveConfig(config);
  let store: Store;
  try {
    store = await resolved.store.open();
  } catch (err) {
    if (isWorkflowError(err)) throw err;
    throw new WorkflowError(ErrorCodes.storeError, `cannot open the ${resolved.store.name} store: ${(err as Error)?.message ?? String(err)}`, { cause: err });
  }
  return new Runtime(guardStore(store), resolved);
}

export class Runtime {
  readonly #store: Store;
  readonly #config: ResolvedConfig;
  readonly #executors = new Registry();
  readonly #packages = new PackageRegistry(this.#executors, (executor) => this.registerExecutor(executor));
  readonly #scheduler: Scheduler;
  readonly #waiter: RunWaiter;
  readonly #hooks: EventHooks;
  #closing: Promise<void> | undefined;

  /** @internal Use {@link newRuntime}. */
  constructor(store: Store, config: ResolvedConfig) {
    this.#store = store;
    this.#config = config;
    const builtins: BuiltinServices = {
      getRun: (runId) => store.getRun(runId),
      resultData: async (runId, stepId) => {
        const result = await store.getResult(runId, stepId);
        return result && !result.error ? result.result : undefined;
      },
      startChild: (parent, input, childId) => this.#startChild(parent, input, childId),
    };
    // The poll interval bounds how late a finish nobody announced is seen; past 1 s a waiter would feel stuck.
    this.#hooks = new EventHooks(store, config.onError);
    this.#waiter = new RunWaiter(store, Math.min(config.pollInterval, 1_000), () => this.#closing !== undefined);
    this.#scheduler = new Scheduler(store, this.#executors, config, {
      result: (runId, stepId) => this.result(runId, stepId),
      projection: (name) => this.projection(name),
      ...(config.artifactStore ? { artifactStore: config.artifactStore } : {}),
      builtins,
    });
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
  registerPackage(pkg: WorkflowPackage): void {
    this.#packages.register(pkg);
  }

  /**
   * Validates the input, calls the package's entrypoint, and writes the run with
   * its first steps in one transaction. Nothing is written if anything fails.
   */
  async startRun(packageName: string, input: unknown, opts: StartRunOptions = {}): Promise<RunHandle> {
    const [handle] = await this.startRuns(packageName, [{ ...opts, input }]);
    return handle as RunHandle;
  }

  /**
   * Starts many runs of one package in one transaction: all of them or, if any
   * input or entrypoint fails, none. Runs whose `runId` exists already are
   * returned as they are. Much faster than a `startRun` per run for bulk work.
   */
  async startRuns(packageName: string, items: readonly ({ input: unknown } & StartRunOptions)[]): Promise<RunHandle[]> {
    this.#assertOpen();
    const newest = this.#packages.get(packageName);
    const handles: (RunHandle | undefined)[] = [];
    const toCreate: { index: number; run: NewRun }[] = [];
    for (const [index, item] of items.entries()) {
      const pkg = item.version === undefined ? newest : this.#packages.get(packageName, item.version);
      const prepared = await this.#prepareRun(pkg, item).catch(asInvalidInput);
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
  }

  /**
   * Starts the child run of a `childRun` step: a run like any other, linked to
   * its parent step (which its end wakes). Errors that no retry can fix (an
   * unknown package, a bad input) fail the step for good.
   */
  async #startChild(parent: ClaimedStep, input: ChildRunInput, childId: string): Promise<RunRecord> {
    const pkg = this.#packages.get(input.package); // unknown_package: not retryable
    let prepared: NewRun | RunHandle;
    try {
      prepared = await this.#prepareRun(pkg, {
        input: input.input,
        runId: childId,
        ...(input.runName !== undefined ? { name: input.runName } : {}),
        ...(input.runMetadata !== undefined ? { metadata: input.runMetadata } : {}),
      });
    } catch (err) {
      throw childStartError(err);
    }
    if ("run" in prepared) {
      prepared.run.parentRunId = parent.run.id;
      prepared.run.parentStepId = parent.step.id;
      const [stored] = await this.#store.createRuns([prepared]);
      if (stored) {
        if (stored.created) this.#scheduler.wake();
        return stored.run;
      }
    }
    // Started by an earlier attempt (or a racing one): read it as stored.
    const existing = await this.#store.getRun(childId);
    if (!existing) throw new WorkflowError(ErrorCodes.storeError, `child run "${childId}" was started but cannot be read`);
    return existing;
  }

  /** Validates one start and lays out its graph; an existing run comes back as its handle. */
  async #prepareRun(pkg: WorkflowPackage, item: { input: unknown } & StartRunOptions): Promise<NewRun | RunHandle> {
    // The version picked the package already.
    const { input, version: _version, ...opts } = item;
    // Most bulk items carry only an input: nothing to validate.
    const options = Object.keys(opts).length === 0 ? NO_OPTIONS : startOptionsSchema.safeParse(opts);
    if (!options.success) {
      throw new WorkflowError(ErrorCodes.invalidInput, `startRun options: ${options.error.issues[0]?.path.join(".")}: ${options.error.issues[0]?.message}`, {
        details: options.error.issues,
      });
    }
    let value = input;
    if (pkg.inputSchema) {
      const parsed = pkg.inputSchema.safeParse(input);
      if (!parsed.success) {
        throw new WorkflowError(ErrorCodes.invalidInput, `input of package "${pkg.name}" is invalid: ${parsed.error.message}`, {
          details: parsed.error.issues,
        });
      }
      value = parsed.data;
    }
    // A caller-chosen id may exist already: then the entrypoint need not run at all.
    // (A generated one cannot; the store still settles races between processes.)
    if (options.data.runId !== undefined) {
      const existing = await this.#store.getRun(options.data.runId);
      if (existing) return { id: existing.id, package: existing.package, name: existing.name };
    }
    const runId = options.data.runId ?? `${pkg.name}-${timeOrderedId()}`;

    const builder = new CollectingRunBuilder(runId, options.data.name ?? pkg.displayName, options.data.metadata ?? {}, value);
    try {
      await pkg.entrypoint(builder, value);
    } catch (err) {
      if (isWorkflowError(err)) throw err;
      throw new WorkflowError(ErrorCodes.entrypointFailed, `the entrypoint of package "${pkg.name}" failed: ${(err as Error)?.message ?? String(err)}`, {
        cause: err,
      });
    }
    if (builder.steps.length === 0) throw new WorkflowError(ErrorCodes.emptyRun, `the entrypoint of package "${pkg.name}" added no step`);
    checkGraph(builder.steps, () => false);
    const encoded = tryEncode(value);
    if (!encoded.ok) throw new WorkflowError(ErrorCodes.invalidInput, `run input cannot be stored: ${encoded.error.message}`);
    builder.fillRunInput(encoded.text);
    const limit = this.#config.limits.maxPayloadBytes;
    checkPayload(encoded.text, limit, `the input of run "${runId}"`);
    for (const step of builder.steps) checkPayload(step.input, limit, `the input of step "${step.id}"`);

    const now = this.#config.clock();
    const run: NewRun["run"] = { id: runId, package: pkg.name, name: builder.runName, status: "running", input: encoded.text, metadata: builder.runMetadata, createdAt: now, updatedAt: now };
    if (builder.outputStep !== undefined) run.outputStep = builder.outputStep;
    return { run, steps: builder.steps };
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
    const retention = this.#config.retention;
    if (!retention) return workers;
    // Retention runs beside the workers, every `interval`, for as long as they run.
    let purging = false;
    const timer = setInterval(() => {
      if (purging) return; // the last pass is still going
      purging = true;
      this.#purge(this.#config.clock() - retention.maxAge, FINISHED_RUN_STATUSES)
        .catch((err) => this.#config.onError(err))
        .finally(() => (purging = false));
    }, retention.interval ?? 60_000);
    timer.unref();
    return workers.finally(() => clearInterval(timer));
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

  async steps(runId: string): Promise<StepInfo[]> {
    this.#assertOpen();
    if (!isRunId(runId)) return [];
    return (await this.#store.getSteps(runId)).map(toStepInfo);
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
    assertRunId(runId);
    if (!isRunId(artifactId)) throw new WorkflowError(ErrorCodes.notFound, `no artifact "${artifactId}" in run "${runId}"`);
    const found = await this.#store.readArtifact(runId, artifactId);
    if (!found) throw new WorkflowError(ErrorCodes.notFound, `no artifact "${artifactId}" in run "${runId}"`);
    return { ref: toArtifactRef(runId, found.artifact), body: found.body };
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
    assertRunId(runId);
    const run = await this.#store.getRun(runId);
    if (!run) throw new WorkflowError(ErrorCodes.notFound, `no run "${runId}"`);
    if (run.status !== "succeeded") throw new WorkflowError(ErrorCodes.invalidState, `run "${runId}" is ${run.status}; it has an output once it succeeded`);
    if (run.outputStep === undefined) return undefined;
    const result = await this.#store.getResult(runId, run.outputStep);
    return result?.result === undefined ? undefined : decode(result.result);
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
    return this.#purge(parsed.finishedBefore.getTime(), parsed.statuses ?? FINISHED_RUN_STATUSES);
  }

  async #purge(before: number, statuses: readonly WorkflowRun["status"][]): Promise<number> {
    let total = 0;
    for (;;) {
      const { runs, storedArtifacts } = await this.#store.purge(before, statuses, PURGE_BATCH);
      total += runs;
      await this.#deleteArtifacts(storedArtifacts);
      if (runs < PURGE_BATCH) return total;
    }
  }

  /**
   * Deletes the bodies of purged runs' stored artifacts, after the purge has
   * committed (the other way round, a failed purge would leave refs to bodies
   * that are gone). A failure leaves bodies behind: reported to onError, the
   * purge goes on.
   */
  async #deleteArtifacts(ids: string[]): Promise<void> {
    const store = this.#config.artifactStore;
    if (ids.length === 0 || !store?.delete) return;
    try {
      await store.delete(ids);
    } catch (err) {
      this.#config.onError(err);
    }
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
      await this.#config.projectionStore?.close?.();
      await this.#store.close();
    })();
    return this.#closing;
  }

  #assertOpen(): void {
    if (this.#closing) throw new WorkflowError(ErrorCodes.closed, "the runtime is closed");
  }
}
