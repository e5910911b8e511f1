/**
 * Wraps a store so that whatever it throws reaches callers as a `WorkflowError`:
 * the ones it means (`not_found`, `invalid_state`, ...) as they are, anything
 * else (a driver's error: disk full, lock timeout, connection lost) as
 * `store_error` with the original as its `cause`. The engine only ever talks to
 * a guarded store, so third-party adapters get this for free.
 */
import { ErrorCodes, WorkflowError, isWorkflowError } from "../errors.js";
import type { Store } from "./store.js";
import { STORE_COMMANDS } from "./store-commands.js";

function asWorkflowError(err: unknown): WorkflowError {
  if (isWorkflowError(err)) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new WorkflowError(ErrorCodes.storeError, `the store failed: ${message}`, { cause: err, retryable: true });
}

export function guardStore(store: Store): Store {
  const guarded = {} as Record<string, unknown>;
  for (const method of STORE_COMMANDS) {
    const call = (store[method] as (...args: unknown[]) => Promise<unknown>).bind(store);
    guarded[method] = async (...args: unknown[]) => {
      try {
        return await call(...args);
      } catch (err) {
        throw asWorkflowError(err);
      }
    };
  }
  // Not a command: a synchronous registration, passed through as it is.
  if (store.subscribe) guarded.subscribe = store.subscribe.bind(store);
  if (store.observeEvents) guarded.observeEvents = store.observeEvents.bind(store);
  if (store.writeConcurrency !== undefined) guarded.writeConcurrency = store.writeConcurrency;
  return guarded as unknown as Store;
}
