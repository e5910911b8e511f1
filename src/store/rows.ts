/** Mapping between the built-in adapters' rows (same column names in SQLite and Postgres) and the store's records. */
import type { DependencyOn, RunEventType, RunStatus, StepStatus } from "../types.js";
import type { ClaimedStep, EventRecord, LeaseRecord, ResultRecord, RunRecord, StepErrorRecord, StepRecord, StoredArtifact, StoredDependency } from "./store.js";

export interface RunRow {
  id: string;
  package: string;
  name: string;
  status: string;
  input: string;
  metadata: string;
  created_at: number;
  updated_at: number;
  parent_run_id: string | null;
  parent_step_id: string | null;
  output_step: string | null;
  package_version: string | null;
  /** Present when the query counted them (`Store.getRun`, `listRuns`). */
  failed_steps?: number | null;
}

export interface StepRow {
  run_id: string;
  id: string;
  kind: string;
  queue: string;
  status: string;
  input: string;
  deps_total: number;
  retry: string;
  max_attempts: number;
  attempt: number;
  reclaims: number;
  priority: number;
  parent_id: string | null;
  dedup_key: string | null;
  site: string | null;
  metadata: string;
  ready_at: number | null;
  started_at: number | null;
  finished_at: number | null;
  created_at: number;
  updated_at: number;
  lease_worker: string | null;
  lease_token: string | null;
  lease_acquired_at: number | null;
  lease_expires_at: number | null;
  error: string | null;
  not_before: number | null;
  delay_ms: number;
  timeout_ms: number | null;
  wait_for: string | null;
  wake_at: number | null;
}

export interface ArtifactRow {
  id: string;
  step_id: string;
  name: string;
  kind: string;
  content_type: string;
  metadata: string;
  uri: string | null;
  size: number;
}

export function toRun(row: RunRow): RunRecord {
  const run: RunRecord = {
    id: row.id,
    package: row.package,
    name: row.name,
    status: row.status as RunStatus,
    input: row.input,
    metadata: JSON.parse(row.metadata) as Record<string, string>,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
  if (row.parent_run_id !== null) run.parentRunId = row.parent_run_id;
  if (row.parent_step_id !== null) run.parentStepId = row.parent_step_id;
  if (row.output_step !== null) run.outputStep = row.output_step;
  if (row.package_version !== null) run.packageVersion = row.package_version;
  if (row.failed_steps !== undefined && row.failed_steps !== null) run.failedSteps = Number(row.failed_steps);
  return run;
}

export function toLease(row: StepRow): LeaseRecord | undefined {
  if (row.lease_token === null) return undefined;
  return {
    workerId: row.lease_worker ?? "",
    token: row.lease_token,
    acquiredAt: row.lease_acquired_at ?? 0,
    expiresAt: row.lease_expires_at ?? 0,
  };
}

/** A step row; its dependencies come from step_deps (`[]` for a step without any). */
export function toStep(row: StepRow, dependsOn: StoredDependency[]): StepRecord {
  const step: StepRecord = {
    runId: row.run_id,
    id: row.id,
    kind: row.kind,
    queue: row.queue,
    status: row.status as StepStatus,
    input: row.input,
    attempt: row.attempt,
    maxAttempts: row.max_attempts,
    reclaims: row.reclaims,
    priority: row.priority,
    retry: JSON.parse(row.retry),
    dependsOn,
    metadata: JSON.parse(row.metadata) as Record<string, string>,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
  if (row.parent_id !== null) step.parentId = row.parent_id;
  if (row.dedup_key !== null) step.dedupKey = row.dedup_key;
  if (row.site !== null) step.site = row.site;
  if (row.error !== null) step.lastError = JSON.parse(row.error) as StepErrorRecord;
  if (row.ready_at !== null) step.readyAt = row.ready_at;
  if (row.started_at !== null) step.startedAt = row.started_at;
  if (row.finished_at !== null) step.finishedAt = row.finished_at;
  if (row.not_before !== null) step.notBefore = row.not_before;
  if (row.delay_ms) step.delay = row.delay_ms;
  if (row.timeout_ms !== null) step.timeout = row.timeout_ms;
  if (row.wait_for !== null) step.waitFor = row.wait_for;
  if (row.wake_at !== null) step.wakeAt = row.wake_at;
  const lease = toLease(row);
  if (lease) step.lease = lease;
  return step;
}

/** A dependency edge as both adapters read it. */
export interface EdgeRow {
  step_id: string;
  dep_id: string;
  on_state: string;
}

/** A run's edges grouped by the step that waits, in the order read. */
export function dependenciesByStep(edges: readonly EdgeRow[]): Map<string, StoredDependency[]> {
  const deps = new Map<string, StoredDependency[]>();
  for (const e of edges) {
    let list = deps.get(e.step_id);
    if (!list) deps.set(e.step_id, (list = []));
    list.push({ stepId: e.dep_id, on: e.on_state as DependencyOn });
  }
  return deps;
}

/** An event log row, as both adapters store it. */
export interface EventRow {
  seq: number;
  run_id: string;
  at: number;
  type: string;
  step_id: string | null;
  attempt: number | null;
  worker_id: string | null;
  error: string | null;
  data: string | null;
}

export function toEvent(row: EventRow): EventRecord {
  const event: EventRecord = { seq: Number(row.seq), runId: row.run_id, at: Number(row.at), type: row.type as RunEventType };
  if (row.step_id !== null) event.stepId = row.step_id;
  if (row.attempt !== null) event.attempt = row.attempt;
  if (row.worker_id !== null) event.workerId = row.worker_id;
  if (row.error !== null) event.error = JSON.parse(row.error) as StepErrorRecord;
  if (row.data !== null) event.data = row.data;
  return event;
}

export function toArtifact(row: ArtifactRow): StoredArtifact {
  const artifact: StoredArtifact = {
    id: row.id,
    stepId: row.step_id,
    name: row.name,
    kind: row.kind,
    contentType: row.content_type,
    metadata: JSON.parse(row.metadata) as Record<string, string>,
    size: row.size,
  };
  if (row.uri !== null) artifact.uri = row.uri;
  return artifact;
}

/**
 * What a claim reads of each step it leased, with its run, as one raw row (an
 * array: cheaper than an object per row). The lease, status and start time are
 * not read back: the claim just wrote them.
 */
export const CLAIMED_STEP_COLUMNS = `s.run_id, s.id, s.kind, s.queue, s.input, s.deps_total, s.retry, s.max_attempts, s.attempt,
  s.reclaims, s.priority, s.parent_id, s.dedup_key, s.site, s.metadata, s.ready_at, s.created_at, s.error,
  r.package, r.name, r.status, r.input, r.metadata, r.created_at, r.updated_at,
  s.timeout_ms, s.wait_for, s.wake_at, r.parent_run_id, r.parent_step_id, r.output_step, r.package_version`;

type Cell = string | number | null;

/**
 * Retry policies and metadata repeat across steps (most steps share a handful of
 * each), so a claim parses each distinct text once. Parsed values are frozen:
 * they are shared, and readers copy before handing them out.
 */
const parsed = new Map<string, unknown>();
function parseShared<T>(text: string): T {
  let value = parsed.get(text);
  if (value === undefined) {
    value = Object.freeze(JSON.parse(text));
    if (parsed.size >= 1024) parsed.clear();
    parsed.set(text, value);
  }
  return value as T;
}

export function toClaimedStep(row: unknown[], lease: LeaseRecord, depsOf: (runId: string, stepId: string) => StoredDependency[]): ClaimedStep {
  const [runId, id, kind, queue, input, depsTotal, retry, maxAttempts, attempt, reclaims, priority, parentId, dedupKey, site, metadata,
    readyAt, createdAt, error, pkg, runName, runStatus, runInput, runMetadata, runCreatedAt, runUpdatedAt,
    timeout, waitFor, wakeAt, parentRunId, parentStepId, outputStep, packageVersion] = row as Cell[];
  const step: ClaimedStep["step"] = {
    runId: runId as string,
    id: id as string,
    kind: kind as string,
    queue: queue as string,
    status: "running",
    input: input as string,
    attempt: attempt as number,
    maxAttempts: maxAttempts as number,
    reclaims: reclaims as number,
    priority: priority as number,
    retry: parseShared(retry as string),
    dependsOn: [],
    metadata: parseShared<Record<string, string>>(metadata as string),
    startedAt: lease.acquiredAt,
    createdAt: createdAt as number,
    updatedAt: lease.acquiredAt,
    lease,
  };
  if (depsTotal !== 0) {
    // Read only if someone looks (step.step in an executor): most never do.
    let deps: StoredDependency[] | undefined;
    Object.defineProperty(step, "dependsOn", { enumerable: true, get: () => (deps ??= depsOf(runId as string, id as string)) });
  }
  if (parentId !== null) step.parentId = parentId as string;
  if (dedupKey !== null) step.dedupKey = dedupKey as string;
  if (site !== null) step.site = site as string;
  if (readyAt !== null) step.readyAt = readyAt as number;
  if (error !== null) step.lastError = JSON.parse(error as string) as StepErrorRecord;
  if (timeout !== null) step.timeout = timeout as number;
  if (waitFor !== null) step.waitFor = waitFor as string;
  if (wakeAt !== null) step.wakeAt = wakeAt as number;
  const run: RunRecord = {
    id: runId as string,
    package: pkg as string,
    name: runName as string,
    status: runStatus as RunStatus,
    input: runInput as string,
    metadata: parseShared<Record<string, string>>(runMetadata as string),
    createdAt: runCreatedAt as number,
    updatedAt: runUpdatedAt as number,
  };
  if (parentRunId !== null) run.parentRunId = parentRunId as string;
  if (parentStepId !== null) run.parentStepId = parentStepId as string;
  if (outputStep !== null) run.outputStep = outputStep as string;
  if (packageVersion !== null) run.packageVersion = packageVersion as string;
  return { step, run };
}

/** The columns of a step's last outcome, as both adapters store them. */
export interface OutcomeRow {
  status: string;
  result: string | null;
  records: string | null;
  emitted_ids: string | null;
  error: string | null;
  completed_at: number | null;
}

/** A step's result record, or undefined while it has none (not finished, or skipped/canceled without an error). */
export function toResultRecord(stepId: string, row: OutcomeRow, artifacts: StoredArtifact[]): ResultRecord | undefined {
  if (row.completed_at === null) return undefined;
  if (row.status === "succeeded") {
    const record: ResultRecord = {
      stepId,
      emittedIds: row.emitted_ids === null ? [] : (JSON.parse(row.emitted_ids) as string[]),
      completedAt: row.completed_at,
      artifacts,
    };
    if (row.result !== null) record.result = row.result;
    if (row.records !== null) record.records = row.records;
    return record;
  }
  if (row.error === null) return undefined;
  return { stepId, emittedIds: [], completedAt: row.completed_at, artifacts: [], error: JSON.parse(row.error) as StepErrorRecord };
}
