/**
 * Writing one step's outcome through the completion batcher, trying again when
 * the write fails: safe because the write is fenced by the lease (one that did
 * commit before its answer was lost comes back `stale`, never applied twice).
 */
import type { ErrorReporter } from "../config.js";
import type { CompletionResult, StepOutcome } from "../store/store.js";
import type { CycleResult } from "../types.js";
import type { Batcher } from "./batcher.js";
import type { Wakeup } from "./wakeup.js";

/** Retries of a failed outcome write, 50 ms apart at first, doubling (about 3 s in all). */
const OUTCOME_WRITE_RETRIES = 6;
const OUTCOME_RETRY_BASE_MS = 50;

/**
 * Writes an outcome, retrying a failed write (connection lost, database
 * restarting) a few times, backing off. Past the retries, or once `stop`
 * aborts, the outcome is given up (reported `stale`): the lease expires and
 * another attempt runs.
 */
export async function writeOutcome(
  completions: Batcher<StepOutcome, CompletionResult>,
  outcome: StepOutcome,
  wakeup: Wakeup,
  stop: AbortSignal,
  report: ErrorReporter,
): Promise<CompletionResult> {
  for (let retry = 0; ; retry++) {
    try {
      return await completions.add(outcome);
    } catch (err) {
      const givingUp = retry >= OUTCOME_WRITE_RETRIES || stop.aborted;
      report(err, givingUp ? "a step's outcome could not be written: given up, its lease will expire" : "a step's outcome could not be written: trying again", {
        runId: outcome.runId,
        stepId: outcome.stepId,
        retry,
      });
      if (givingUp) return { status: "stale" };
      await wakeup.sleep(OUTCOME_RETRY_BASE_MS * 2 ** retry, stop);
    }
  }
}

/** Adds a written outcome to the counters of the cycle that started its step (`runOnce`). */
export function countOutcome(counters: CycleResult | undefined, outcome: StepOutcome, result: CompletionResult): void {
  if (!counters || result.status === "stale") return;
  counters.processed++;
  if (outcome.status === "wait") return; // parked, or finished by the store: not an attempt's end
  if (result.status === "applied" && outcome.status === "succeeded") counters.succeeded++;
  else counters.failed++;
}
