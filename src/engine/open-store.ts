/**
 * Opening a runtime's store: its migrations applied (timed in the log), any
 * failure as a `WorkflowError`, and the store guarded so that whatever it
 * throws later reaches callers as one too.
 */
import type { ResolvedConfig } from "../config.js";
import { ErrorCodes, WorkflowError, isWorkflowError } from "../errors.js";
import { errorFields } from "../observability/logger.js";
import { guardStore } from "../store/guarded-store.js";
import type { Store } from "../store/store.js";

export async function openGuardedStore(config: ResolvedConfig): Promise<Store> {
  let store: Store;
  const began = performance.now();
  try {
    store = await config.store.open();
  } catch (err) {
    config.log.error({ store: config.store.name, ...errorFields(err) }, "cannot open the store");
    if (isWorkflowError(err)) throw err;
    throw new WorkflowError(ErrorCodes.storeError, `cannot open the ${config.store.name} store: ${(err as Error)?.message ?? String(err)}`, { cause: err });
  }
  // Opening applies the store's migrations: its time is theirs, mostly.
  config.log.info({ store: config.store.name, ms: Math.round(performance.now() - began) }, "store opened, migrations applied");
  return guardStore(store);
}
