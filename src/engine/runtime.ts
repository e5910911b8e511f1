/**
 * `Runtime`: the facade an application holds. Registries of executors and
 * packages, run start, reads for admin screens, operator actions, and the
 * worker loop (delegated to the scheduler).
 */
import { z } from "zod";
import { type ResolvedConfig, type RuntimeConfig, resolveConfig } from "../config.js";
import { ErrorCodes, WorkflowError, isWorkflowError } from "../errors.js";
import { type Executor, Registry } from "../executor.js";
import { timeOrderedId } from "../ids.js";
import type { WorkflowPackage } from "../package.js";
import type { Projection } from "../projections/projection-store.js";
import { CollectingRunBuilder, checkGraph } from "../run-builder.js";
import { tryEncode } from "../serialization.js";
import { guardStore } from "../store/guarded-store.js";
import type { NewRun, Store } from "../store/store.js";
import type { ArtifactRef } from "../artifacts/artifact-store.js";
import type { CycleResult, ListRunsFilter, RunHandle, StepInfo, StepResult, WorkflowRun } from "../types.js";
import { toArtifactRef, toStepInfo, toStepResult, toWorkflowRun } from "./records.js";
import { canceledError, Scheduler, type WorkerOptions } from "./scheduler.js";

export interface StartRunOptions {
  /** Makes the start idempotent: a second start with the same id returns the first run. */
  runId?: string;
  name?: string;
  /** Applied first; the entrypoint's `run.metadata()` calls override it. */
  metadata?: Record<string, string>;
}

const startOptionsSchema = z
  .object({
    runId: z.string().min(1).max(255).optional(),
    name: z.string().min(1).optional(),
    metadata: z.record(z.string(), z.string()).optional(),
  })
  .strict();

const NO_OPTIONS = { success: true as const, data: {} as z.output<typeof startOptionsSchema> };

const listRunsSchema = z
  .object({
    status: z.enum(["pending", "running", "succeeded", "failed", "canceled"]).optional(),
    package: z.string().optional(),
    limit: z.number().int().min(1).max(10_000).optional(),
    after: z.string().optional(),
  })
  .strict();

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
  readonly #packages = new Map<string, WorkflowPackage>();
  readonly #scheduler: Scheduler;
  #closing: Promise<void> | undefined;

  /** @internal Use {@link newRuntime}. */
  constructor(store: Store, config: ResolvedConfig) {
    this.#store = store;
    this.#config = config;
    this.#scheduler = new Scheduler(store, this.#executors, config, {
      result: (runId, stepId) => this.result(runId, stepId),
      projection: (name) => this.projection(name),
      ...(config.artifactStore ? { artifactStore: config.artifactStore } : {}),
    });
  }

  /** The id this runtime's workers write into the leases they take. */
  get workerId(): string {
    return this.#config.workerId;
  }

  registerExecutor(executor: Executor): void {
    this.#executors.register(executor);
  }

  registerPackage(pkg: WorkflowPackage): void {
    if (!pkg || typeof pkg.name !== "string" || typeof pkg.entrypoint !== "function") {
      throw new WorkflowError(ErrorCodes.invalidInput, "registerPackage needs a package built with newPackage(...).build()");
    }
    if (this.#packages.has(pkg.name)) {
      throw new WorkflowError(ErrorCodes.duplicatePackage, `a package named "${pkg.name}" is already registered`);
    }
    this.#packages.set(pkg.name, pkg);
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
    const pkg = this.#packages.get(packageName);
    if (!pkg) throw new WorkflowError(ErrorCodes.unknownPackage, `no package named "${packageName}" is registered`);
    const handles: (RunHandle | undefined)[] = [];
    const toCreate: { index: number; run: NewRun }[] = [];
    for (const [index, item] of items.entries()) {
      const prepared = await this.#prepareRun(pkg, item);
      if ("run" in prepared) toCreate.push({ index, run: prepared });
      handles[index] = "run" in prepared ? undefined : prepared;
    }
    if (toCreate.length) {
      const stored = await this.#store.createRuns(toCreate.map((c) => c.run));
      stored.forEach(({ run }, i) => {
        handles[(toCreate[i] as { index: number }).index] = { id: run.id, package: run.package, name: run.name };
      });
      if (stored.some((s) => s.created)) this.#scheduler.wake();
    }
    return handles as RunHandle[];
  }

  /** Validates one start and lays out its graph; an existing run comes back as its handle. */
  async #prepareRun(pkg: WorkflowPackage, item: { input: unknown } & StartRunOptions): Promise<NewRun | RunHandle> {
    const { input, ...opts } = item;
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

    const builder = new CollectingRunBuilder(options.data.name ?? pkg.displayName, options.data.metadata ?? {}, value);
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

    const now = this.#config.clock();
    return {
      run: { id: runId, package: pkg.name, name: builder.runName, status: "running", input: encoded.text, metadata: builder.runMetadata, createdAt: now, updatedAt: now },
      steps: builder.steps,
    };
  }

  /** One scheduler cycle; see the README for what a cycle covers. */
  async runOnce(): Promise<CycleResult> {
    this.#assertOpen();
    return this.#scheduler.runOnce();
  }

  /**
   * Runs workers until `signal` aborts (or `maxCycles`); resolves once in-flight
   * steps have settled, or after `shutdownGrace` ms with their leases given back.
   */
  async startWorkers(opts: WorkerOptions = {}): Promise<void> {
    this.#assertOpen();
    return this.#scheduler.startWorkers(opts);
  }

  async workflow(runId: string): Promise<WorkflowRun | undefined> {
    this.#assertOpen();
    const run = await this.#store.getRun(runId);
    return run && toWorkflowRun(run);
  }

  async result(runId: string, stepId: string): Promise<StepResult | undefined> {
    this.#assertOpen();
    const result = await this.#store.getResult(runId, stepId);
    return result && toStepResult(runId, result);
  }

  async steps(runId: string): Promise<StepInfo[]> {
    this.#assertOpen();
    return (await this.#store.getSteps(runId)).map(toStepInfo);
  }

  /** Newest first; `after` is the id of the last run of the previous page. */
  async listRuns(filter: ListRunsFilter = {}): Promise<WorkflowRun[]> {
    this.#assertOpen();
    const parsed = listRunsSchema.safeParse(filter);
    if (!parsed.success) {
      throw new WorkflowError(ErrorCodes.invalidInput, `listRuns filter: ${parsed.error.issues[0]?.path.join(".")}: ${parsed.error.issues[0]?.message}`);
    }
    const { limit = 100, ...rest } = parsed.data;
    return (await this.#store.listRuns({ ...rest, limit })).map(toWorkflowRun);
  }

  /** The bytes of an inline artifact (`step.artifact(...)`), with its reference. */
  async readArtifact(runId: string, artifactId: string): Promise<{ ref: ArtifactRef; body: Uint8Array }> {
    this.#assertOpen();
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
    await this.#store.retryStep(runId, stepId, this.#config.clock());
    this.#scheduler.wake();
  }

  /** Cancels every unfinished step and aborts the `step.signal` of the running ones. */
  async cancelRun(runId: string): Promise<void> {
    this.#assertOpen();
    await this.#store.cancelRun(runId, this.#config.clock());
    this.#scheduler.abortRun(runId, canceledError(runId));
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
      await this.#scheduler.stop(opts.shutdownGrace);
      await this.#config.projectionStore?.close?.();
      await this.#store.close();
    })();
    return this.#closing;
  }

  #assertOpen(): void {
    if (this.#closing) throw new WorkflowError(ErrorCodes.closed, "the runtime is closed");
  }
}
