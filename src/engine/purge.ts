/**
 * Purging finished runs (`rt.purge` and the retention timer): the store
 * deletes them in short batches, then their stored artifacts' bodies go.
 */
import type { ResolvedConfig } from "../config.js";
import { FINISHED_RUN_STATUSES } from "../store/graph-rules.js";
import type { RunStatus } from "../types.js";
import type { Store } from "../store/store.js";

/** Runs a purge deletes per transaction: short transactions, so workers are not held up. */
const PURGE_BATCH = 500;

/** Deletes the runs with `statuses` finished before `before`, batch by batch; returns how many. */
export async function purgeFinished(store: Store, config: ResolvedConfig, before: number, statuses: readonly RunStatus[]): Promise<number> {
  let total = 0;
  for (;;) {
    const { runs, storedArtifacts } = await store.purge(before, statuses, PURGE_BATCH);
    total += runs;
    await deleteArtifacts(config, storedArtifacts);
    if (runs < PURGE_BATCH) return total;
  }
}

/**
 * Deletes the bodies of purged runs' stored artifacts, after the purge has
 * committed (the other way round, a failed purge would leave refs to bodies
 * that are gone). A failure leaves bodies behind: reported to onError, the
 * purge goes on.
 */
async function deleteArtifacts(config: ResolvedConfig, ids: string[]): Promise<void> {
  const artifacts = config.artifactStore;
  if (ids.length === 0 || !artifacts?.delete) return;
  try {
    await artifacts.delete(ids);
  } catch (err) {
    config.onError(err, "purged runs' stored artifacts could not be deleted", { artifacts: ids.length });
  }
}

/**
 * Purges runs finished more than `maxAge` ms ago every `interval` ms (default
 * 60 000), skipping a tick while the last pass still runs. Returns the stop.
 */
export function startRetention(store: Store, config: ResolvedConfig, retention: { maxAge: number; interval?: number }): () => void {
  let purging = false;
  const timer = setInterval(() => {
    if (purging) return; // the last pass is still going
    purging = true;
    purgeFinished(store, config, config.clock() - retention.maxAge, FINISHED_RUN_STATUSES)
      .catch((err) => config.onError(err, "retention purge failed: it runs again at the next interval"))
      .finally(() => (purging = false));
  }, retention.interval ?? 60_000);
  timer.unref();
  return () => clearInterval(timer);
}
