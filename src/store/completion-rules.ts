/**
 * How a store adapter answers a batch of outcomes, and how it tells its
 * observers what it wrote: shared by every adapter so that they answer alike.
 */
import { ErrorCodes } from "../errors.js";
import type { CompletionResult, EventRecord } from "./store.js";

/** The outcome was written under its lease. */
export const APPLIED: CompletionResult = Object.freeze({ status: "applied" });
/** The lease was no longer held: nothing was written (fencing). */
export const STALE: CompletionResult = Object.freeze({ status: "stale" });

/**
 * Codes that turn a step's success into a permanent failure of that step,
 * instead of failing its whole batch: its emitted graph does not fit the run.
 */
export const GRAPH_CONFLICTS: ReadonlySet<string> = new Set([ErrorCodes.duplicateStep, ErrorCodes.unknownDependency, ErrorCodes.duplicateArtifact]);

/**
 * Hands committed events to each observer. An observer that throws is its own
 * problem: the write it observes has committed, so its caller must not see it
 * fail, and the other observers still get the events.
 */
export function deliverEvents(observers: Iterable<(events: EventRecord[]) => void>, events: EventRecord[]): void {
  for (const observe of observers) {
    try {
      observe(events);
    } catch {
      // The runtime's own observer reports its listeners' errors to onError.
    }
  }
}
