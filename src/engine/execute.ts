/**
 * Running one leased step: call its executor, then turn whatever happened into
 * the outcome the store writes. Nothing an executor does (throw anything,
 * produce an unserializable result, emit a bad graph) escapes as an exception:
 * it all becomes a step failure, so the worker loop never stops.
 */
import type { Clock } from "../config.js";
import { ErrorCodes, WorkflowError, isWorkflowError } from "../errors.js";
import type { Executor } from "../executor.js";
import { backoffDelay } from "../retry.js";
import { checkGraph } from "../run-builder.js";
import { checkPayload, exceedsLimit, payloadTooLarge } from "../limits.js";
import { tryEncode } from "../serialization.js";
import type { ClaimedStep, StepErrorRecord, StepOutcome } from "../store/store.js";
import { type BuiltinServices, isBuiltinKind, runBuiltin } from "./builtins.js";
import type { LazyAbort } from "./lazy-abort.js";
import { ExecutingStep, type StepServices } from "./executing-step.js";

/**
 * Runs the step and returns its outcome; never rejects. Whatever escapes (an
 * executor's error, a value that throws while its outcome is built, a bug)
 * fails the attempt, so the step is retried or failed and never left running
 * until its lease expires.
 */
export async function executeStep(
  claimed: ClaimedStep,
  executor: Executor | undefined,
  services: StepServices & { builtins: BuiltinServices },
  abort: LazyAbort,
  clock: () => number,
  maxPayloadBytes: number,
  setTimer: Clock["setTimeout"],
): Promise<StepOutcome> {
  try {
    if (isBuiltinKind(claimed.step.kind)) return await runBuiltin(claimed, services.builtins, clock());
    if (!executor) {
      return failure(claimed, clock(), {
        code: ErrorCodes.unknownKind,
        message: `no executor is registered for kind "${claimed.step.kind}"`,
        retryable: false,
      });
    }
    const step = new ExecutingStep(claimed, services, abort, new Date(clock()));
    const timeout = claimed.step.timeout;
    const returned = await (timeout === undefined ? executor.execute(step) : withTimeout(() => executor.execute(step), timeout, abort, claimed.step.id, setTimer));
    // A value returned is the step's result, as if passed to step.result last.
    if (returned !== undefined) step.result(returned);
    return success(claimed, step, clock(), maxPayloadBytes);
  } catch (err) {
    return failure(claimed, clock(), describeError(err));
  }
}

/**
 * Runs an executor under an attempt timeout: past `ms`, `step.signal` aborts
 * and the attempt fails with `timeout` (retryable) once the executor returns,
 * whatever it returns. The step is not given up before that: an executor that
 * ignores its signal keeps its slot and its lease until it is done, so an
 * attempt never overlaps the next one. The timer is the configured clock's, so
 * a test's fake clock fires it when advanced past `ms`.
 */
async function withTimeout(run: () => Promise<unknown>, ms: number, abort: LazyAbort, stepId: string, setTimer: Clock["setTimeout"]): Promise<unknown> {
  let expired: WorkflowError | undefined;
  const cancelTimer = setTimer(() => {
    expired = new WorkflowError(ErrorCodes.timeout, `step "${stepId}" ran longer than its timeout of ${ms} ms`, { retryable: true });
    abort.abort(expired);
  }, ms);
  let returned: unknown;
  try {
    returned = await run();
  } catch (err) {
    if (!expired) throw err;
  } finally {
    cancelTimer();
  }
  if (expired) throw expired;
  return returned;
}

function success(claimed: ClaimedStep, step: ExecutingStep, now: number, maxPayloadBytes: number): StepOutcome {
  const { data, records, artifacts, emitted } = step.output;
  const result = tryEncode(data);
  if (!result.ok) {
    return failure(claimed, now, { code: ErrorCodes.unserializableResult, message: `the result cannot be stored: ${result.error.message}`, retryable: false });
  }
  try {
    checkPayload(result.text, maxPayloadBytes, `the result of step "${claimed.step.id}"`);
    for (const a of artifacts) if (a.uri === undefined) checkPayload(a.body, maxPayloadBytes, `inline artifact "${a.id}"`);
    for (const child of emitted) checkPayload(child.input, maxPayloadBytes, `the input of emitted step "${child.id}"`);
  } catch (err) {
    return failure(claimed, now, describeError(err));
  }
  let encodedRecords: string | undefined;
  if (records.length) {
    const encoded = tryEncode(records);
    if (!encoded.ok) {
      return failure(claimed, now, { code: ErrorCodes.unserializableResult, message: `a record cannot be stored: ${encoded.error.message}`, retryable: false });
    }
    encodedRecords = encoded.text;
    const bytes = exceedsLimit(encodedRecords, maxPayloadBytes);
    if (bytes !== undefined) return failure(claimed, now, describeError(payloadTooLarge(`the records of step "${claimed.step.id}"`, bytes, maxPayloadBytes)));
  }
  if (emitted.length) {
    try {
      checkGraph(emitted);
    } catch (err) {
      return failure(claimed, now, describeError(err));
    }
  }
  const { runId, stepId, token } = leaseOf(claimed);
  const outcome: StepOutcome = { runId, stepId, token, now, status: "succeeded", result: result.text, artifacts, emitted };
  if (encodedRecords !== undefined) outcome.records = encodedRecords;
  return outcome;
}

type Failure = Omit<StepErrorRecord, "occurredAt">;

/**
 * A WorkflowError keeps its code and retryability; anything else thrown is a
 * retryable `error`. What was thrown is user data too: reading it (a `message`
 * getter, a Proxy, a `toString` that throws) must not throw in turn.
 */
function describeError(err: unknown): Failure {
  try {
    if (isWorkflowError(err)) {
      // Codes are stored in a column as they are: keep them storable whatever an executor chose.
      const code = typeof err.code === "string" && err.code !== "" ? err.code.replaceAll("\u0000", "") : ErrorCodes.error;
      const failure: Failure = { code, message: storableMessage(err.message), retryable: err.retryable === true };
      if (err.details !== undefined) {
        const details = tryEncode(err.details);
        if (details.ok) failure.details = details.text;
      }
      return failure;
    }
    const message = err instanceof Error ? String(err.message) : `a non-Error value was thrown: ${String(err)}`;
    return { code: ErrorCodes.error, message: storableMessage(message), retryable: true };
  } catch {
    return { code: ErrorCodes.error, message: "the attempt failed with a value that throws when it is read", retryable: true };
  }
}

/** Error messages go to a text column: no NUL (Postgres refuses it in text). */
const storableMessage = (message: unknown) => String(message).replaceAll("\u0000", "");

function failure(claimed: ClaimedStep, now: number, f: Failure): StepOutcome {
  const error: StepErrorRecord = { ...f, occurredAt: now };
  const { attempt, retry } = claimed.step;
  if (error.retryable && attempt < retry.maxAttempts) {
    return { ...leaseOf(claimed), now, status: "retry", error, readyAt: now + backoffDelay(retry, attempt) };
  }
  return { ...leaseOf(claimed), now, status: "failed", error };
}

function leaseOf(claimed: ClaimedStep) {
  return { runId: claimed.run.id, stepId: claimed.step.id, token: claimed.step.lease.token };
}
