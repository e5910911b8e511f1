/**
 * Running the built-in waits (see `waits.ts`). Each run of one either finishes
 * the step or returns a `wait` outcome that parks it as `waiting`; whatever
 * wakes it (its time, a signal, its child run's end) makes it ready again, and
 * it runs here once more to decide. The store settles the races: a signal is
 * consumed, or a child's end is noticed, in the transaction that parks the step.
 */
import { ErrorCodes, WorkflowError, isWorkflowError } from "../errors.js";
import { decode, tryEncode } from "../serialization.js";
import { FINISHED_RUN_STATUSES } from "../store/graph-rules.js";
import type { ClaimedStep, Encoded, RunRecord, StepErrorRecord, StepOutcome, Store } from "../store/store.js";
import { BuiltinKinds, type ChildRunInput, childRunId, type SignalWaitInput, type SleepInput } from "../waits.js";

/** What the built-ins need from the runtime. */
export interface BuiltinServices {
  getRun(runId: string): Promise<RunRecord | undefined>;
  /** The encoded result data of a step, if it succeeded. */
  resultData(runId: string, stepId: string): Promise<Encoded | undefined>;
  /** Starts a child run (idempotent on its id) and returns it as stored; throws what `startRun` throws. */
  startChild(parent: ClaimedStep, input: ChildRunInput, childId: string): Promise<RunRecord>;
}

/** The services over a store, with the runtime's child-run start. */
export function storeBuiltinServices(store: Store, startChild: BuiltinServices["startChild"]): BuiltinServices {
  return {
    getRun: (runId) => store.getRun(runId),
    resultData: async (runId, stepId) => {
      const result = await store.getResult(runId, stepId);
      return result && !result.error ? result.result : undefined;
    },
    startChild,
  };
}

const UNDEFINED_RESULT = (tryEncode(undefined) as { text: Encoded }).text;

export function isBuiltinKind(kind: string): boolean {
  return kind === BuiltinKinds.sleep || kind === BuiltinKinds.signal || kind === BuiltinKinds.child;
}

/** Runs one built-in step; any error it throws is turned into a failure by the caller. */
export async function runBuiltin(claimed: ClaimedStep, services: BuiltinServices, now: number): Promise<StepOutcome> {
  const lease = { runId: claimed.run.id, stepId: claimed.step.id, token: claimed.step.lease.token, now };
  const { step } = claimed;
  switch (step.kind) {
    case BuiltinKinds.sleep: {
      const { ms } = decode(step.input) as SleepInput;
      const wakeAt = step.wakeAt ?? now + ms;
      if (wakeAt <= now) return { ...lease, status: "succeeded", result: UNDEFINED_RESULT, artifacts: [], emitted: [] };
      return { ...lease, status: "wait", wakeAt };
    }
    case BuiltinKinds.signal: {
      const { name, timeout } = decode(step.input) as SignalWaitInput;
      const wakeAt = step.wakeAt ?? (timeout !== undefined ? now + timeout : undefined);
      const timeoutError: StepErrorRecord = {
        code: ErrorCodes.timeout,
        message: `no signal "${name}" arrived within ${timeout} ms`,
        retryable: false,
        occurredAt: now,
      };
      const outcome: StepOutcome = { ...lease, status: "wait", consume: { name, timeoutError } };
      if (wakeAt !== undefined) outcome.wakeAt = wakeAt;
      return outcome;
    }
    case BuiltinKinds.child: {
      const childId = childRunId(claimed.run.id, step.id);
      const child = (await services.getRun(childId)) ?? (await services.startChild(claimed, decode(step.input) as ChildRunInput, childId));
      if (!(FINISHED_RUN_STATUSES as readonly string[]).includes(child.status)) return { ...lease, status: "wait", childRunId: childId };
      if (child.status === "succeeded") {
        const output = child.outputStep !== undefined ? await services.resultData(childId, child.outputStep) : undefined;
        return { ...lease, status: "succeeded", result: output ?? UNDEFINED_RESULT, artifacts: [], emitted: [] };
      }
      throw new WorkflowError(ErrorCodes.childFailed, `child run "${childId}" ${child.status}`, {
        retryable: false,
        details: { childRunId: childId, status: child.status },
      });
    }
    default:
      throw new WorkflowError(ErrorCodes.unknownKind, `no built-in step of kind "${step.kind}"`);
  }
}

/** Errors starting a child (bad package, bad input) fail the step for good: retrying changes nothing. */
export function childStartError(err: unknown): unknown {
  if (isWorkflowError(err) && err.code !== ErrorCodes.storeError) {
    return new WorkflowError(err.code, err.message, { retryable: false, details: err.details, cause: err });
  }
  return err;
}
