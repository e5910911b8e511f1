/**
 * What `rt.stats()` returns: the same counts the metrics carry, as data.
 */
import type { QueueStepCounts } from "./queue-counts.js";
import type { ProcessCounts } from "./worker-telemetry.js";

export type { QueueStepCounts } from "./queue-counts.js";
export type { ProcessCounts } from "./worker-telemetry.js";

/** See `Runtime.stats`. */
export interface RuntimeStats {
  /** Per queue, the steps ready, running and waiting across every process (queues with none left out). */
  queues: Record<string, QueueStepCounts>;
  /** When `queues` was read from the store (at most `statsInterval` ago). */
  at: Date;
  /** This process's step counts since the runtime opened. */
  process: ProcessCounts;
}
