/**
 * Leases taken at start (see `StartLease`): which of a new run's steps an idle
 * worker of this process gets with the run's own transaction, and the claimed
 * step it is handed. The same in every adapter; the adapter only writes them.
 */
import { randomUUID } from "node:crypto";
import type { PlannedStep } from "./step-plan.js";
import { readyAtFor } from "./step-plan.js";
import type { ClaimedStep, LeaseRecord, RunRecord, StartLease } from "./store.js";

export class StartLeases {
  readonly #request: StartLease;
  #left: number;

  constructor(request: StartLease) {
    this.#request = request;
    this.#left = request.limit;
  }

  /**
   * Takes a planned step of new run `runId` if it is ready now, in an eligible
   * queue and of an eligible kind, and places are left; returns its lease (told to `onLease` first), or
   * undefined.
   */
  take(runId: string, planned: PlannedStep, createdAt: number): LeaseRecord | undefined {
    const { now, leaseDuration, workerId } = this.#request;
    if (this.#left <= 0 || planned.status !== "ready") return undefined;
    if (readyAtFor(planned.step, createdAt) > now || !this.#request.eligible(planned.step.queue, planned.step.kind)) return undefined;
    this.#left--;
    const token = randomUUID();
    this.#request.onLease?.({ runId, stepId: planned.step.id, token });
    return { workerId, token, acquiredAt: now, expiresAt: now + leaseDuration };
  }
}

/** The claimed step for a step leased at start: as a claim would return it (attempt 1, nothing finished before it). */
export function claimedAtStart(run: RunRecord, planned: PlannedStep, lease: LeaseRecord): ClaimedStep {
  const { step } = planned;
  const claimed: ClaimedStep["step"] = {
    runId: run.id,
    id: step.id,
    kind: step.kind,
    queue: step.queue,
    status: "running",
    input: step.input,
    attempt: 1,
    maxAttempts: step.retry.maxAttempts,
    reclaims: 0,
    priority: step.priority,
    retry: step.retry,
    dependsOn: [...planned.edges].map(([stepId, on]) => ({ stepId, on })),
    metadata: step.metadata,
    readyAt: readyAtFor(step, run.createdAt),
    startedAt: lease.acquiredAt,
    createdAt: run.createdAt,
    updatedAt: lease.acquiredAt,
    lease,
  };
  if (step.parentId !== undefined) claimed.parentId = step.parentId;
  if (step.dedupKey !== undefined) claimed.dedupKey = step.dedupKey;
  if (step.site !== undefined) claimed.site = step.site;
  if (step.timeout !== undefined) claimed.timeout = step.timeout;
  if (step.waitFor !== undefined) claimed.waitFor = step.waitFor;
  return { step: claimed, run };
}
