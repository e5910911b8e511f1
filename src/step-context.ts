/**
 * What an executor sees of the step it runs.
 */
import type { ArtifactRef } from "./artifacts/artifact-store.js";
import type { Executor } from "./executor.js";
import type { Logger } from "./observability/logger.js";
import type { Projection } from "./projections/projection-store.js";
import type { StepHandle, StepOpts } from "./step-options.js";
import type { Lease, StepInfo, StepResult, WorkflowRun } from "./types.js";
import type { ChildRunOpts, SignalWaitOpts, WaitStepOpts } from "./waits.js";

/** Options of `step.artifact(...)` and `step.storeArtifact(...)`. */
export interface ArtifactOptions {
  /** Default `<stepId>:artifact:NNN` for inline artifacts, a random UUID for stored ones. */
  id?: string;
  /** Default: the content type's major part (`text/plain` → `text`), else the name's extension. */
  kind?: string;
  /** String key/values kept with the artifact (`ArtifactRef.metadata`). */
  metadata?: Record<string, string>;
}

/**
 * The step being executed. Everything it accumulates (result, records, inline
 * artifacts, emitted children) is written in one transaction with the step's
 * success, and only while the worker still holds the step's lease; none of it
 * is written if the attempt fails.
 */
export interface StepContext {
  /** The step's input, decoded. */
  input<T = unknown>(): T;
  /** The step's input, decoded, typed `unknown` (what a typed executor validates). */
  rawInput(): unknown;
  /** Sets the step's result data (the last call wins). */
  result(data: unknown): void;
  /** The result of another step of this run (by id or handle); `not_found` if it has none yet. */
  dependencyResult<T = unknown>(step: string | StepHandle<T>): Promise<StepResult<T>>;
  /**
   * The data of another step's successful result, by id or by the handle
   * `run.step(...)` returned (which types it); `not_found` if it has none,
   * `invalid_state` if it failed.
   */
  dependencyData<T = unknown>(step: string | StepHandle<T>): Promise<T>;
  /** Adds a child step, created atomically with this step's success; returns its id. */
  emit(id: string, input: unknown, opts: StepOpts<string | Executor>): string;
  /** Emits a built-in sleep step (see `RunBuilder.sleep`); returns its id. */
  emitSleep(id: string, ms: number, opts?: WaitStepOpts): string;
  /** Emits a built-in signal wait (see `RunBuilder.waitForSignal`); returns its id. */
  emitWaitForSignal(id: string, name: string, opts?: SignalWaitOpts): string;
  /** Emits a built-in child-run step (see `RunBuilder.childRun`); returns its id. */
  emitChildRun(id: string, packageName: string, input: unknown, opts?: ChildRunOpts): string;
  /** A record write, persisted with the result. */
  record(collection: string, key: string, data: unknown): void;
  /** An artifact whose bytes are stored with the result; returns its id. */
  artifact(name: string, contentType: string, body: Uint8Array | string, opts?: ArtifactOptions): string;
  /** Puts bytes in the runtime's artifact store now; the result keeps a reference. */
  storeArtifact(name: string, contentType: string, body: Uint8Array | string, opts?: ArtifactOptions): Promise<ArtifactRef>;
  /** The projection called `name` from the runtime's `projectionStore`; `no_projection_store` without one. */
  projection(name: string): Promise<Projection>;
  /** The step as it was claimed (status `running`, this attempt's number and lease). */
  readonly step: StepInfo;
  /** The step's run, as it was when the step was claimed. */
  readonly workflow: WorkflowRun;
  /** The lease this attempt holds; its writes count only while it is held. */
  readonly lease: Lease;
  /** When this attempt started. */
  readonly now: Date;
  /** 1 on the first attempt. */
  readonly attempt: number;
  /** Aborted on `cancelRun`, on losing the lease, or on shutdown past the grace period. */
  readonly signal: AbortSignal;
  /**
   * The runtime's logger (`RuntimeConfig.logger`), bound to this attempt: every
   * line carries `runId`, `stepId`, `kind`, `queue` and `attempt`.
   */
  readonly logger: Logger;
}
