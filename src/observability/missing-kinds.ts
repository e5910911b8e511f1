/**
 * Ready steps that wait for a kind no executor of this process runs: during a
 * rolling deploy, the steps of old runs whose executors the new code dropped
 * (or new kinds the old code lacks). Workers here never claim them
 * (`ClaimRequest.kinds`); this tells an operator they are there, through
 * `rt.stats().missingKinds` and a warning logged at most once a minute while
 * workers run and some are waiting, never once per claim.
 */
import type { ClaimableKinds } from "../engine/claimable-kinds.js";
import type { Store } from "../store/store.js";
import type { EngineLogger } from "./logger.js";

/** How often running workers look, and so at most how often they warn. */
export const MISSING_KINDS_WARN_INTERVAL = 60_000;

export class MissingKinds {
  readonly #store: Store;
  readonly #kinds: ClaimableKinds;
  readonly #interval: number;
  #last: { at: number; counts: Promise<Record<string, number>> } | undefined;

  /** `interval`: the least time between two reads of the store (the runtime's `statsInterval`). */
  constructor(store: Store, kinds: ClaimableKinds, interval: number) {
    this.#store = store;
    this.#kinds = kinds;
    this.#interval = interval;
  }

  /**
   * Ready steps per kind this process has no executor for, across every
   * process sharing the store; the store is read at most once per interval
   * (the kinds this process has are applied at each call).
   */
  async read(): Promise<Record<string, number>> {
    const monotonic = performance.now();
    if (!this.#last || monotonic - this.#last.at >= this.#interval) {
      const entry = {
        at: monotonic,
        counts: this.#store.countReadyKinds().then((rows) => {
          const byKind = Object.create(null) as Record<string, number>; // kinds are user data: no prototype keys
          for (const { kind, ready } of rows) byKind[kind] = ready;
          return byKind;
        }),
      };
      this.#last = entry;
      // A failed read is not kept: the next call tries again.
      entry.counts.catch(() => {
        if (this.#last === entry) this.#last = undefined;
      });
    }
    const missing = Object.create(null) as Record<string, number>;
    for (const [kind, ready] of Object.entries(await this.#last.counts)) if (!this.#kinds.has(kind)) missing[kind] = ready;
    return missing;
  }

  /** Looks now and then every `MISSING_KINDS_WARN_INTERVAL` ms, warning when steps wait; returns the stop function. */
  watch(log: EngineLogger, onError: (err: unknown, message: string) => void): () => void {
    let stopped = false;
    const check = () => {
      this.read().then(
        (missing) => {
          const kinds = Object.keys(missing);
          if (stopped || kinds.length === 0) return;
          log.warn(
            { missingKinds: missing, steps: kinds.reduce((n, k) => n + (missing[k] ?? 0), 0) },
            `steps wait for kinds no executor in this process runs (${kinds.join(", ")}): workers here leave them for a process that has them`,
          );
        },
        (err) => onError(err, "could not count the ready steps per kind: looking again in a minute"),
      );
    };
    check();
    const timer = setInterval(check, MISSING_KINDS_WARN_INTERVAL);
    timer.unref();
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }
}
