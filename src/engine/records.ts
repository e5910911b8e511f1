/** Store records (epoch ms, encoded values) to the public types (Dates, decoded values). */
import { decode } from "../serialization.js";
import { isFinishedRun } from "../store/operator-rules.js";
import type { EventRecord, LeaseRecord, ResultRecord, RunRecord, StepErrorRecord, StepRecord, StoredArtifact } from "../store/store.js";
import type { ArtifactRef } from "../artifacts/artifact-store.js";
import type { Lease, RecordWrite, RunEvent, StepError, StepInfo, StepResult, WorkflowRun } from "../types.js";

const date = (ms: number) => new Date(ms);

export function toWorkflowRun(run: RunRecord): WorkflowRun {
  const out: WorkflowRun = {
    id: run.id,
    package: run.package,
    name: run.name,
    status: run.status,
    input: decode(run.input),
    metadata: { ...run.metadata },
    createdAt: date(run.createdAt),
    updatedAt: date(run.updatedAt),
  };
  // A finished run's last transition is its finish: nothing writes a finished run
  // until an operator retry reopens it (the purge's "finished before" reads the same column).
  if (isFinishedRun(run.status)) out.finishedAt = date(run.updatedAt);
  if (run.failedSteps !== undefined) out.failedSteps = run.failedSteps;
  if (run.parentRunId !== undefined) out.parentRunId = run.parentRunId;
  if (run.parentStepId !== undefined) out.parentStepId = run.parentStepId;
  if (run.packageVersion !== undefined) out.packageVersion = run.packageVersion;
  return out;
}

export function toLease(lease: LeaseRecord): Lease {
  return { workerId: lease.workerId, token: lease.token, acquiredAt: date(lease.acquiredAt), expiresAt: date(lease.expiresAt) };
}

function toStepError(error: StepErrorRecord): StepError {
  const out: StepError = { code: error.code, message: error.message, retryable: error.retryable, occurredAt: date(error.occurredAt) };
  if (error.details !== undefined) out.details = decode(error.details);
  return out;
}

export function toStepInfo(step: StepRecord): StepInfo {
  const info: StepInfo = {
    runId: step.runId,
    id: step.id,
    kind: step.kind,
    queue: step.queue,
    status: step.status,
    attempt: step.attempt,
    maxAttempts: step.maxAttempts,
    reclaims: step.reclaims,
    priority: step.priority,
    dependsOn: step.dependsOn.map((d) => ({ stepId: d.stepId, required: d.on !== "completed", on: d.on })),
    metadata: { ...step.metadata },
    createdAt: date(step.createdAt),
    updatedAt: date(step.updatedAt),
  };
  if (step.parentId !== undefined) info.parentId = step.parentId;
  if (step.dedupKey !== undefined) info.dedupKey = step.dedupKey;
  if (step.site !== undefined) info.site = step.site;
  if (step.lastError !== undefined) {
    info.lastError = toStepError(step.lastError);
    if (step.status === "failed") info.error = toStepError(step.lastError);
  }
  if (step.readyAt !== undefined) info.readyAt = date(step.readyAt);
  if (step.startedAt !== undefined) info.startedAt = date(step.startedAt);
  if (step.finishedAt !== undefined) info.finishedAt = date(step.finishedAt);
  if (step.timeout !== undefined) info.timeout = step.timeout;
  if (step.wakeAt !== undefined) info.wakeAt = date(step.wakeAt);
  if (step.waitFor !== undefined) info.waitingFor = step.waitFor;
  if (step.lease !== undefined) info.lease = toLease(step.lease);
  return info;
}

/** Where an inline artifact's bytes live: in the run's own store, read with `rt.readArtifact`. */
function inlineArtifactUri(runId: string, artifactId: string): string {
  return `trellis:artifact/${encodeURIComponent(runId)}/${encodeURIComponent(artifactId)}`;
}

export function toArtifactRef(runId: string, artifact: StoredArtifact): ArtifactRef {
  const ref: ArtifactRef = {
    id: artifact.id,
    uri: artifact.uri ?? inlineArtifactUri(runId, artifact.id),
    name: artifact.name,
    kind: artifact.kind,
    contentType: artifact.contentType,
    size: artifact.size,
  };
  if (Object.keys(artifact.metadata).length) ref.metadata = { ...artifact.metadata };
  return ref;
}

export function toStepResult(runId: string, record: ResultRecord): StepResult {
  const result: StepResult = {
    stepId: record.stepId,
    data: record.result === undefined ? undefined : decode(record.result),
    records: record.records === undefined ? [] : decode<RecordWrite[]>(record.records),
    artifacts: record.artifacts.map((a) => toArtifactRef(runId, a)),
    emittedIds: [...record.emittedIds],
    completedAt: date(record.completedAt),
  };
  if (record.error !== undefined) result.error = toStepError(record.error);
  return result;
}

export function toRunEvent(record: EventRecord): RunEvent {
  const event: RunEvent = { seq: record.seq, runId: record.runId, at: date(record.at), type: record.type };
  if (record.stepId !== undefined) event.stepId = record.stepId;
  if (record.attempt !== undefined) event.attempt = record.attempt;
  if (record.workerId !== undefined) event.workerId = record.workerId;
  if (record.error !== undefined) event.error = toStepError(record.error);
  if (record.data !== undefined) liftOperatorNote(event, JSON.parse(record.data));
  return event;
}

/**
 * An operator's note travels in the event's data (`operatorNoteData`); the
 * event carries it as `actor` and `reason`, and `data` keeps the rest.
 */
function liftOperatorNote(event: RunEvent, data: unknown): void {
  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    event.data = data;
    return;
  }
  const { actor, reason, ...rest } = data as Record<string, unknown>;
  if (typeof actor === "string") event.actor = actor;
  if (typeof reason === "string") event.reason = reason;
  if (Object.keys(rest).length) event.data = rest;
}
