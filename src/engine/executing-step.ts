/**
 * The `StepContext` handed to an executor: read-only views of the step, and the
 * buffers (result, records, artifacts, children) committed with its success.
 */
import { randomUUID } from "node:crypto";
import type { ArtifactRef, ArtifactStore } from "../artifacts/artifact-store.js";
import { artifactFields } from "../artifacts/fields.js";
import { ErrorCodes, WorkflowError } from "../errors.js";
import type { Projection, ProjectionStore } from "../projections/projection-store.js";
import type { Executor } from "../executor.js";
import { type StepHandle, type StepOpts, toNewStep } from "../step-options.js";
import { hasNul } from "../names.js";
import { decode } from "../serialization.js";
import type { ArtifactOptions, StepContext } from "../step-context.js";
import type { ArtifactRecord, ClaimedStep, NewStep } from "../store/store.js";
import { type ChildRunOpts, type SignalWaitOpts, type WaitStepOpts, childRunStep, signalWaitStep, sleepStep } from "../waits.js";
import type { Lease, RecordWrite, StepInfo, StepResult, WorkflowRun } from "../types.js";
import type { EngineLogger, Logger } from "../observability/logger.js";
import type { LazyAbort } from "./lazy-abort.js";
import { toLease, toStepInfo, toStepResult, toWorkflowRun } from "./records.js";

/** What a step context needs from its runtime. */
export interface StepServices {
  result(runId: string, stepId: string): Promise<StepResult | undefined>;
  artifactStore?: ArtifactStore;
  projection(name: string): Promise<Projection>;
  projectionStore?: ProjectionStore;
  /** The runtime's logger; `step.logger` is a child of it. */
  log: EngineLogger;
}

const textEncoder = new TextEncoder();
// Shared by every step that adds nothing to a list; replaced by a real array on the first push.
const NONE: never[] = Object.freeze([]) as unknown as never[];
/** A record's collection or key: kept in a column as it is. */
const isRecordLabel = (s: unknown): s is string => typeof s === "string" && s.trim() !== "" && s.length <= 1_000 && !hasNul(s);
function toBytes(body: Uint8Array | string): Uint8Array {
  if (typeof body === "string") return textEncoder.encode(body);
  if (body instanceof Uint8Array) return body;
  throw new WorkflowError(ErrorCodes.invalidInput, "an artifact body must be a string or a Uint8Array");
}

export class ExecutingStep implements StepContext {
  readonly now: Date;
  readonly #abort: LazyAbort;
  readonly #claimed: ClaimedStep;
  readonly #services: StepServices;
  #step?: StepInfo;
  #workflow?: WorkflowRun;
  #input?: { value: unknown };
  #logger?: Logger;

  /** What the executor produced, read by the engine when it returns. Lists are made on first use. */
  #emittedIds: Set<string> | undefined;
  readonly output: { data: unknown; records: RecordWrite[]; artifacts: ArtifactRecord[]; emitted: NewStep[] } = {
    data: undefined,
    records: NONE,
    artifacts: NONE,
    emitted: NONE,
  };
  #artifactCount = 0;

  constructor(claimed: ClaimedStep, services: StepServices, abort: LazyAbort, now: Date) {
    this.#claimed = claimed;
    this.#services = services;
    this.#abort = abort;
    this.now = now;
  }

  // Views (and the signal) are built on first use: most executors never look at them.
  get signal(): AbortSignal {
    return this.#abort.signal;
  }
  get step(): StepInfo {
    return (this.#step ??= toStepInfo(this.#claimed.step));
  }
  get workflow(): WorkflowRun {
    return (this.#workflow ??= toWorkflowRun(this.#claimed.run));
  }
  get lease(): Lease {
    return toLease(this.#claimed.step.lease);
  }
  get attempt(): number {
    return this.#claimed.step.attempt;
  }
  get logger(): Logger {
    const { run, step } = this.#claimed;
    return (this.#logger ??= this.#services.log.child({ runId: run.id, stepId: step.id, kind: step.kind, queue: step.queue, attempt: step.attempt }).asLogger());
  }

  input<T = unknown>(): T {
    return this.rawInput() as T;
  }

  rawInput(): unknown {
    this.#input ??= { value: decode(this.#claimed.step.input) };
    return this.#input.value;
  }

  result(data: unknown): void {
    this.output.data = data;
  }

  async dependencyResult<T = unknown>(step: string | StepHandle<T>): Promise<StepResult<T>> {
    const stepId = stepIdOf(step);
    const runId = this.#claimed.run.id;
    const prefetched = this.#claimed.dependencyResults?.get(stepId);
    const result = prefetched ? toStepResult(runId, prefetched) : await this.#services.result(runId, stepId);
    if (!result) throw new WorkflowError(ErrorCodes.notFound, `step "${stepId}" of run "${this.#claimed.run.id}" has no result yet`);
    return result as StepResult<T>;
  }

  async dependencyData<T = unknown>(step: string | StepHandle<T>): Promise<T> {
    const stepId = stepIdOf(step);
    const result = await this.dependencyResult(stepId);
    if (result.error) {
      throw new WorkflowError(ErrorCodes.invalidState, `step "${stepId}" failed (${result.error.code}); it has no data`, {
        details: { stepId, error: result.error },
      });
    }
    return result.data as T;
  }

  emit(id: string, input: unknown, opts: StepOpts<string | Executor>): string {
    this.#assertNotEmitted(id);
    return this.#emitStep(toNewStep(id, input, opts));
  }

  emitSleep(id: string, ms: number, opts?: WaitStepOpts): string {
    this.#assertNotEmitted(id);
    return this.#emitStep(sleepStep(id, ms, opts));
  }

  emitWaitForSignal(id: string, name: string, opts?: SignalWaitOpts): string {
    this.#assertNotEmitted(id);
    return this.#emitStep(signalWaitStep(id, name, opts));
  }

  emitChildRun(id: string, packageName: string, input: unknown, opts?: ChildRunOpts): string {
    this.#assertNotEmitted(id);
    return this.#emitStep(childRunStep(this.#claimed.run.id, id, packageName, input, opts));
  }

  #assertNotEmitted(id: string): void {
    // A set, not a scan of the list: a fan-out emits thousands.
    this.#emittedIds ??= new Set();
    if (this.#emittedIds.has(id)) {
      throw new WorkflowError(ErrorCodes.duplicateStep, `step "${this.#claimed.step.id}" emitted "${id}" twice`);
    }
  }

  #emitStep(child: NewStep): string {
    child.parentId ??= this.#claimed.step.id;
    this.#emittedIds?.add(child.id);
    this.#append("emitted", child);
    return child.id;
  }

  record(collection: string, key: string, data: unknown): void {
    if (!isRecordLabel(collection) || !isRecordLabel(key)) {
      throw new WorkflowError(ErrorCodes.invalidInput, "a record needs a collection and a key: non-empty strings of at most 1000 characters, without NUL");
    }
    this.#append("records", { collection, key, data });
  }

  artifact(name: string, contentType: string, body: Uint8Array | string, opts: ArtifactOptions = {}): string {
    const bytes = toBytes(body);
    const id = opts.id ?? this.#nextArtifactId();
    if (this.output.artifacts.some((a) => a.id === id)) {
      throw new WorkflowError(ErrorCodes.duplicateArtifact, `artifact id "${id}" is used twice by step "${this.#claimed.step.id}"`);
    }
    this.#append("artifacts", this.#describe(id, name, contentType, opts, bytes, bytes.byteLength));
    return id;
  }

  async storeArtifact(name: string, contentType: string, body: Uint8Array | string, opts: ArtifactOptions = {}): Promise<ArtifactRef> {
    const store = this.#services.artifactStore;
    if (!store) throw new WorkflowError(ErrorCodes.noArtifactStore, "storeArtifact needs RuntimeConfig.artifactStore");
    // Checked before the bytes are written, so a bad call leaves nothing behind.
    const record = this.#describe(opts.id ?? randomUUID(), name, contentType, opts, new Uint8Array(0), 0);
    const ref = await store.put({ ...record, body: toBytes(body) });
    // The result keeps the reference; the bytes stay in the artifact store.
    record.id = ref.id;
    record.uri = ref.uri;
    record.size = ref.size;
    this.#append("artifacts", record);
    return ref;
  }

  async projection(name: string): Promise<Projection> {
    return this.#services.projection(name);
  }

  /** Adds to one of the output lists, replacing the shared empty one on first use. */
  #append<K extends "records" | "artifacts" | "emitted">(list: K, item: this["output"][K][number]): void {
    if (this.output[list] === NONE) this.output[list] = [];
    (this.output[list] as unknown[]).push(item);
  }

  #nextArtifactId(): string {
    this.#artifactCount++;
    return `${this.#claimed.step.id}:artifact:${String(this.#artifactCount).padStart(3, "0")}`;
  }

  #describe(id: string, name: string, contentType: string, opts: ArtifactOptions, body: Uint8Array, size: number): ArtifactRecord {
    if (typeof id !== "string" || id.trim() === "" || id.length > 255 || hasNul(id)) {
      throw new WorkflowError(ErrorCodes.invalidName, "an artifact id must be a non-empty string of at most 255 characters, without NUL");
    }
    const fields = artifactFields({ name, contentType, kind: opts?.kind, metadata: opts?.metadata }, `artifact "${id}"`);
    return { id, name: fields.name, kind: fields.kind, contentType: fields.contentType, metadata: fields.metadata ?? {}, body, size };
  }
}

/** A step named by id or by its handle. */
function stepIdOf(step: string | StepHandle<unknown>): string {
  return typeof step === "object" && step !== null ? step.id : step;
}
