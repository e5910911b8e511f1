/**
 * The one list of a store's commands (its asynchronous methods), for the code
 * that wraps every one of them: the guard that turns driver errors into
 * `store_error`, and the conformance suite's fault injector. The compiler
 * keeps it complete: a command added to `Store` and not here fails the build.
 */
import type { Store } from "./store.js";

/** Every asynchronous method of `Store` by name, `close` included. */
export const STORE_COMMANDS = [
  "createRuns", "claim", "complete", "heartbeat", "release", "reclaimExpired",
  "getRun", "listRuns", "getSteps", "getResult", "readArtifact",
  "retryStep", "cancelRun", "wakeDue", "signal", "pauseRun", "resumeRun",
  "getEvents", "listFailedSteps", "purge", "close", "countSteps", "countReadyKinds",
  "putSchedule", "getSchedule", "listSchedules", "deleteSchedule", "setSchedulePaused", "dueSchedules", "advanceSchedule",
] as const satisfies readonly (keyof Store)[];

/** The name of one `Store` command. */
export type StoreCommand = (typeof STORE_COMMANDS)[number];

/** The members of `Store` that return a promise. */
type AsyncMembers = { [K in keyof Store]-?: NonNullable<Store[K]> extends (...args: never[]) => Promise<unknown> ? K : never }[keyof Store];

// Does not compile while a command of Store is missing from STORE_COMMANDS.
const everyCommandListed: [Exclude<AsyncMembers, StoreCommand>] extends [never] ? true : never = true;
void everyCommandListed;

/**
 * A plain object with every method of an opened store bound to it (adapters
 * keep state in private fields), and its `writeConcurrency`: the base of a
 * wrapper that replaces some commands and passes the rest through.
 */
export function bindStore(store: Store): Record<string, unknown> {
  const bound: Record<string, unknown> = {};
  for (let proto: object | null = store; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      const value = (store as unknown as Record<string, unknown>)[name];
      if (name !== "constructor" && !(name in bound) && typeof value === "function") bound[name] = value.bind(store);
    }
  }
  if (store.writeConcurrency !== undefined) bound.writeConcurrency = store.writeConcurrency;
  return bound;
}
