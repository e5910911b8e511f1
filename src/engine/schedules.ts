/**
 * The schedules side of the runtime (`rt.schedule`, `unschedule`,
 * `pauseSchedule`, `resumeSchedule`, `listSchedules`, and the `schedules` of
 * `rt.stats()`): arguments checked and turned into store records. Firing is
 * `schedule-firing.ts`'s job.
 */
import { z } from "zod";
import type { ResolvedConfig } from "../config.js";
import { ErrorCodes, WorkflowError } from "../errors.js";
import { checkPayload } from "../limits.js";
import { storedText } from "../names.js";
import type { WorkflowPackage } from "../package.js";
import { validate } from "../schema.js";
import { decode, tryEncode } from "../serialization.js";
import type { ScheduleCatchUp, ScheduleOverlap, ScheduleRecord, ScheduleTickOutcome, Store } from "../store/store.js";
import type { RunStatus } from "../types.js";
import { CronTicks } from "./cron-ticks.js";
import type { PackageRegistry } from "./package-registry.js";
import { parseOrThrow } from "./runtime-arguments.js";

export type { ScheduleCatchUp, ScheduleOverlap, ScheduleTickOutcome } from "../store/store.js";

/** What `rt.schedule` takes; with a package object, `input` is checked against its input type. See docs/schedules.md. */
export interface ScheduleOptions<I = unknown> {
  /** Names the schedule; `rt.schedule` with an existing id updates it. At most 200 characters. */
  id: string;
  /** Five fields (minute first) or six (seconds first), as croner reads them. */
  cron: string;
  /** IANA time zone the expression is read in (default `"UTC"`). */
  timezone?: string;
  /** A registered package (by name, or the package object). */
  package: string | WorkflowPackage<I>;
  /** The input of every run it starts, checked against the package's schema now. */
  input?: NoInfer<I>;
  /** When a tick comes while the previous run is unfinished (default `"allow"`). */
  overlap?: ScheduleOverlap;
  /** Which ticks missed while no process could fire them still fire (default `"latest"`). */
  catchUp?: ScheduleCatchUp;
}

/** A schedule as `rt.listSchedules()` shows it. */
export interface ScheduleInfo {
  /** Names the schedule (`unschedule`, `pauseSchedule` and `resumeSchedule` take it). */
  id: string;
  /** The cron expression as given: five fields (minute first) or six (seconds first). */
  cron: string;
  /** The IANA time zone the expression is read in (`"UTC"` unless one was given). */
  timezone: string;
  /** The name of the package every tick starts a run of. */
  package: string;
  /** The input of every run it starts, decoded. */
  input: unknown;
  /** What a tick does while the previous started run is unfinished (`"allow"` unless one was given). */
  overlap: ScheduleOverlap;
  /** Which missed ticks still fire (`"latest"` unless one was given). */
  catchUp: ScheduleCatchUp;
  /** Whether it is paused (`pauseSchedule`): its ticks are not fired until `resumeSchedule`. */
  paused: boolean;
  /** The next tick to fire (undefined once the expression has none left). Not fired while paused. */
  nextFireAt?: Date;
  /** The last tick handled: started a run, skipped, or failed to start (`error` says why). */
  lastTick?: {
    /** The tick's instant (not when it was handled). */
    at: Date;
    /** What became of it. */
    outcome: ScheduleTickOutcome;
    /** Why its run could not start; set only when `outcome` is `"failed"`. */
    error?: string;
  };
  /** The run the last started tick started, with its status now (undefined once purged). */
  lastRun?: {
    /** The run's id, `schedule:<id>:<tick ISO>` (see `scheduledRunId`). */
    id: string;
    /** Its status when the schedule was read; undefined once the run is purged. */
    status: RunStatus | undefined;
  };
  /** Ticks not fired: skipped by `overlap: "skip"`, or missed ticks catch-up passed over (within its bound). */
  skippedTicks: number;
  /** When the schedule was first created; declaring it again keeps this. */
  createdAt: Date;
  /** Its last change: declared again, paused or resumed, or a tick handled. */
  updatedAt: Date;
}

/** The schedules in `rt.stats()`. */
export interface ScheduleStats {
  /** How many schedules the store has, paused ones included. */
  count: number;
  /** How many of them are paused. */
  paused: number;
  /** The earliest next tick of an unpaused schedule. */
  nextFireAt?: Date;
}

const scheduleSchema = z
  .object({
    id: storedText(1, 200),
    cron: storedText(1, 200),
    timezone: storedText(1, 100).optional(),
    package: z.union([z.string(), z.custom<WorkflowPackage>((v) => typeof v === "object" && v !== null && typeof (v as { name?: unknown }).name === "string")]),
    input: z.unknown().optional(),
    overlap: z.enum(["allow", "skip", "cancel-previous"]).optional(),
    catchUp: z.enum(["none", "latest", "all"]).optional(),
  })
  .strict();

const scheduleIdSchema = storedText(1, 200);

export class Schedules {
  readonly #store: Store;
  readonly #config: ResolvedConfig;
  readonly #packages: PackageRegistry;
  readonly #wake: () => void;

  constructor(store: Store, config: ResolvedConfig, packages: PackageRegistry, wake: () => void) {
    this.#store = store;
    this.#config = config;
    this.#packages = packages;
    this.#wake = wake;
  }

  async put(options: ScheduleOptions<unknown>): Promise<ScheduleInfo> {
    const opts = parseOrThrow(scheduleSchema, options, "schedule");
    const what = `schedule "${opts.id}"`;
    const timezone = opts.timezone ?? "UTC";
    const ticks = await CronTicks.of(opts.cron, timezone, what);
    let pkg: WorkflowPackage;
    try {
      pkg = this.#packages.resolve(opts.package as string | WorkflowPackage<unknown>);
    } catch (err) {
      throw new WorkflowError(ErrorCodes.unknownPackage, `${what}: package: ${(err as Error).message}`, { cause: err, details: { field: "package" } });
    }
    const input = pkg.inputSchema ? await validate(pkg.inputSchema, opts.input, `${what}: input of package "${pkg.name}"`) : opts.input;
    const encoded = tryEncode(input);
    if (!encoded.ok) throw new WorkflowError(ErrorCodes.invalidInput, `${what}: input: cannot be stored: ${encoded.error.message}`, { details: { field: "input" } });
    checkPayload(encoded.text, this.#config.limits.maxPayloadBytes, `the input of ${what}`);
    const now = this.#config.clock();
    const nextFireAt = ticks.after(now);
    if (nextFireAt === undefined) throw new WorkflowError(ErrorCodes.invalidInput, `${what}: cron: ${JSON.stringify(opts.cron)} has no future tick`, { details: { field: "cron" } });
    const stored = await this.#store.putSchedule({
      id: opts.id,
      cron: opts.cron,
      timezone,
      package: pkg.name,
      input: encoded.text,
      overlap: opts.overlap ?? "allow",
      catchUp: opts.catchUp ?? "latest",
      nextFireAt,
      now,
    });
    this.#wake(); // this process's idle loop learns the new due time at its next claim
    return this.#info(stored);
  }

  async remove(id: string): Promise<boolean> {
    return this.#store.deleteSchedule(parseOrThrow(scheduleIdSchema, id, "unschedule id"));
  }

  /** Pauses, or resumes from the first tick after now (ticks that passed while paused are not fired). */
  async setPaused(id: string, paused: boolean): Promise<ScheduleInfo> {
    const valid = parseOrThrow(scheduleIdSchema, id, paused ? "pauseSchedule id" : "resumeSchedule id");
    const now = this.#config.clock();
    let nextFireAt: number | undefined;
    if (!paused) {
      const current = await this.#store.getSchedule(valid);
      if (current) nextFireAt = (await CronTicks.of(current.cron, current.timezone, `schedule "${valid}"`)).after(now);
    }
    const stored = await this.#store.setSchedulePaused(valid, paused, nextFireAt, now);
    if (!stored) throw new WorkflowError(ErrorCodes.notFound, `no schedule "${valid}"`);
    if (!paused) this.#wake();
    return this.#info(stored);
  }

  async list(): Promise<ScheduleInfo[]> {
    return Promise.all((await this.#store.listSchedules()).map((s) => this.#info(s)));
  }

  async stats(): Promise<ScheduleStats> {
    const all = await this.#store.listSchedules();
    const active = all.filter((s) => !s.paused && s.nextFireAt !== undefined).map((s) => s.nextFireAt as number);
    const stats: ScheduleStats = { count: all.length, paused: all.filter((s) => s.paused).length };
    if (active.length) stats.nextFireAt = new Date(Math.min(...active));
    return stats;
  }

  async #info(s: ScheduleRecord): Promise<ScheduleInfo> {
    const info: ScheduleInfo = {
      id: s.id,
      cron: s.cron,
      timezone: s.timezone,
      package: s.package,
      input: decode(s.input),
      overlap: s.overlap,
      catchUp: s.catchUp,
      paused: s.paused,
      skippedTicks: s.skippedTicks,
      createdAt: new Date(s.createdAt),
      updatedAt: new Date(s.updatedAt),
    };
    if (s.nextFireAt !== undefined) info.nextFireAt = new Date(s.nextFireAt);
    if (s.lastTickAt !== undefined && s.lastOutcome !== undefined) {
      info.lastTick = { at: new Date(s.lastTickAt), outcome: s.lastOutcome };
      if (s.lastError !== undefined) info.lastTick.error = s.lastError;
    }
    if (s.lastRunId !== undefined) info.lastRun = { id: s.lastRunId, status: (await this.#store.getRun(s.lastRunId))?.status };
    return info;
  }
}
