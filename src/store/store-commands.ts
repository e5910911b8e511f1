/**
 * The one list of a store's commands (its asynchronous methods), for the code
 * that wraps every one of them: the guard that turns driver errors into
 * `store_error`, and the conformance suite's fault injector. The compiler
 * keeps it complete: a command added to `Store` and not here fails the build.
 */
import type { Store } from "./store.js";

export const STORE_COMMANDS = [
  "createRuns", "claim", "complete", "heartbeat", "release", "reclaimExpired",
  "getRun", "listRuns", "getSteps", "getResult", "readArtifact",
  "retryStep", "cancelRun", "wakeDue", "signal", "pauseRun", "resumeRun",
  "getEvents", "listFailedSteps", "purge", "close", "countSteps",
  "putSchedule", "getSchedule", "listSchedules", "deleteSchedule", "setSchedulePaused", "dueSchedules", "advanceSchedule",
] as const satisfies readonly (keyof Store)[];

export type StoreCommand = (typeof STORE_COMMANDS)[number];

/** The members of `Store` that return a promise. */
type AsyncMembers = { [K in keyof Store]-?: NonNullable<Store[K]> extends (...args: never[]) => Promise<unknown> ? K : never }[keyof Store];

// Does not compile while a command of Store is missing from STORE_COMMANDS.
const everyCommandListed: [Exclude<AsyncMembers, StoreCommand>] extends [never] ? true : never = true;
void everyCommandListed;
