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
import type { ProjectionStore } from "./projections/projection-store.js";
import type { QueuePolicy, StoreConfig } from "./store/store.js";

export interface QueueConfig {
  /** Steps of this queue running at once across every process sharing the store. */
  maxWorkers?: number;
  /** A token bucket shared by every process: `burst` starts at once, then `ratePerSecond`. */
  rateLimit?: { ratePerSecond: number; burst: number };
}

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
  retention?: { maxAge: number; interval?: number };
  /** Steps executing at once in this process (default 4). */
  maxWorkers?: number;
  /** ms between idle cycles when no wake-up arrives (default 250). */
  pollInterval?: number;
  /** ms a claimed step stays owned without a heartbeat (default 30 000). */
  leaseDuration?: number;
  queues?: Record<string, QueueConfig>;
  /** Size limits of stored values (see `payload_too_large`). */
  limits?: { maxPayloadBytes?: number };
  /** Epoch-ms clock, for tests that drive time (default `Date.now`). */
  clock?: () => number;
  /** Where the worker loop reports store failures it survived (default `console.error`). */
  onError?: (error: unknown) => void;
}

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
    clock: z.custom<() => number>((v) => typeof v === "function", { message: "must be a function" }).optional(),
    onError: z.custom<(e: unknown) => void>((v) => typeof v === "function", { message: "must be a function" }).optional(),
  })
  .strict();

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
  clock: () => number;
  onError: (error: unknown) => void;
}

/** A compile-time check: what the schema outputs fits `ResolvedConfig` (the defaults aside). */
const fromSchema = (parsed: z.output<typeof configSchema>): Omit<ResolvedConfig, "workerId" | "clock" | "onError"> => parsed;
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
  return {
    ...parsed.data,
    workerId: parsed.data.workerId ?? `${hostname()}:${process.pid}:${randomBytes(4).toString("hex")}`,
    clock: parsed.data.clock ?? Date.now,
    onError: neverThrows(parsed.data.onError ?? ((e) => console.error("[trellis]", e))),
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
