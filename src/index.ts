/**
 * trellis: durable workflows inside your own Node.js process.
 *
 * Register typed executors and workflow packages on a {@link Runtime}, start
 * runs, and run workers inside your application's lifecycle. State lives in a
 * store: SQLite by default ({@link sqliteStore}), embedded, zero setup; or
 * PostgreSQL (`postgresStore` from `trellis/postgres`) for many processes on many
 * machines. Each driver is loaded only when its store is used.
 *
 * @module
 */
export { newRuntime } from "./engine/new-runtime.js";
export { Runtime, type StartRunOptions, type RunEventListener } from "./engine/runtime.js";
export type { WaitForRunOptions } from "./engine/run-waiter.js";
export type { WorkerOptions, RunOnceOptions } from "./engine/scheduler.js";
export type { RuntimeConfig, QueueConfig, Clock } from "./config.js";
export type { ScheduleOptions, ScheduleInfo, ScheduleStats, ScheduleOverlap, ScheduleCatchUp, ScheduleTickOutcome } from "./engine/schedules.js";
export { CATCH_UP_LIMIT, SCHEDULE_METADATA_KEY, SCHEDULE_TICK_METADATA_KEY, scheduledRunId } from "./engine/schedule-firing.js";
export type { Logger, LogMethod, LogFields } from "./observability/logger.js";
export type { RuntimeStats, QueueStepCounts, ProcessCounts } from "./observability/runtime-stats.js";
export { TRACEPARENT_KEY } from "./observability/traceparent.js";
export type { RunGraph, RunGraphStep, RunGraphEdge, RunGraphEdgeKind, RunGraphFanOut, RunGraphOptions } from "./graph/run-graph.js";
export { runGraphToModel } from "./graph/run-graph-model.js";
export { renderMermaid } from "./graph/mermaid.js";
export { renderDot } from "./graph/dot.js";
export { renderSvg } from "./graph/svg.js";
export type { GraphModel, GraphNode, GraphEdge, GraphGroup, GraphNodeStatus, GraphNodeShape, GraphEdgeKind } from "./graph/graph-model.js";
export { ErrorCodes, WorkflowError, permanent, retryable, isWorkflowError, type ErrorCode, type WorkflowErrorOptions } from "./errors.js";
export { newExecutor, newTypedExecutor, Registry, type Executor, type ExecutorInput, type ExecutorOptions, type ExecutorOutput, type ResultOf } from "./executor.js";
export { newPackage, PackageBuilder, type WorkflowPackage, type EntrypointFn, type EntrypointReturn, type PackageInput, type PackageOutput, type PackageHost } from "./package.js";
export type { Schema, InferInput, InferOutput, SchemaIssue } from "./schema.js";
export type { RunBuilder } from "./run-builder.js";
export { requireSteps, onFailure, onComplete, type StepHandle, type StepOutput, type StepOpts } from "./step-options.js";
export { BuiltinKinds, childRunId, type WaitStepOpts, type SignalWaitOpts, type ChildRunOpts } from "./waits.js";
export { MAX_DURATION_MS, DEFAULT_MAX_PAYLOAD_BYTES } from "./limits.js";
export type { RetryPolicy, ResolvedRetryPolicy } from "./retry.js";
export type { StepContext, ArtifactOptions } from "./step-context.js";
export type {
  RunStatus,
  StepStatus,
  RunHandle,
  WorkflowRun,
  Dependency,
  DependencyOn,
  Lease,
  StepError,
  StepInfo,
  StepDetail,
  RecordWrite,
  CycleResult,
  StepResult,
  ListRunsFilter,
  OperatorOptions,
  RunEvent,
  RunEventType,
  FailedStepsFilter,
  PurgeOptions,
} from "./types.js";
export { sqliteStore } from "./store/sqlite/index.js";
export type { SqliteStoreOptions } from "./store/sqlite/connection.js";
export type * from "./store/store.js";
export type { ArtifactObject, ArtifactRef, ArtifactStore } from "./artifacts/artifact-store.js";
export { FileArtifactStore } from "./artifacts/file-artifact-store.js";
export { validateName, MAX_NAME_BYTES } from "./names.js";
export type { Projection, ProjectionStore } from "./projections/projection-store.js";
export { SQLiteProjectionStore } from "./projections/sqlite-projection-store.js";
