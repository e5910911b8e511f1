/**
 * Purging finished runs: `rt.purge` and the retention pass that workers run
 * beside them (`RuntimeConfig.retention`). Deletes in short batches, then the
 * bodies of purged artifacts kept in the artifact store.
 */
import type { ResolvedConfig } from "../config.js";
import { FINISHED_RUN_STATUSES } from "../store/graph-rules.js";
import type { Store } from "../store/store.js";
import type { RunStatus } from "../types.js";

/** Runs a purge deletes per transaction: short transactions, so workers are not held up. */
const PURGE_BATCH = 500;

export class Purger {
  readonly #store: Store;
  readonly #config: ResolvedConfig;

  constructor(store: Store, config: ResolvedConfig) {
    this.#store = store;
    this.#config = config;
  }

  /** Deletes every run with a status in `statuses` finished before `before` (epoch ms); returns how many. */
  async purge(before: number, statuses: readonly RunStatus[]): Promise<number> {
    let total = 0;
    for (;;) {
      const { runs, storedArtifacts } = await this.#store.purge(before, statuses, PURGE_BATCH);
      total += runs;
      await this.#deleteArtifacts(storedArtifacts);
      if (runs < PURGE_BATCH) return total;
    }
  }

  /**
   * Runs the retention pass every `retention.interval` until `workers` settles
   * (nothing without a `retention` config); returns what `workers` returns.
   */
  alongside(workers: Promise<void>): Promise<void> {
    const retention = this.#config.retention;
    if (!retention) return workers;
    let purging = false;
    const timer = setInterval(() => {
      if (purging) return; // the last pass is still going
      purging = true;
      this.purge(this.#config.clock() - retention.maxAge, FINISHED_RUN_STATUSES)
        .catch((err) => this.#config.onError(err))
        .finally(() => (purging = false));
    }, retention.interval ?? 60_000);
    timer.unref();
    return workers.finally(() => clearInterval(timer));
  }

  /**
   * Deletes the bodies of purged runs' stored artifacts, after the purge has
   * committed (the other way round, a failed purge would leave refs to bodies
   * that are gone). A failure leaves bodies behind: reported to onError, the
   * purge goes on.
   */
  async #deleteArtifacts(ids: string[]): Promise<void> {
    const store = this.#config.artifactStore;
    if (ids.length === 0 || !store?.delete) return;
    try {
      await store.delete(ids);
    } catch (err) {
      this.#config.onError(err);
    }
  }
}
