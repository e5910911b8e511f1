/**
 * The per-queue step counts read from the store (`Store.countSteps`), at most
 * once per `statsInterval`: the gauges of every metric collection and every
 * `rt.stats()` call in between share one read, so a scrape every second, or a
 * health check hammering the runtime, costs the store one query per interval.
 */
import type { Store } from "../store/store.js";

/** The steps of one queue across every process sharing the store. */
export interface QueueStepCounts {
  /** Ready to run, also those due later (a retry's backoff) or of a paused run. */
  ready: number;
  /** Leased to a worker, in this process or another. */
  running: number;
  /** Built-in waits parked (sleep, signal, child run). */
  waiting: number;
}

/** One read of the counts: by queue name (queues with no such step left out), and when it was made. */
export interface QueueCounts {
  queues: Record<string, QueueStepCounts>;
  at: Date;
}

/**
 * Reads the per-queue counts at most once per interval. The interval is
 * measured on the monotonic clock: it bounds the load on the store, which a
 * test's frozen or jumping `clock` must not suspend; `at` is the runtime's clock.
 */
export class QueueCountsSampler {
  readonly #store: Store;
  readonly #interval: number;
  readonly #clock: () => number;
  #last: { at: number; counts: Promise<QueueCounts> } | undefined;

  constructor(store: Store, interval: number, clock: () => number) {
    this.#store = store;
    this.#interval = interval;
    this.#clock = clock;
  }

  /** The counts, read now unless a read less than the interval old exists (or is under way). */
  read(): Promise<QueueCounts> {
    const monotonic = performance.now();
    if (this.#last && monotonic - this.#last.at < this.#interval) return this.#last.counts;
    const now = this.#clock();
    const counts = this.#store.countSteps().then((rows) => {
      const queues = Object.create(null) as Record<string, QueueStepCounts>; // queue names are user data: no prototype keys
      for (const { queue, ready, running, waiting } of rows) queues[queue] = { ready, running, waiting };
      return { queues, at: new Date(now) };
    });
    const entry = { at: monotonic, counts };
    this.#last = entry;
    // A failed read is not kept: the next call tries again.
    counts.catch(() => {
      if (this.#last === entry) this.#last = undefined;
    });
    return counts;
  }
}
