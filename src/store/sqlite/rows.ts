/** Mapping between SQLite rows and the store's records. */
import type { Dependency, RunStatus, StepStatus } from "../../types.js";
import type { LeaseRecord, RunRecord, StepErrorRecord, StepRecord, StoredArtifact } from "../store.js";

export interface RunRow {
  id: string;
  package: string;
  name: string;
  status: string;
  input: string;
  metadata: string;
  created_at: number;
  updated_at: number;
}

export interface StepRow {
  run_id: string;
  id: string;
  kind: string;
  queue: string;
  status: string;
  input: string;
  depends_on: string | null;
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
  return {
    id: row.id,
    package: row.package,
    name: row.name,
    status: row.status as RunStatus,
    input: row.input,
    metadata: JSON.parse(row.metadata) as Record<string, string>,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
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

export function toStep(row: StepRow): StepRecord {
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
    dependsOn: row.depends_on === null ? [] : (JSON.parse(row.depends_on) as Dependency[]),
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
  const lease = toLease(row);
  if (lease) step.lease = lease;
  return step;
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
