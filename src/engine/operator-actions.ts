/**
 * The operator's actions behind `Runtime`'s methods (retry, retry a run,
 * cancel, signal, pause, resume, purge): the arguments checked, the store told
 * who acted and why (written into the event each action logs), and this
 * process's workers and waiters told what changed.
 */
import { randomUUID } from "node:crypto";
import type { ResolvedConfig } from "../config.js";
import { ErrorCodes, WorkflowError } from "../errors.js";
import { checkPayload } from "../limits.js";
import { tryEncode } from "../serialization.js";
import { FINISHED_RUN_STATUSES } from "../store/graph-rules.js";
import type { OperatorNote, Store } from "../store/store.js";
import type { OperatorOptions, PurgeOptions } from "../types.js";
import { assertRunId, operatorSchema, parseOrThrow, purgeSchema, signalSchema } from "./runtime-arguments.js";
import { purgeFinished } from "./purge.js";
import type { RunWaiter } from "./run-waiter.js";
import { canceledError, type Scheduler } from "./scheduler.js";

/** The note the store writes: only the fields given. */
function noteOf(opts: { actor?: string | undefined; reason?: string | undefined }): OperatorNote | undefined {
  if (opts.actor === undefined && opts.reason === undefined) return undefined;
  return { ...(opts.actor !== undefined ? { actor: opts.actor } : {}), ...(opts.reason !== undefined ? { reason: opts.reason } : {}) };
}

export class OperatorActions {
  readonly #store: Store;
  readonly #config: ResolvedConfig;
  readonly #scheduler: Scheduler;
  readonly #waiter: RunWaiter;

  constructor(store: Store, config: ResolvedConfig, scheduler: Scheduler, waiter: RunWaiter) {
    this.#store = store;
    this.#config = config;
    this.#scheduler = scheduler;
    this.#waiter = waiter;
  }

  #note(opts: OperatorOptions | undefined): OperatorNote | undefined {
    return noteOf(parseOrThrow(operatorSchema, opts ?? {}, "operator options"));
  }

  async retryStep(runId: string, stepId: string, opts?: OperatorOptions): Promise<void> {
    const note = this.#note(opts);
    assertRunId(runId);
    await this.#store.retryStep(runId, stepId, this.#config.clock(), note);
    this.#scheduler.wake();
  }

  /**
   * Every failed step of the run, retried one by one (each its own
   * transaction; a retry revives only skipped or canceled steps, so none undoes
   * another). If one is refused (another operator got there first), the ones
   * before it stay done and its error is thrown.
   */
  async retryRun(runId: string, opts?: OperatorOptions): Promise<string[]> {
    const note = this.#note(opts);
    assertRunId(runId);
    if (!(await this.#store.getRun(runId))) throw new WorkflowError(ErrorCodes.notFound, `no run "${runId}"`);
    const failed = (await this.#store.getSteps(runId)).filter((s) => s.status === "failed").map((s) => s.id);
    if (failed.length === 0) throw new WorkflowError(ErrorCodes.invalidState, `run "${runId}" has no failed step to retry`);
    for (const stepId of failed) await this.#store.retryStep(runId, stepId, this.#config.clock(), note);
    this.#scheduler.wake();
    return failed;
  }

  async cancelRun(runId: string, opts?: OperatorOptions): Promise<void> {
    const note = this.#note(opts);
    assertRunId(runId);
    const canceled = await this.#store.cancelRun(runId, this.#config.clock(), note);
    for (const id of canceled) this.#scheduler.abortRun(id, canceledError(id));
    this.#scheduler.wake(); // a parent step waiting for a canceled child can now run
    this.#waiter.progress();
  }

  async signal(runId: string, name: string, payload: unknown, opts: { id?: string } & OperatorOptions): Promise<{ delivered: boolean }> {
    const parsed = parseOrThrow(signalSchema, { runId, name, ...(opts ?? {}) }, "signal");
    const encoded = tryEncode(payload);
    if (!encoded.ok) throw new WorkflowError(ErrorCodes.invalidInput, `signal "${name}": payload cannot be stored: ${encoded.error.message}`);
    checkPayload(encoded.text, this.#config.limits.maxPayloadBytes, `the payload of signal "${name}"`);
    const note = noteOf(parsed);
    const result = await this.#store.signal({
      runId, name, id: parsed.id ?? randomUUID(), payload: encoded.text, now: this.#config.clock(), ...(note ? { note } : {}),
    });
    if (result.delivered) this.#scheduler.wake();
    return result;
  }

  async pauseRun(runId: string, opts?: OperatorOptions): Promise<void> {
    const note = this.#note(opts);
    assertRunId(runId);
    await this.#store.pauseRun(runId, this.#config.clock(), note);
  }

  async resumeRun(runId: string, opts?: OperatorOptions): Promise<void> {
    const note = this.#note(opts);
    assertRunId(runId);
    await this.#store.resumeRun(runId, this.#config.clock(), note);
    this.#scheduler.wake();
  }

  /** A purge leaves no run to log in: who purged what goes to the runtime's logger. */
  async purge(opts: PurgeOptions): Promise<number> {
    const parsed = parseOrThrow(purgeSchema, opts, "purge");
    const statuses = parsed.statuses ?? FINISHED_RUN_STATUSES;
    const runs = await purgeFinished(this.#store, this.#config, parsed.finishedBefore.getTime(), statuses);
    this.#config.log.info({ runs, finishedBefore: parsed.finishedBefore.toISOString(), statuses, ...noteOf(parsed) }, "runs purged");
    return runs;
  }
}
