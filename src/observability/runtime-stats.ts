/**
 * What `rt.stats()` returns: the same counts the metrics carry, as data.
 */
import type { QueueStepCounts } from "./queue-counts.js";
import type { ProcessCounts } from "./worker-telemetry.js";
import type { ScheduleStats } from "../engine/schedules.js";

export type { QueueStepCounts } from "./queue-counts.js";
export type { ProcessCounts } from "./worker-telemetry.js";
export type { ScheduleStats } from "../engine/schedules.js";

/** See `Runtime.stats`. */
export interface RuntimeStats {
  /** Per queue, the steps ready, running and waiting across every process (queues with none left out). */
  queues: Record<string, QueueStepCounts>;
  /** When `queues` was read from the store (at most `statsInterval` ago). */
  at: Date;
  /**
   * Ready steps, across every process, of kinds no executor of this process
   * runs, by kind: workers here leave them for a process that has the kind
   * (an old version's executor during a rolling deploy). Empty when none wait.
   */
  missingKinds: Record<string, number>;
  /** This process's step counts since the runtime opened. */
  process: ProcessCounts;
  /** The schedules in the store: how many, how many paused, and the next tick of the others (read at each call). */
  schedules: ScheduleStats;
}
