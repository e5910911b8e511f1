/**
 * Retry policies: defaults, validation and the delay before the next attempt.
 * The defaults are the Go package's: one attempt (no retry), exponential backoff
 * from one second doubling, no cap, no jitter.
 */
import { z } from "zod";

/** How a step's failed attempts are retried; every field is optional (see the defaults). */
export interface RetryPolicy {
  /** Every attempt counts, the first included (default 1: no retry). */
  maxAttempts?: number;
  /** How the delay grows: `fixed` (`initialBackoff` each time), `linear` (× the failures so far) or `exponential` (× `multiplier` each time; the default). */
  backoff?: "fixed" | "linear" | "exponential";
  /** ms before the second attempt (default 1000). */
  initialBackoff?: number;
  /** ms cap on any delay (default: none). */
  maxBackoff?: number;
  /** Growth factor of exponential backoff (default 2). */
  multiplier?: number;
  /** Spread each delay randomly over [delay/2, delay] (default false). */
  jitter?: boolean;
}

/** A policy with every default filled in, as stored with the step. */
export interface ResolvedRetryPolicy {
  /** Every attempt counts, the first included. */
  maxAttempts: number;
  /** How the delay grows (see `RetryPolicy.backoff`). */
  backoff: "fixed" | "linear" | "exponential";
  /** ms before the second attempt. */
  initialBackoff: number;
  /** ms cap on any delay; absent: none. */
  maxBackoff?: number;
  /** Growth factor of exponential backoff. */
  multiplier: number;
  /** Whether each delay is spread randomly over [delay/2, delay]. */
  jitter: boolean;
}

export const retryPolicySchema = z
  .object({
    maxAttempts: z.number().int().min(1).optional(),
    backoff: z.enum(["fixed", "linear", "exponential"]).optional(),
    initialBackoff: z.number().min(0).optional(),
    maxBackoff: z.number().min(0).optional(),
    multiplier: z.number().positive().optional(),
    jitter: z.boolean().optional(),
  })
  .strict();

const DEFAULT_POLICY: ResolvedRetryPolicy = Object.freeze({ maxAttempts: 1, backoff: "exponential", initialBackoff: 1000, multiplier: 2, jitter: false });

export function resolveRetryPolicy(policy: RetryPolicy | undefined): ResolvedRetryPolicy {
  if (policy === undefined) return DEFAULT_POLICY; // shared: most steps never set one
  const resolved: ResolvedRetryPolicy = {
    maxAttempts: policy?.maxAttempts ?? 1,
    backoff: policy?.backoff ?? "exponential",
    initialBackoff: policy?.initialBackoff ?? 1000,
    multiplier: policy?.multiplier ?? 2,
    jitter: policy?.jitter ?? false,
  };
  if (policy?.maxBackoff !== undefined) resolved.maxBackoff = policy.maxBackoff;
  return resolved;
}

/**
 * Milliseconds to wait before attempt `failedAttempts + 1`, after `failedAttempts`
 * (>= 1) attempts have failed. `random` is injectable so jitter can be tested.
 */
export function backoffDelay(policy: ResolvedRetryPolicy, failedAttempts: number, random: () => number = Math.random): number {
  const n = Math.max(1, failedAttempts);
  let delay: number;
  switch (policy.backoff) {
    case "fixed":
      delay = policy.initialBackoff;
      break;
    case "linear":
      delay = policy.initialBackoff * n;
      break;
    case "exponential":
      delay = policy.initialBackoff * policy.multiplier ** (n - 1);
      break;
  }
  if (policy.maxBackoff !== undefined) delay = Math.min(delay, policy.maxBackoff);
  if (policy.jitter) delay = delay / 2 + (random() * delay) / 2;
  return Math.round(delay);
}
