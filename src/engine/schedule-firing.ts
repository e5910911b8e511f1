/**
 * Firing due schedules, from the worker cycle that runs anyway (the scheduler
 * calls `fireDue` where it ends due waits; `claim` reports the next tick as
 * due, so an idle loop wakes for it). No timer of its own.
 *
 * Exactly one run per tick, across processes and restarts:
 * - the run id is a function of (schedule, tick), `schedule:<id>:<tick ISO>`,
 *   and `startRun` with an existing id returns that run without writing, so a
 *   tick fired again (after a crash, or by two processes at once) starts
 *   nothing new;
 * - the run starts first, then the schedule's next fire time moves past the
 *   tick by a compare-and-set from the value read (`advanceSchedule`): a crash
 *   in between leaves the tick due, and its next firing finds the run; of two
 *   processes only one advances.
 */
import type { ResolvedConfig } from "../config.js";
import { ErrorCodes, isWorkflowError } from "../errors.js";
import { decode } from "../serialization.js";
import { FINISHED_RUN_STATUSES } from "../store/graph-rules.js";
import type { ScheduleCatchUp, ScheduleRecord, ScheduleTickOutcome, Store } from "../store/store.js";
import type { RunHandle } from "../types.js";
import { CronTicks } from "./cron-ticks.js";
import type { StartRunOptions } from "./run-starts.js";

/** The most missed ticks `catchUp: "all"` fires in one go: the most recent ones; older ones are passed over. */
export const CATCH_UP_LIMIT = 100;
/** The run metadata key under which a scheduled run carries its schedule's id. */
export const SCHEDULE_METADATA_KEY = "trellis.schedule";
/** The run metadata key under which a scheduled run carries its tick, as an ISO string (UTC). */
export const SCHEDULE_TICK_METADATA_KEY = "trellis.scheduleTick";
/** Due schedules read per cycle. */
const DUE_BATCH = 50;

/** The run id of a schedule's tick. */
export const scheduledRunId = (scheduleId: string, tick: number): string => `schedule:${scheduleId}:${new Date(tick).toISOString()}`;

/** Which ticks to fire now, of a schedule whose stored next tick `stored` has come. */
export interface TickPlan {
  fire: number[];
  /** The most recent tick that has come (what the schedule records as handled when it fires none). */
  latest: number;
  /** The first tick after now: the next fire time once these are handled. */
  next: number | undefined;
  /** Missed ticks passed over without firing (counted within the catch-up bound). */
  passed: number;
}

/**
 * The catch-up rule. A tick is missed when a later tick has come before it
 * fired. `none` fires the stored tick only if nothing was missed; `latest`
 * the most recent tick that has come; `all` every tick that has come, at
 * most the `CATCH_UP_LIMIT` most recent.
 */
export function planTicks(ticks: CronTicks, catchUp: ScheduleCatchUp, stored: number, now: number): TickPlan {
  const next = ticks.after(now);
  const following = ticks.after(stored);
  // The usual case, on time: the stored tick is the only one that has come.
  if (following === undefined || following > now) return { fire: [stored], latest: stored, next, passed: 0 };
  const due = ticks.atOrBefore(now, CATCH_UP_LIMIT).filter((t) => t >= stored);
  const latest = due.at(-1) ?? stored;
  if (catchUp === "all") return { fire: due, latest, next, passed: 0 };
  if (catchUp === "latest") return { fire: [latest], latest, next, passed: due.length - 1 };
  return { fire: [], latest, next, passed: due.length };
}

export interface FiringServices {
  store: Store;
  config: ResolvedConfig;
  /** Whether this process can start runs of the package (if not, another process fires the schedule). */
  hasPackage(name: string): boolean;
  start(pkg: string, input: unknown, opts: StartRunOptions): Promise<RunHandle>;
  /** Cancels a run (for `overlap: "cancel-previous"`), aborting its steps running here. */
  cancel(runId: string): Promise<void>;
}

interface TickResult {
  outcome: ScheduleTickOutcome;
  runId?: string;
  error?: string;
}

export class ScheduleFirer {
  readonly #s: FiringServices;

  constructor(services: FiringServices) {
    this.#s = services;
  }

  /** Fires every due schedule whose package this process has; whether it started a run. */
  async fireDue(now: number): Promise<boolean> {
    let started = false;
    for (const schedule of await this.#s.store.dueSchedules(now, DUE_BATCH)) {
      if (!this.#s.hasPackage(schedule.package)) continue;
      try {
        started = (await this.#fire(schedule, now)) || started;
      } catch (err) {
        // The runtime closing meanwhile: the tick stays due for whoever runs next.
        if (isWorkflowError(err) && err.code === ErrorCodes.closed) return started;
        if (isWorkflowError(err) && err.code === ErrorCodes.storeError) throw err;
        // A stored expression this process cannot read (its time zone database lacks the zone): the others go on.
        this.#s.config.onError(err, "a due schedule could not be fired", { schedule: schedule.id });
      }
    }
    return started;
  }

  async #fire(schedule: ScheduleRecord, now: number): Promise<boolean> {
    const { store, config } = this.#s;
    let expected = schedule.nextFireAt as number;
    const ticks = await CronTicks.of(schedule.cron, schedule.timezone, `schedule "${schedule.id}"`);
    const plan = planTicks(ticks, schedule.catchUp, expected, now);
    if (plan.fire.length === 0) {
      await store.advanceSchedule({ id: schedule.id, expected, next: plan.next, tick: plan.latest, outcome: "skipped", skipped: plan.passed, now: config.clock() });
      return false;
    }
    let previous = schedule.lastRunId;
    let started = false;
    for (const [i, tick] of plan.fire.entries()) {
      const next = i + 1 < plan.fire.length ? plan.fire[i + 1] : plan.next;
      const result = await this.#fireTick(schedule, tick, previous);
      const skipped = (i === 0 ? plan.passed : 0) + (result.outcome === "skipped" ? 1 : 0);
      const moved = await store.advanceSchedule({ id: schedule.id, expected, next, tick, ...result, skipped, now: config.clock() });
      started ||= result.outcome === "started";
      // Another process moved it (or it was changed): what is left is theirs.
      if (!moved || next === undefined) break;
      expected = next;
      previous = result.runId ?? previous;
    }
    return started;
  }

  /** Starts the tick's run, unless the overlap policy skips it. */
  async #fireTick(schedule: ScheduleRecord, tick: number, previous: string | undefined): Promise<TickResult> {
    const { store, config } = this.#s;
    const runId = scheduledRunId(schedule.id, tick);
    // Fired before (a crash before the advance, or a race): the run stands, whatever the previous one does now.
    if (await store.getRun(runId)) return { outcome: "started", runId };
    if (schedule.overlap !== "allow" && previous !== undefined) {
      const run = await store.getRun(previous);
      if (run && !(FINISHED_RUN_STATUSES as readonly string[]).includes(run.status)) {
        if (schedule.overlap === "skip") return { outcome: "skipped" };
        await this.#s.cancel(previous).catch((err: unknown) => {
          // It finished (or was purged) meanwhile: nothing to cancel.
          if (!isWorkflowError(err) || (err.code !== ErrorCodes.invalidState && err.code !== ErrorCodes.notFound)) throw err;
        });
      }
    }
    const at = new Date(tick).toISOString();
    try {
      const metadata = { [SCHEDULE_METADATA_KEY]: schedule.id, [SCHEDULE_TICK_METADATA_KEY]: at };
      const handle = await this.#s.start(schedule.package, decode(schedule.input), { runId, metadata });
      return { outcome: "started", runId: handle.id };
    } catch (err) {
      // The store or the runtime failing is not the tick's fault: it stays due.
      if (isWorkflowError(err) && (err.code === ErrorCodes.storeError || err.code === ErrorCodes.closed)) throw err;
      config.onError(err, "a scheduled run could not start: the tick is recorded as failed", { schedule: schedule.id, tick: at });
      return { outcome: "failed", error: (err as Error)?.message ?? String(err) };
    }
  }
}
