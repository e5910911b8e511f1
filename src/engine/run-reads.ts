/**
 * The runtime's reads that take more than one store call or a check of their
 * own (one step with its input, a run's graph, an artifact, a run's output, a
 * filtered page of runs),
 * over the store only: `Runtime` checks it is open and delegates here.
 */
import type { ArtifactRef } from "../artifacts/artifact-store.js";
import { ErrorCodes, WorkflowError } from "../errors.js";
import { buildRunGraph, type RunGraph, type RunGraphOptions } from "../graph/run-graph.js";
import { decode } from "../serialization.js";
import type { Store } from "../store/store.js";
import type { ListRunsFilter, StepDetail, WorkflowRun } from "../types.js";
import { toArtifactRef, toStepInfo, toWorkflowRun } from "./records.js";
import { assertRunId, isRunId, listRunsSchema, parseOrThrow, runGraphSchema } from "./runtime-arguments.js";

export async function readStep(store: Store, runId: string, stepId: string): Promise<StepDetail | undefined> {
  if (!isRunId(runId) || !isRunId(stepId)) return undefined;
  // No store read fetches one step: the run's steps, then the one asked for.
  const record = (await store.getSteps(runId)).find((s) => s.id === stepId);
  return record && { ...toStepInfo(record), input: decode(record.input) };
}

export async function readGraph(store: Store, runId: string, opts: RunGraphOptions): Promise<RunGraph> {
  const parsed = parseOrThrow(runGraphSchema, opts ?? {}, "graph options");
  const run = isRunId(runId) ? await store.getRun(runId) : undefined;
  if (!run) throw new WorkflowError(ErrorCodes.notFound, `no run ${JSON.stringify(runId)}`);
  return buildRunGraph(toWorkflowRun(run), (await store.getSteps(runId)).map(toStepInfo), parsed);
}

export async function readArtifact(store: Store, runId: string, artifactId: string): Promise<{ ref: ArtifactRef; body: Uint8Array }> {
  assertRunId(runId);
  if (!isRunId(artifactId)) throw new WorkflowError(ErrorCodes.notFound, `no artifact "${artifactId}" in run "${runId}"`);
  const found = await store.readArtifact(runId, artifactId);
  if (!found) throw new WorkflowError(ErrorCodes.notFound, `no artifact "${artifactId}" in run "${runId}"`);
  return { ref: toArtifactRef(runId, found.artifact), body: found.body };
}

export async function readOutput(store: Store, runId: string): Promise<unknown> {
  assertRunId(runId);
  const run = await store.getRun(runId);
  if (!run) throw new WorkflowError(ErrorCodes.notFound, `no run "${runId}"`);
  if (run.status !== "succeeded") throw new WorkflowError(ErrorCodes.invalidState, `run "${runId}" is ${run.status}; it has an output once it succeeded`);
  if (run.outputStep === undefined) return undefined;
  const result = await store.getResult(runId, run.outputStep);
  return result?.result === undefined ? undefined : decode(result.result);
}

export async function listRuns(store: Store, filter: ListRunsFilter): Promise<WorkflowRun[]> {
  const { limit = 100, createdFrom, createdTo, ...rest } = parseOrThrow(listRunsSchema, filter, "listRuns filter");
  const created = { ...(createdFrom ? { createdFrom: createdFrom.getTime() } : {}), ...(createdTo ? { createdTo: createdTo.getTime() } : {}) };
  return (await store.listRuns({ ...rest, ...created, limit })).map(toWorkflowRun);
}
