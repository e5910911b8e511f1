/**
 * Runtime configuration: its shape, its defaults, and its validation (zod), so a
 * mistake is reported at `newRuntime` naming the field, not at the first step.
 */
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import { z } from "zod";
import type { ArtifactStore } from "./artifacts/artifact-store.js";
import { ErrorCodes, WorkflowError } from "./errors.js";
import { DEFAULT_MAX_PAYLOAD_BYTES } from "./limits.js";
import { defaultLogger, EngineLogger, errorFields, type LogFields, type Logger } from "./observability/logger.js";
import type { ProjectionStore } from "./projections/projection-store.js";
import type { QueuePolicy, StoreConfig } from "./store/store.js";

/** The limits of one queue (`RuntimeConfig.queues`), shared by every process on the store. */
export interface QueueConfig {
  /** Steps of this queue running at once across every process sharing the store. */
  maxWorkers?: number;
  /** A token bucket shared by every process: `burst` starts at once, then `ratePerSecond`. */
  rateLimit?: {
    /** Tokens added per second; each step started takes one. */
    ratePerSecond: number;
    /** The bucket's size: how many steps may start at once after a quiet period. */
    burst: number;
  };
}

/** What `newRuntime` takes; only `store` is required. */
export interface RuntimeConfig {
  /** Required: `sqliteStore(...)`, `postgresStore(...)` or a third-party adapter. */
  store: StoreConfig;
  /** Where `step.storeArtifact()` puts bytes. */
  artifactStore?: ArtifactStore;
  /** What `step.projection(name)` and `rt.projection(name)` resolve. */
  projectionStore?: ProjectionStore;
  /** Default `${hostname}:${pid}:${random}`. */
  workerId?: string;
  /** Reclaims of one step before it fails with `lease_expired` (default 5). */
  maxReclaims?: number;
  /**
   * While workers run, purge runs finished more than `maxAge` ms ago, every
   * `interval` ms (default 60 000). See `Runtime.purge`.
   */
  retention?: {
    /** ms: runs that finished longer ago than this are purged. */
    maxAge: number;
    /** ms between two purges (default 60 000). */
    interval?: number;
  };
  /** Steps executing at once in this process (default 4). */
  maxWorkers?: number;
  /** ms between idle cycles when no wake-up arrives (default 250). */
  pollInterval?: number;
  /** ms a claimed step stays owned without a heartbeat (default 30 000). */
  leaseDuration?: number;
  /**
   * Limits per queue name. A queue not listed runs one step at a time across
   * every process, except `"default"`, which has no queue limit.
   */
  queues?: Record<string, QueueConfig>;
  /** Size limits of stored values (see `payload_too_large`). */
  limits?: {
    /** Bytes: the largest encoded value (an input, a result, records, an inline artifact, a signal payload) a write may carry (default 4 MiB). */
    maxPayloadBytes?: number;
  };
  /**
   * The time the engine reads, for tests that drive it (default the real one):
   * an epoch-ms function, or a {@link Clock} whose timers the engine also uses
   * for attempt timeouts. `trellis/testing`'s fake clock is one.
   */
  clock?: (() => number) | Clock;
  /**
   * Called with each error the worker loop survived (a store failure, a hook
   * that threw). Without a `logger`, it replaces the default console line for
   * them; with one, both get them.
   */
  onError?: (error: unknown) => void;
  /**
   * Where trellis logs its lifecycle (open, workers, reclaims, lease losses,
   * store errors, slow claims, and each step at `debug`): pino, a winston
   * adapter, `console`, or anything with `debug`/`info`/`warn`/`error`. Default:
   * `warn` and `error` to the console, nothing below. See docs/observability.md.
   */
  logger?: Logger;
  /**
   * OpenTelemetry spans and metrics through `@opentelemetry/api`, when it is
   * installed (an optional peer dependency, loaded only then). Default true;
   * false keeps the API from being loaded at all. See docs/observability.md.
   */
  telemetry?: boolean;
  /** ms between two reads of the per-queue step counts behind the metric gauges (default 5 000). */
  statsInterval?: number;
}

/**
 * A clock the engine reads and sets its in-process timers on. Durable times
 * (timers, retry backoffs, leases, signal timeouts) are stored as epoch ms and
 * compared with `now()`; the one wait that lives in memory, an attempt's
 * `timeout`, is set with `setTimeout`, so a fake clock can fire it too.
 */
export interface Clock {
  /** Epoch ms. */
  now(): number;
  /** Calls `fn` once `ms` of this clock's time have passed; returns a function that cancels it. */
  setTimeout(fn: () => void, ms: number): () => void;
}

/** The real clock: `Date.now` and the process's timers. */
export const systemClock: Clock = {
  now: Date.now,
  setTimeout(fn, ms) {
    const timer = setTimeout(fn, ms);
    return () => clearTimeout(timer);
  },
};

const isClock = (v: unknown): v is Clock => typeof (v as Clock | null)?.now === "function" && typeof (v as Clock).setTimeout === "function";

const positive = z.number().finite().positive();
const nonNegativeInt = z.number().int().min(0);

const queueSchema = z
  .object({
    maxWorkers: z.number().int().min(1).optional(),
    rateLimit: z.object({ ratePerSecond: positive, burst: z.number().int().min(1) }).strict().optional(),
  })
  .strict();

const configSchema = z
  .object({
    store: z.custom<StoreConfig>((v) => typeof (v as StoreConfig | null)?.open === "function", {
      message: "must be a store config such as sqliteStore(path)",
    }),
    artifactStore: z
      .custom<ArtifactStore>((v) => typeof (v as ArtifactStore | null)?.put === "function" && typeof (v as ArtifactStore).open === "function", {
        message: "must have put() and open()",
      })
      .optional(),
    projectionStore: z
      .custom<ProjectionStore>((v) => typeof (v as ProjectionStore | null)?.projection === "function", { message: "must have projection()" })
      .optional(),
    workerId: z.string().min(1).optional(),
    maxReclaims: nonNegativeInt.default(5),
    retention: z.object({ maxAge: positive, interval: positive.optional() }).strict().optional(),
    maxWorkers: z.number().int().min(1).default(4),
    pollInterval: positive.default(250),
    leaseDuration: z.number().finite().min(50).default(30_000),
    queues: z.record(z.string(), queueSchema).default({}),
    limits: z
      .object({ maxPayloadBytes: z.number().int().min(1024).max(1024 * 1024 * 1024).default(DEFAULT_MAX_PAYLOAD_BYTES) })
      .strict()
      .default({ maxPayloadBytes: DEFAULT_MAX_PAYLOAD_BYTES }),
    clock: z
      .custom<(() => number) | Clock>((v) => typeof v === "function" || isClock(v), { message: "must be a function or have now() and setTimeout()" })
      .optional(),
    onError: z.custom<(e: unknown) => void>((v) => typeof v === "function", { message: "must be a function" }).optional(),
    logger: z
      .custom<Logger>((v) => ["debug", "info", "warn", "error"].every((level) => typeof (v as Record<string, unknown> | null)?.[level] === "function"), {
        message: "must have debug, info, warn and error methods",
      })
      .optional(),
    telemetry: z.boolean().default(true),
    statsInterval: z.number().finite().min(100).default(5_000),
  })
  .strict();

/**
 * Reports an error the engine survived: to the logger at `error` (with the
 * message and fields given) and to `onError`. Never throws.
 */
export type ErrorReporter = (error: unknown, message?: string, fields?: LogFields) => void;

/**
 * The config with every default filled in, as `newRuntime` hands it to the
 * runtime. Written out (not inferred from the schema) so that no public type
 * depends on zod; `fromSchema` below keeps the two in step.
 */
export interface ResolvedConfig {
  store: StoreConfig;
  artifactStore?: ArtifactStore | undefined;
  projectionStore?: ProjectionStore | undefined;
  workerId: string;
  maxReclaims: number;
  retention?: { maxAge: number; interval?: number | undefined } | undefined;
  maxWorkers: number;
  pollInterval: number;
  leaseDuration: number;
  queues: Record<string, QueueConfig>;
  limits: { maxPayloadBytes: number };
  telemetry: boolean;
  statsInterval: number;
  clock: () => number;
  /** Sets an in-process timer on the configured clock (see {@link Clock.setTimeout}). */
  setTimer: Clock["setTimeout"];
  onError: ErrorReporter;
  /** The engine's logger: the configured one or the default, wrapped so that it never throws. */
  log: EngineLogger;
}

/** A compile-time check: what the schema outputs fits `ResolvedConfig` (the defaults aside). */
const fromSchema = (parsed: z.output<typeof configSchema>): Omit<ResolvedConfig, "workerId" | "clock" | "setTimer" | "onError" | "log"> => parsed;
void fromSchema;

export function resolveConfig(config: RuntimeConfig): ResolvedConfig {
  const parsed = configSchema.safeParse(config);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.length ? issue.path.join(".") : "config";
    throw new WorkflowError(ErrorCodes.invalidConfig, `invalid runtime config: ${field}: ${issue?.message}`, {
      details: parsed.error.issues,
    });
  }
  const { logger, onError, clock, ...rest } = parsed.data;
  const timers = clock === undefined || typeof clock === "function" ? systemClock : clock;
  const now = clock === undefined ? Date.now : typeof clock === "function" ? clock : () => clock.now();
  const workerId = rest.workerId ?? `${hostname()}:${process.pid}:${randomBytes(4).toString("hex")}`;
  const log = new EngineLogger(logger ?? defaultLogger, logger !== undefined).child({ workerId });
  return { ...rest, workerId, clock: now, setTimer: (fn, ms) => timers.setTimeout(fn, ms), log, onError: errorReporter(log, logger !== undefined, onError) };
}

/**
 * An `onError` alone (no logger) keeps its old meaning: it alone hears of the
 * errors survived, so they are not also printed by the default logger.
 */
function errorReporter(log: EngineLogger, hasLogger: boolean, onError: ((e: unknown) => void) | undefined): ErrorReporter {
  const hook = onError && neverThrows(onError);
  return (error, message = "trellis survived an error", fields = {}) => {
    if (hasLogger || !hook) log.error({ ...fields, ...errorFields(error) }, message);
    hook?.(error);
  };
}

/**
 * The error hook is called from the worker loop's last lines of defence: one
 * that throws (or rejects) must not turn a reported error into a crash.
 */
function neverThrows(onError: (e: unknown) => void): (e: unknown) => void {
  return (e) => {
    try {
      const returned: unknown = onError(e);
      if (returned instanceof Promise) returned.catch(() => undefined);
    } catch {
      // Nowhere left to report it.
    }
  };
}

/**
 * The limits of a queue. An unconfigured queue runs one step at a time, like
 * the Go package; `"default"` is unlimited (up to each process's maxWorkers).
 * A configured queue without `maxWorkers` has no concurrency limit.
 */
export function queuePolicy(queues: Record<string, QueueConfig>, queue: string): QueuePolicy {
  const config = queues[queue];
  if (!config) return { maxWorkers: queue === "default" ? Infinity : 1 };
  const policy: QueuePolicy = { maxWorkers: config.maxWorkers ?? Infinity };
  if (config.rateLimit) policy.rateLimit = { ...config.rateLimit };
  return policy;
}
